// Text helpers shared by the readers in io/ (internal): strict UTF-8 checks, and quoting of
// bytes read from a file for one-line error messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace oodflow::io::detail {

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
/// U+10FFFF, as Python's and Rust's decoders require); counts its code points.
bool is_utf8(std::string_view text, std::size_t* code_points = nullptr);

/// Appends code point `cp` (up to U+10FFFF, surrogates included) to `out` as UTF-8.
void append_utf8(char32_t cp, std::string* out);

/// `text` in single quotes for an error message: control characters escaped (the message stays
/// one line) and long text cut to `max` bytes with "...".
std::string quoted_text(std::string_view text, std::size_t max = 60);

}  // namespace oodflow::io::detail
