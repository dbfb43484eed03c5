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

}  // namespace

ImageList parse_image_list(std::istream& in, const std::string& source) {
  ImageList list;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    OODFLOW_CHECK(line.find('\0') == std::string::npos,
                  "'" << source << "' line " << number << " holds a NUL byte; is it a list file?");
    std::string file = line;
    std::int64_t label = 0;
    const auto comma = line.rfind(',');
    const bool labelled =
        comma != std::string::npos && parse_label(trim(line.substr(comma + 1)), &label);
    if (labelled) file = trim(line.substr(0, comma));
    OODFLOW_CHECK(list.paths.empty() || labelled == !list.labels.empty(),
                  "'" << source << "' line " << number << ": "
                      << (labelled ? "has a label but earlier lines have none"
                                   : "has no label but earlier lines have one")
                      << "; give 'path,label' on every line or on none");
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
