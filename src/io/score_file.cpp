#include "oodflow/io/score_file.h"

#include <stdlib.h>  // strtod_l

#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>

#include "oodflow/core/error.h"
#include "oodflow/io/csv.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/npy.h"
#include "text.h"

namespace oodflow::io {
namespace {

using detail::quoted_text;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool equals_lower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != lower[i] && text[i] != lower[i] - 'a' + 'A') return false;
  }
  return true;
}

// A number as Python's float() reads a cell (sign, digits, one decimal point, exponent;
// inf/infinity/nan in any case), with ',' as the decimal point too when the delimiter is not
// ','. Hex floats, thousands separators and NA words are not numbers.
bool parse_number(std::string_view cell, bool decimal_comma, double* value) {
  std::string text(trim(cell));
  std::size_t i = text.empty() || (text[0] != '+' && text[0] != '-') ? 0 : 1;
  const std::string_view body = std::string_view(text).substr(i);
  if (equals_lower(body, "inf") || equals_lower(body, "infinity") || equals_lower(body, "nan")) {
    *value = equals_lower(body, "nan") ? NAN : INFINITY;
    if (text[0] == '-') *value = -*value;
    return true;
  }
  std::size_t digits = 0;
  bool point = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (!point && (c == '.' || (c == ',' && decimal_comma))) {
      point = true;
      text[i] = '.';
    } else {
      break;
    }
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    const std::size_t exponent_start = j;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == exponent_start) return false;
    i = j;
  }
  if (i != text.size()) return false;
  // The C locale's decimal point whatever the process locale is; overflow gives +-inf and
  // underflow 0, as Python's float() does.
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
  *value = strtod_l(text.c_str(), nullptr, c_locale);
  return true;
}

// Where the wanted values are in each record.
struct CsvLayout {
  std::size_t fields = 1;
  std::size_t column = 0;
  long set_column = -1;
  std::string column_name;  // empty without a header
};

// The layout from the first record: a header, unless it is a lone number (a headerless column).
bool read_header(const CsvRecord& first, bool decimal_comma, const std::string& path,
                 const ScoreFileQuery& query, CsvLayout* layout) {
  double value = 0;
  layout->fields = first.fields.size();
  if (first.fields.size() == 1 && parse_number(first.fields[0], decimal_comma, &value)) {
    return false;
  }
  long column = -1;
  std::string names;
  for (std::size_t i = 0; i < first.fields.size(); ++i) {
    const std::string_view name = trim(first.fields[i]);
    if (names.size() < 200) names += (i > 0 ? ", " : "") + quoted_text(name);
    for (auto [wanted, index] : {std::pair<std::string_view, long*>{query.column, &column},
                                 std::pair<std::string_view, long*>{"set", &layout->set_column}}) {
      if (name != wanted) continue;
      OODFLOW_CHECK(*index < 0, "'" << path << "' has two columns named " << quoted_text(wanted)
                                    << " (" << *index + 1 << " and " << i + 1 << ")");
      *index = static_cast<long>(i);
    }
  }
  if (column < 0 && first.fields.size() == 1) column = 0;
  OODFLOW_CHECK(column >= 0, "'" << path << "' has no column " << quoted_text(query.column)
                                 << " (header: " << names << "); choose one with --column");
  layout->column = static_cast<std::size_t>(column);
  layout->column_name = std::string(trim(first.fields[layout->column]));
  return true;
}

double read_score_cell(const CsvRecord& record, const CsvLayout& layout, bool decimal_comma,
                       const std::string& path) {
  const std::string_view cell = trim(record.fields[layout.column]);
  std::ostringstream where;
  where << "'" << path << "' line " << record.line << ", column " << layout.column + 1;
  if (!layout.column_name.empty()) where << " (" << quoted_text(layout.column_name) << ")";
  OODFLOW_CHECK(!cell.empty(), where.str() << ": empty cell; every row needs a score");
  OODFLOW_CHECK(cell[0] != '#', where.str() << ": " << quoted_text(cell)
                                            << " is a spreadsheet error value, not a score");
  double value = 0;
  OODFLOW_CHECK(parse_number(cell, decimal_comma, &value),
                where.str() << ": " << quoted_text(cell) << " is not a number");
  return value;
}

