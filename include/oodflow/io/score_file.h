// Score vectors from other tools, for `oodflow metrics`: a .npy vector ([N] or [N, 1], any real
// dtype) or a CSV/text column as spreadsheets write them (see csv.h: byte-order marks, UTF-16,
// quoting, ',' ';' or tab delimiters, decimal commas with ';' and tab). CSV files with a header
// choose the column by name; a `set` column (as written by `oodflow score --scores`) selects the
// rows of one set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace oodflow::io {

struct ScoreFileQuery {
  /// Column to read from a CSV with a header; a single-column file needs none.
  std::string column = "score";
  /// When non-empty and the CSV has a `set` column, only rows of this set are read.
  std::string set;
};

/// The scores read from one file.
struct ScoreColumn {
  std::vector<double> scores;
  /// True when the file has a `set` column and only the rows of `query.set` were read; false
  /// when every row was (so two queries on the same file read the same rows).
  bool set_selected = false;
};

/// Reads one score per sample; NaN/inf are kept (metrics count them), an empty cell or a
/// spreadsheet error value (#DIV/0!) is an error. Throws Error naming the file, line and column.
ScoreColumn read_score_column(const std::string& path, const ScoreFileQuery& query);
/// The same from bytes in memory (a .npy vector, or CSV/text); `path` names them in errors.
ScoreColumn parse_score_column(const std::uint8_t* data, std::size_t size, const std::string& path,
                               const ScoreFileQuery& query);

/// read_score_column(...).scores.
std::vector<double> read_scores(const std::string& path, const ScoreFileQuery& query);
/// parse_score_column(...).scores.
std::vector<double> parse_scores(const std::uint8_t* data, std::size_t size,
                                 const std::string& path, const ScoreFileQuery& query);
/// The CSV/text reader alone.
std::vector<double> parse_csv_scores(std::istream& in, const std::string& path,
                                     const ScoreFileQuery& query);

}  // namespace oodflow::io
