// Minimal CSV (RFC 4180 quoting, one record per line) for score files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace oodflow::io {

/// Quotes a field when it holds a comma, quote or newline.
std::string csv_field(std::string_view text);
/// Splits one line into fields; returns false on an unterminated quote.
bool split_csv_line(std::string_view line, std::vector<std::string>* fields);
/// Shortest text that reads back to the same double ("nan", "inf", "-inf" for non-finite).
std::string format_score(double value);

}  // namespace oodflow::io
