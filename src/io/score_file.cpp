#include "oodflow/io/score_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "oodflow/core/error.h"
#include "oodflow/io/csv.h"
#include "oodflow/io/npy.h"

namespace oodflow::io {
namespace {

bool parse_double(const std::string& text, double* value) {
  if (text.empty()) return false;
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);  // accepts nan, inf, -inf
  while (*end == ' ' || *end == '\t') ++end;
  return *end == '\0';
}

std::vector<double> npy_scores(const TensorView& a, const std::string& path) {
  OODFLOW_CHECK(a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1),
                "'" << path << "' holds an array of " << a.shape.size()
                    << " dimensions; scores must be a vector [N] or [N, 1]");
  OODFLOW_CHECK(a.shape[0] > 0, "'" << path << "' holds no scores (empty set)");
  std::vector<double> scores(static_cast<std::size_t>(a.shape[0]));
  convert_to_double(a.dtype, a.data, scores.size(), scores.data());
  return scores;
}

}  // namespace

std::vector<double> parse_csv_scores(std::istream& in, const std::string& path,
                                     const ScoreFileQuery& query) {
  std::string line;
  std::vector<std::string> fields;
  std::vector<double> scores;
  long column = -1;
  long set_column = -1;
  long line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    OODFLOW_CHECK(split_csv_line(line, &fields),
                  "'" << path << "' line " << line_no << ": unterminated quote");
    double value = 0;
    if (column < 0) {
      // First record: a header unless it is a lone number.
      if (fields.size() == 1 && parse_double(fields[0], &value)) {
        column = 0;
      } else {
        for (std::size_t i = 0; i < fields.size(); ++i) {
          if (fields[i] == query.column) column = static_cast<long>(i);
          if (fields[i] == "set") set_column = static_cast<long>(i);
        }
        if (column < 0 && fields.size() == 1) column = 0;
        OODFLOW_CHECK(column >= 0, "'" << path << "' has no column '" << query.column
                                       << "' (header: " << line << "); choose one with --column");
        continue;
      }
    }
    OODFLOW_CHECK(static_cast<long>(fields.size()) > std::max(column, set_column),
                  "'" << path << "' line " << line_no << " has " << fields.size() << " fields");
    if (set_column >= 0 && !query.set.empty() && fields[set_column] != query.set) continue;
    OODFLOW_CHECK(parse_double(fields[column], &value), "'" << path << "' line " << line_no << ": '"
                                                            << fields[column]
                                                            << "' is not a number");
    scores.push_back(value);
  }
  OODFLOW_CHECK(!in.bad(), "cannot read '" << path << "': " << std::strerror(errno));
  if (set_column >= 0 && !query.set.empty()) {
    OODFLOW_CHECK(!scores.empty(), "'" << path << "' has no rows of set '" << query.set << "'");
  }
  OODFLOW_CHECK(!scores.empty(), "'" << path << "' holds no scores (empty set)");
  return scores;
}

std::vector<double> parse_scores(const std::uint8_t* data, std::size_t size,
                                 const std::string& path, const ScoreFileQuery& query) {
  if (is_npy(data, size)) return npy_scores(parse_npy(data, size, path), path);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  return parse_csv_scores(in, path, query);
}

std::vector<double> read_scores(const std::string& path, const ScoreFileQuery& query) {
  std::ifstream probe(path, std::ios::binary);
  OODFLOW_CHECK(probe.good(), "cannot open '" << path << "': " << std::strerror(errno));
  char magic[6] = {};
  probe.read(magic, sizeof magic);
  if (is_npy(magic, static_cast<std::size_t>(probe.gcount()))) {
    const NpyFile file(path);
    return npy_scores(file.array(), path);
  }
  probe.clear();
  probe.seekg(0);
  return parse_csv_scores(probe, path, query);
}

}  // namespace oodflow::io
