#include "oodflow/io/image_list.h"

#include <stdexcept>

#include "oodflow/core/error.h"

namespace oodflow::io {
namespace {

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

bool parse_label(const std::string& text, std::int64_t* label) {
  if (text.empty()) return false;
  std::size_t used = 0;
  try {
    *label = std::stoll(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == text.size();
}

// "path,label" (oodflow's lists, spreadsheets) or "path label" (OpenOOD's image lists:
// the label after the last blank); anything else is a path without a label, so that file
// names with commas or blanks stay whole.
bool split_label(const std::string& line, std::string* file, std::int64_t* label) {
  const auto cut = line.find_last_of(", \t");
  if (cut == std::string::npos || cut == 0) return false;
  if (!parse_label(line.substr(cut + 1), label)) return false;
  *file = trim(line.substr(0, cut));
  if (!file->empty() && file->back() == ',') *file = trim(file->substr(0, file->size() - 1));
  return true;
}

}  // namespace

ImageList parse_image_list(std::istream& in, const std::string& source) {
  ImageList list;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (number == 1 && line.compare(0, 3, "\xef\xbb\xbf") == 0) line.erase(0, 3);  // UTF-8 BOM
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    OODFLOW_CHECK(line.find('\0') == std::string::npos,
                  "'" << source << "' line " << number << " holds a NUL byte; is it a list file?");
    std::string file = line;
    std::int64_t label = 0;
    const bool labelled = split_label(line, &file, &label);
    OODFLOW_CHECK(list.paths.empty() || labelled == !list.labels.empty(),
                  "'" << source << "' line " << number << ": "
                      << (labelled ? "has a label but earlier lines have none"
                                   : "has no label but earlier lines have one")
                      << "; give 'path,label' or 'path label' on every line or on none");
    OODFLOW_CHECK(!labelled || label >= 0,
                  "'" << source << "' line " << number << ": label " << label << " is negative");
    OODFLOW_CHECK(!file.empty(), "'" << source << "' line " << number << ": empty path");
    list.paths.push_back(file);
    if (labelled) list.labels.push_back(label);
  }
  OODFLOW_CHECK(!in.bad(), "cannot read list file '" << source << "'");
  OODFLOW_CHECK(!list.paths.empty(), "list file '" << source << "' names no images");
  return list;
}

}  // namespace oodflow::io
