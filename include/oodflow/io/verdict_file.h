// The output of `oodflow detect`: one verdict per sample, as CSV (index,source,score,verdict)
// or JSON Lines, written as the samples come, to a file (atomically: complete or absent) or
// to stdout (for pipes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace oodflow {
class AtomicFile;
}

namespace oodflow::io {

enum class VerdictFormat { kCsv, kJsonLines };

/// "csv" or "jsonl"; throws Error naming --format otherwise.
VerdictFormat parse_verdict_format(const std::string& name);
const std::vector<std::string>& verdict_format_names();

class VerdictWriter {
 public:
  /// `path` empty or "-" = stdout.
  VerdictWriter(const std::string& path, VerdictFormat format);
  ~VerdictWriter();
  VerdictWriter(const VerdictWriter&) = delete;
  VerdictWriter& operator=(const VerdictWriter&) = delete;

  /// A scored sample: "in" when accepted, else "out".
  void scored(std::int64_t index, const std::string& source, double score, bool accepted);
  /// A sample without a score: `verdict` says why ("unreadable": an image that cannot be
  /// decoded; "invalid": a non-finite feature), `reason` in the JSON Lines output.
  void unscored(std::int64_t index, const std::string& source, const std::string& verdict,
                const std::string& reason);
  /// Flushes; a file is renamed into place only now.
  void finish();

 private:
  void flush();
  VerdictFormat format_;
  std::unique_ptr<AtomicFile> file_;  // null = stdout
  std::string buffer_;
};

}  // namespace oodflow::io
