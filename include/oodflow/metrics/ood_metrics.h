// OOD detection metrics on score vectors (docs/metrics.md). Conventions: ID
// is the positive class, higher score = more in-distribution, a sample is accepted as ID when score
// >= t. NaN and -inf rank lowest (most OOD), +inf highest; they are counted, never dropped.
// Everything is exact on ties and costs one sort: O((n_id + n_ood) log(n_id + n_ood)).
#pragma once

#include <cstdint>
#include <vector>

namespace oodflow::metrics {

/// How many scores of a vector are not finite.
struct NonFiniteCounts {
  std::int64_t nan = 0;
  std::int64_t pos_inf = 0;
  std::int64_t neg_inf = 0;
  std::int64_t total() const { return nan + pos_inf + neg_inf; }
};

NonFiniteCounts count_nonfinite(const std::vector<double>& scores);

struct OodMetrics {
  /// P(score_id > score_ood) + 0.5 P(tie): the Mann-Whitney U statistic, never flipped.
  double auroc = 0;
  /// Smallest FPR over thresholds t with TPR(t) >= 0.95 (ID positive).
  double fpr95 = 0;
  /// The threshold t achieving fpr95 (may be -inf when the ID scores include NaN/-inf).
  double threshold95 = 0;
  /// Average precision with ID positive (scikit-learn's step-wise definition).
  double aupr_in = 0;
  /// Average precision with OOD positive and scores negated.
  double aupr_out = 0;
  std::int64_t n_id = 0;
  std::int64_t n_ood = 0;
  NonFiniteCounts id_nonfinite;
  NonFiniteCounts ood_nonfinite;
};

/// All metrics of one ID/OOD pair; throws Error when either vector is empty.
OodMetrics compute_ood_metrics(const std::vector<double>& id_scores,
                               const std::vector<double>& ood_scores);

/// One point of a ROC curve: the shares of OOD and ID samples accepted at one threshold.
struct RocPoint {
  double fpr = 0;
  double tpr = 0;
};

/// The ROC curve with ID positive: (0, 0), then one point per distinct score t (accepting
/// score >= t) in descending order, ending at (1, 1). Ties move both coordinates at once, so
/// the trapezoidal area under it is exactly the AUROC above.
std::vector<RocPoint> roc_curve(const std::vector<double>& id_scores,
                                const std::vector<double>& ood_scores);

/// The TPR level of fpr95, as a fraction.
inline constexpr double kTprLevel = 0.95;

}  // namespace oodflow::metrics