bool is_blank(const CsvRecord& record) {
  for (const auto& field : record.fields) {
    if (!trim(field).empty()) return false;
  }
  return true;
}

ScoreColumn parse_csv_column(std::string_view bytes, const std::string& path,
                             const ScoreFileQuery& query) {
  const std::string text = decode_text(bytes, path);
  const char delimiter = detect_delimiter(text, query.column);
  const bool decimal_comma = delimiter != ',';
  CsvReader reader(text, delimiter, path);
  CsvRecord record;
  CsvLayout layout;
  bool have_layout = false;
  ScoreColumn out;
  while (reader.next(&record)) {
    if (is_blank(record)) continue;  // a spreadsheet's empty row, as ",,"
    if (!have_layout) {
      have_layout = true;
      if (read_header(record, decimal_comma, path, query, &layout)) continue;
    }
    OODFLOW_CHECK(record.fields.size() == layout.fields,
                  "'" << path << "' line " << record.line << " has " << record.fields.size()
                      << " fields but the header has " << layout.fields
                      << " (an unquoted delimiter inside a value?)");
    const bool select = layout.set_column >= 0 && !query.set.empty();
    if (select && trim(record.fields[layout.set_column]) != query.set) continue;
    out.scores.push_back(read_score_cell(record, layout, decimal_comma, path));
  }
  out.set_selected = layout.set_column >= 0 && !query.set.empty();
  if (out.set_selected) {
    OODFLOW_CHECK(!out.scores.empty(),
                  "'" << path << "' has no rows of set " << quoted_text(query.set));
  }
  OODFLOW_CHECK(!out.scores.empty(), "'" << path << "' holds no scores (empty set)");
  return out;
}

ScoreColumn npy_scores(const TensorView& a, const std::string& path) {
  OODFLOW_CHECK(a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1),
                "'" << path << "' holds an array of " << a.shape.size()
                    << " dimensions; scores must be a vector [N] or [N, 1]");
  OODFLOW_CHECK(a.shape[0] > 0, "'" << path << "' holds no scores (empty set)");
  ScoreColumn out;
  out.scores.resize(static_cast<std::size_t>(a.shape[0]));
  convert_to_double(a.dtype, a.data, out.scores.size(), out.scores.data());
  return out;
}

}  // namespace

ScoreColumn parse_score_column(const std::uint8_t* data, std::size_t size, const std::string& path,
                               const ScoreFileQuery& query) {
  if (is_npy(data, size)) return npy_scores(parse_npy(data, size, path).view, path);
  return parse_csv_column(std::string_view(reinterpret_cast<const char*>(data), size), path, query);
}

ScoreColumn read_score_column(const std::string& path, const ScoreFileQuery& query) {
  std::ifstream in(path, std::ios::binary);
  OODFLOW_CHECK(in.good(), "cannot open '" << path << "': " << std::strerror(errno));
  char magic[64] = {};
  in.read(magic, sizeof magic);
  const auto got = static_cast<std::size_t>(in.gcount());
  check_kind_matches_name(path, reinterpret_cast<const std::uint8_t*>(magic), got);
  refuse_archive(path, reinterpret_cast<const std::uint8_t*>(magic), got);
  if (is_npy(magic, got)) {
    const NpyFile file(path);
    return npy_scores(file.array(), path);
  }
  in.clear();
  in.seekg(0);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  OODFLOW_CHECK(!in.bad(), "cannot read '" << path << "': " << std::strerror(errno));
  return parse_csv_column(bytes, path, query);
}

std::vector<double> read_scores(const std::string& path, const ScoreFileQuery& query) {
  return read_score_column(path, query).scores;
}

std::vector<double> parse_scores(const std::uint8_t* data, std::size_t size,
                                 const std::string& path, const ScoreFileQuery& query) {
  return parse_score_column(data, size, path, query).scores;
}

std::vector<double> parse_csv_scores(std::istream& in, const std::string& path,
                                     const ScoreFileQuery& query) {
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  OODFLOW_CHECK(!in.bad(), "cannot read '" << path << "': " << std::strerror(errno));
  return parse_csv_column(bytes, path, query).scores;
}

}  // namespace oodflow::io
