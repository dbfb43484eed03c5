// List files of images: one image path per line, optionally with an integer label after the
// last comma ("path,label") or blank ("path label", OpenOOD's image lists), on every line or
// on none; '#' comments, blank lines and a UTF-8 byte-order mark are ignored. The parser works on
// text, so it can be fuzzed and tested without files; the extract module turns the entries into an
// image source.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace oodflow::io {

struct ImageList {
  std::vector<std::string> paths;    ///< as written (relative ones are resolved by the caller)
  std::vector<std::int64_t> labels;  ///< one per path, or empty when the list has none
};

/// Reads every entry; throws Error naming `source` and the line on a NUL byte, an empty path,
/// a negative label, lines mixing labelled and unlabelled entries, or a list with no entry.
ImageList parse_image_list(std::istream& in, const std::string& source);

}  // namespace oodflow::io
