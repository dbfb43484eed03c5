// Thresholds that turn a score into a detector, chosen on in-distribution data only: the
// largest threshold t that accepts (score >= t) at least a given share of ID samples. The
// same rule as FPR@95TPR's threshold95 (docs/metrics.md), here applied to
// held-out ID training samples, so that a deployed detector has a threshold before any test or OOD
// data exists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oodflow::metrics {

/// True when `accepted` of `total` samples is a share >= `tpr`. Exact for every integer
/// count: a share is compared with the tolerance of the product's rounding, never with a
/// rounded ratio (0.95 * 20 must give 19).
bool reaches_tpr(std::int64_t accepted, std::int64_t total, double tpr);

struct TprThreshold {
  double tpr = 0;             ///< the share asked for
  double threshold = 0;       ///< largest t with share(score >= t) >= tpr; -inf when only
                              ///< non-finite scores reach it
  std::int64_t accepted = 0;  ///< samples with score >= threshold (ties included; NaN never)
  std::int64_t count = 0;     ///< samples
};

/// The threshold of `scores` for `tpr` in (0, 1]. NaN and -inf rank lowest. Throws Error
/// when `scores` is empty.
TprThreshold threshold_at_tpr(const std::vector<double>& scores, double tpr);

/// The shares stored in every model file.
inline const std::vector<double> kCalibrationTprs = {0.90, 0.95, 0.99};

/// Scores of held-out ID training samples, which fix a model's thresholds.
struct Calibration {
  double fraction = 0;             ///< share of the ID training samples held out
  std::uint64_t seed = 0;          ///< seed of the split (core/sampling.h)
  std::vector<std::int64_t> rows;  ///< held-out rows of the training feature file
  std::vector<double> scores;      ///< their scores, in the same order

  TprThreshold at(double tpr) const { return threshold_at_tpr(scores, tpr); }
};

}  // namespace oodflow::metrics
