#include "oodflow/metrics/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "oodflow/core/error.h"

namespace oodflow::metrics {

bool reaches_tpr(std::int64_t accepted, std::int64_t total, double tpr) {
  const double need = tpr * static_cast<double>(total);
  // tpr * total carries at most a few ulps of error; a share a user asks for (a decimal with a
  // handful of digits) is never that close to a count without being equal to it.
  return static_cast<double>(accepted) >= need - 1e-9 * std::max(1.0, need);
}

TprThreshold threshold_at_tpr(const std::vector<double>& scores, double tpr) {
  OODFLOW_CHECK(!scores.empty(), "no scores to choose a threshold from");
  OODFLOW_CHECK(tpr > 0 && tpr <= 1, "a TPR must be in (0, 1], got " << tpr);
  std::vector<double> sorted(scores);
  for (double& s : sorted) {
    if (std::isnan(s)) s = -std::numeric_limits<double>::infinity();
  }
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  TprThreshold t;
  t.tpr = tpr;
  t.count = static_cast<std::int64_t>(sorted.size());
  // The k-th largest score for the smallest k that reaches the share.
  std::int64_t k = 1;
  while (!reaches_tpr(k, t.count, tpr)) ++k;
  t.threshold = sorted[static_cast<std::size_t>(k - 1)];
  for (double s : scores) t.accepted += !std::isnan(s) && s >= t.threshold;
  return t;
}

}  // namespace oodflow::metrics
