// Errors in oodflow: the library throws oodflow::Error for anything a user can cause (a bad
// file, a bad option, data that cannot be processed); only the command-line front end catches
// it, prints the one-line message and exits non-zero. Broken internal invariants assert.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace oodflow {

/// A user-facing failure; what() is a complete one-line message naming the file or option.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// An invalid option value or combination: the command line is wrong (exit code 2).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Runs `check` and rethrows any Error it throws as a UsageError: for validate() functions,
/// whose helpers (parsers of option values) also serve non-option input.
template <typename Fn>
void as_usage_error(Fn&& check) {
  try {
    check();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

namespace detail {
[[noreturn]] void throw_error(const std::string& message);
}  // namespace detail

}  // namespace oodflow

/// Throws oodflow::Error with a streamed message when `cond` is false:
///   OODFLOW_CHECK(n > 0, "'" << path << "' holds no samples");
#define OODFLOW_CHECK(cond, msg)                                   \
  do {                                                             \
    if (!(cond)) {                                                 \
      std::ostringstream oodflow_check_stream_;                    \
      oodflow_check_stream_ << msg;                                \
      ::oodflow::detail::throw_error(oodflow_check_stream_.str()); \
    }                                                              \
  } while (0)

/// Throws oodflow::Error with a streamed message unconditionally.
#define OODFLOW_FAIL(msg) OODFLOW_CHECK(false, msg)
