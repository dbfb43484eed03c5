// Score vectors from other tools, for `oodflow metrics`: a .npy vector ([N] or [N, 1]) or a
// CSV/text column. CSV files with a header choose the column by name; a `set` column (as
// written by `oodflow score --scores`) selects the rows of one set.
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

/// Reads one score per sample; NaN/inf are kept (metrics count them). Throws Error naming
/// the file, line and problem.
std::vector<double> read_scores(const std::string& path, const ScoreFileQuery& query);

/// The same from bytes in memory (a .npy vector, or CSV/text); `path` names them in errors.
std::vector<double> parse_scores(const std::uint8_t* data, std::size_t size,
                                 const std::string& path, const ScoreFileQuery& query);
/// The CSV/text reader alone.
std::vector<double> parse_csv_scores(std::istream& in, const std::string& path,
                                     const ScoreFileQuery& query);

}  // namespace oodflow::io
