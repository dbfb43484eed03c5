// Helpers shared by the report writers (not installed).
#pragma once

#include <optional>
#include <string>

#include "oodflow/core/atomic_file.h"

namespace oodflow::report::detail {

/// 100 v with two decimals ("12.34"), or "-" when v is not finite.
std::string percent(double v);

/// The shortest text that reads back to the same double (as the scores CSV writes it).
std::string exact_number(double v);

/// Writes chunks to a file atomically, or to stdout for "-".
class Output {
 public:
  explicit Output(const std::string& destination);
  void write(const std::string& text);
  /// Makes the file appear (or flushes stdout); throws Error on a failed write.
  void commit();

 private:
  std::optional<AtomicFile> file_;  // empty: stdout
};

}  // namespace oodflow::report::detail
