// Progress of long work: a redrawn bar on a terminal, periodic log lines otherwise (batch
// jobs, CI logs), nothing when quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace oodflow {

enum class ProgressMode { kAuto, kBar, kLog, kNone };

class Progress {
 public:
  /// `total` units of work named `unit` ("steps", "samples"); kAuto picks a bar when stderr
  /// is a terminal and log lines every `log_interval_seconds` otherwise.
  Progress(std::string label, std::int64_t total, std::string unit,
           ProgressMode mode = ProgressMode::kAuto, double log_interval_seconds = 10.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// `done` units so far; `status` is appended ("loss 12.3  5400 samples/s").
  void update(std::int64_t done, const std::string& status);
  /// Final line.
  void finish(const std::string& status);

  /// Global default mode (set by --quiet and friends in the CLI).
  static void set_default_mode(ProgressMode mode);

 private:
  std::string line(std::int64_t done, const std::string& status) const;

  std::string label_;
  std::int64_t total_;
  std::string unit_;
  ProgressMode mode_;
  double log_interval_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
  bool finished_ = false;
};

/// "1:23" or "45 s".
std::string format_duration(double seconds);

}  // namespace oodflow
