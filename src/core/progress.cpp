#include "oodflow/core/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

namespace oodflow {
namespace {

ProgressMode g_default_mode = ProgressMode::kAuto;
constexpr int kBarWidth = 24;
constexpr double kRedrawSeconds = 0.1;

}  // namespace

void Progress::set_default_mode(ProgressMode mode) {
  g_default_mode = mode;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%ld s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  }
  return buf;
}

Progress::Progress(std::string label, std::int64_t total, std::string unit, ProgressMode mode,
                   double log_interval_seconds)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      mode_(mode == ProgressMode::kAuto ? g_default_mode : mode),
      log_interval_(log_interval_seconds),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = ::isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLog;
  }
}

Progress::~Progress() {
  if (drawn_ && !finished_ && mode_ == ProgressMode::kBar) std::fputc('\n', stderr);
}

std::string Progress::line(std::int64_t done, const std::string& status) const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1;
  const double eta = done > 0 ? elapsed * (1 - fraction) / fraction : -1;
  std::string out = label_ + " ";
  if (mode_ == ProgressMode::kBar) {
    const int filled = static_cast<int>(fraction * kBarWidth);
    out += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, ' ') + "] ";
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%3.0f%% %lld/%lld %s", 100 * fraction,
                static_cast<long long>(done), static_cast<long long>(total_), unit_.c_str());
  out += buf;
  if (!status.empty()) out += "  " + status;
  out += "  elapsed " + format_duration(elapsed);
  if (done < total_) out += "  ETA " + format_duration(eta);
  return out;
}

void Progress::update(std::int64_t done, const std::string& status) {
  if (mode_ == ProgressMode::kNone) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (mode_ == ProgressMode::kBar) {
    if (drawn_ && since < kRedrawSeconds) return;
    std::fprintf(stderr, "\r%s\033[K", line(done, status).c_str());
    std::fflush(stderr);
  } else {
    if (since < log_interval_) return;
    spdlog::info("{}", line(done, status));
  }
  drawn_ = true;
  last_draw_ = now;
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  if (mode_ == ProgressMode::kNone) return;
  if (mode_ == ProgressMode::kBar) {
    std::fprintf(stderr, "\r%s\033[K\n", line(total_, status).c_str());
    std::fflush(stderr);
  } else {
    spdlog::info("{}", line(total_, status));
  }
}

}  // namespace oodflow
