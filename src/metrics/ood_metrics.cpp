#include "oodflow/metrics/ood_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "oodflow/core/error.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::metrics {
namespace {

// One distinct score value with how many ID and OOD samples hold it.
struct TieGroup {
  double score;
  std::int64_t n_id;
  std::int64_t n_ood;
};

double rank_key(double s) {
  // NaN ranks with -inf: both mean "as OOD as it gets".
  return std::isnan(s) ? -std::numeric_limits<double>::infinity() : s;
}

// Distinct scores in descending order with their class counts.
std::vector<TieGroup> tie_groups_descending(const std::vector<double>& id,
                                            const std::vector<double>& ood) {
  std::vector<std::pair<double, bool>> all;
  all.reserve(id.size() + ood.size());
  for (double s : id) all.emplace_back(rank_key(s), true);
  for (double s : ood) all.emplace_back(rank_key(s), false);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<TieGroup> groups;
  for (const auto& [score, is_id] : all) {
    if (groups.empty() || groups.back().score != score) groups.push_back({score, 0, 0});
    (is_id ? groups.back().n_id : groups.back().n_ood) += 1;
  }
  return groups;
}

// Step-wise average precision over groups visited from most to least "positive".
template <typename It, typename Positives, typename Negatives>
double average_precision(It begin, It end, std::int64_t n_positive, Positives pos, Negatives neg) {
  double ap = 0;
  std::int64_t tp = 0;
  std::int64_t fp = 0;
  for (It g = begin; g != end; ++g) {
    tp += pos(*g);
    fp += neg(*g);
    if (pos(*g) > 0) {
      ap += static_cast<double>(pos(*g)) / static_cast<double>(n_positive) *
            (static_cast<double>(tp) / static_cast<double>(tp + fp));
    }
  }
  // A sum of n_positive shares can round a hair above 1 (1.0000000000000007 measured);
  // average precision is at most 1.
  return std::min(ap, 1.0);
}

}  // namespace

NonFiniteCounts count_nonfinite(const std::vector<double>& scores) {
  NonFiniteCounts c;
  for (double s : scores) {
    if (std::isnan(s)) {
      ++c.nan;
    } else if (std::isinf(s)) {
      ++(s > 0 ? c.pos_inf : c.neg_inf);
    }
  }
  return c;
}

OodMetrics compute_ood_metrics(const std::vector<double>& id_scores,
                               const std::vector<double>& ood_scores) {
  OODFLOW_CHECK(!id_scores.empty(), "no ID scores: AUROC and FPR@95TPR need at least one");
  OODFLOW_CHECK(!ood_scores.empty(), "no OOD scores: AUROC and FPR@95TPR need at least one");
  OodMetrics m;
  m.n_id = static_cast<std::int64_t>(id_scores.size());
  m.n_ood = static_cast<std::int64_t>(ood_scores.size());
  m.id_nonfinite = count_nonfinite(id_scores);
  m.ood_nonfinite = count_nonfinite(ood_scores);

  const std::vector<TieGroup> groups = tie_groups_descending(id_scores, ood_scores);

  // AUROC: count (ID, OOD) pairs ordered correctly, ties as one half, in integers (exact):
  // twice the U statistic stays below 2^63 for up to ~2 billion samples per side.
  std::int64_t ood_above = 0;
  std::int64_t twice_u = 0;
  bool threshold_found = false;
  std::int64_t id_seen = 0;
  for (const TieGroup& g : groups) {
    const std::int64_t ood_below = m.n_ood - ood_above - g.n_ood;
    twice_u += g.n_id * (2 * ood_below + g.n_ood);
    ood_above += g.n_ood;
    id_seen += g.n_id;
    // TPR(t) = id_seen / n_id at t = g.score.
    if (!threshold_found && reaches_tpr(id_seen, m.n_id, kTprLevel)) {
      threshold_found = true;
      m.threshold95 = g.score;
      m.fpr95 = static_cast<double>(ood_above) / static_cast<double>(m.n_ood);
    }
  }
  m.auroc = static_cast<double>(twice_u) /
            (2.0 * static_cast<double>(m.n_id) * static_cast<double>(m.n_ood));

  m.aupr_in = average_precision(
      groups.begin(), groups.end(), m.n_id, [](const TieGroup& g) { return g.n_id; },
      [](const TieGroup& g) { return g.n_ood; });
  m.aupr_out = average_precision(
      groups.rbegin(), groups.rend(), m.n_ood, [](const TieGroup& g) { return g.n_ood; },
      [](const TieGroup& g) { return g.n_id; });
  return m;
}

std::vector<RocPoint> roc_curve(const std::vector<double>& id_scores,
                                const std::vector<double>& ood_scores) {
  OODFLOW_CHECK(!id_scores.empty() && !ood_scores.empty(), "a ROC curve needs ID and OOD scores");
  const auto n_id = static_cast<double>(id_scores.size());
  const auto n_ood = static_cast<double>(ood_scores.size());
  std::vector<RocPoint> curve = {{0, 0}};
  std::int64_t id_seen = 0;
  std::int64_t ood_seen = 0;
  for (const TieGroup& g : tie_groups_descending(id_scores, ood_scores)) {
    id_seen += g.n_id;
    ood_seen += g.n_ood;
    curve.push_back({static_cast<double>(ood_seen) / n_ood, static_cast<double>(id_seen) / n_id});
  }
  return curve;
}

}  // namespace oodflow::metrics
