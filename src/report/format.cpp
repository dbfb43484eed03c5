#include "format.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "oodflow/core/error.h"

namespace oodflow::report::detail {

std::string percent(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * v);
  return buf;
}

std::string exact_number(double v) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

Output::Output(const std::string& destination) {
  if (destination != "-") file_.emplace(destination);
}

void Output::write(const std::string& text) {
  if (file_) {
    file_->write(text);
  } else {
    OODFLOW_CHECK(std::fwrite(text.data(), 1, text.size(), stdout) == text.size(),
                  "cannot write the report to stdout");
  }
}

void Output::commit() {
  if (file_) {
    file_->commit();
  } else {
    OODFLOW_CHECK(std::fflush(stdout) == 0, "cannot write the report to stdout");
  }
}

}  // namespace oodflow::report::detail
