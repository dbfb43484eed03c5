#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "oodflow/core/error.h"
#include "oodflow/metrics/ood_metrics.h"
#include "test_util.h"

namespace oodflow::metrics {
namespace {

// ------------------------------------------------------------------------------------------
// Oracle 1: values scikit-learn computes (tests/data/metric_cases.json).
TEST(OodMetrics, ReproducesScikitLearnFixtures) {
  std::ifstream in(test::data_path("metric_cases.json"));
  ASSERT_TRUE(in.good());
  const auto fixture = nlohmann::json::parse(in);
  ASSERT_GE(fixture["cases"].size(), 9u);
  for (const auto& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const OodMetrics m = compute_ood_metrics(c["id_scores"].get<std::vector<double>>(),
                                             c["ood_scores"].get<std::vector<double>>());
    EXPECT_NEAR(m.auroc, c["auroc"].get<double>(), 1e-9);
    EXPECT_NEAR(m.fpr95, c["fpr95"].get<double>(), 1e-9);
    EXPECT_NEAR(m.threshold95, c["threshold95"].get<double>(), 1e-9);
    EXPECT_NEAR(m.aupr_in, c["aupr_in"].get<double>(), 1e-9);
    EXPECT_NEAR(m.aupr_out, c["aupr_out"].get<double>(), 1e-9);
  }
}

// ------------------------------------------------------------------------------------------
// Oracle 2: definitions evaluated by brute force, O(n^2), on random data with many ties.
double brute_auroc(const std::vector<double>& id, const std::vector<double>& ood) {
  double wins = 0;
  for (double a : id) {
    for (double b : ood) wins += a > b ? 1.0 : (a == b ? 0.5 : 0.0);
  }
  return wins / (static_cast<double>(id.size()) * static_cast<double>(ood.size()));
}

// How many scores a threshold t accepts (score >= t).
double accepted(const std::vector<double>& scores, double t) {
  return static_cast<double>(
      std::count_if(scores.begin(), scores.end(), [t](double s) { return s >= t; }));
}

// Every candidate threshold from the data, the definition taken literally.
std::pair<double, double> brute_fpr95(const std::vector<double>& id,
                                      const std::vector<double>& ood) {
  double best_fpr = 2;
  double best_t = 0;
  std::vector<double> thresholds = id;
  thresholds.insert(thresholds.end(), ood.begin(), ood.end());
  for (double t : thresholds) {
    const double tpr = accepted(id, t) / id.size();
    const double fpr = accepted(ood, t) / ood.size();
    if (tpr >= 0.95 && (fpr < best_fpr || (fpr == best_fpr && t > best_t))) {
      best_fpr = fpr;
      best_t = t;
    }
  }
  return {best_fpr, best_t};
}

// Average precision: sum over distinct thresholds of (R_k - R_{k-1}) P_k.
double brute_ap(const std::vector<double>& pos, const std::vector<double>& neg) {
  std::vector<double> thresholds = pos;
  thresholds.insert(thresholds.end(), neg.begin(), neg.end());
  std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  double ap = 0;
  double prev_recall = 0;
  for (double t : thresholds) {
    const double tp = accepted(pos, t);
    const double fp = accepted(neg, t);
    const double recall = tp / pos.size();
    ap += (recall - prev_recall) * (tp / (tp + fp));
    prev_recall = recall;
  }
  return ap;
}

TEST(OodMetrics, MatchesBruteForceWithTies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::uniform_int_distribution<int> size(1, 60);
    std::uniform_int_distribution<int> value(0, 9);  // few distinct values: many ties
    std::vector<double> id(size(rng));
    std::vector<double> ood(size(rng));
    for (auto& v : id) v = value(rng) * 0.5 + 1;
    for (auto& v : ood) v = value(rng) * 0.5;
    const OodMetrics m = compute_ood_metrics(id, ood);
    EXPECT_NEAR(m.auroc, brute_auroc(id, ood), 1e-12);
    const auto [fpr, t] = brute_fpr95(id, ood);
    EXPECT_NEAR(m.fpr95, fpr, 1e-12);
    EXPECT_EQ(m.threshold95, t);
    EXPECT_NEAR(m.aupr_in, brute_ap(id, ood), 1e-12);
    std::vector<double> neg_id;
    std::vector<double> neg_ood;
    for (double v : id) neg_id.push_back(-v);
    for (double v : ood) neg_ood.push_back(-v);
    EXPECT_NEAR(m.aupr_out, brute_ap(neg_ood, neg_id), 1e-12);
  }
}

TEST(OodMetrics, NeverFlipsDirection) {
  const OodMetrics m = compute_ood_metrics({0, 1}, {2, 3});
  EXPECT_EQ(m.auroc, 0.0);
}

TEST(OodMetrics, NonFiniteScoresRankAndAreCounted) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // NaN and -inf rank lowest (tied with each other), +inf highest.
  const std::vector<double> id = {inf, 1, 2};
  const std::vector<double> ood = {nan, -inf, 0};
  const OodMetrics m = compute_ood_metrics(id, ood);
  EXPECT_EQ(m.auroc, 1.0);
  EXPECT_EQ(m.id_nonfinite.pos_inf, 1);
  EXPECT_EQ(m.ood_nonfinite.nan, 1);
  EXPECT_EQ(m.ood_nonfinite.neg_inf, 1);
  EXPECT_EQ(m.ood_nonfinite.total(), 2);
  // A NaN ID score ties with a -inf OOD score: half a win.
  const OodMetrics tie = compute_ood_metrics({nan}, {-inf});
  EXPECT_EQ(tie.auroc, 0.5);
  EXPECT_TRUE(std::isinf(tie.threshold95) && tie.threshold95 < 0);
}

TEST(OodMetrics, EmptySetsAreErrors) {
  EXPECT_THROW(compute_ood_metrics({}, {1.0}), Error);
  EXPECT_THROW(compute_ood_metrics({1.0}, {}), Error);
}

TEST(OodMetrics, LinearithmicOnLargeInputs) {
  // 2 x 10^6 scores: a quadratic or threshold-grid implementation would not finish; this is
  // a correctness check at scale (AUROC of two shifted uniform ranges is known exactly).
  const int n = 1000000;
  std::vector<double> id(n);
  std::vector<double> ood(n);
  for (int i = 0; i < n; ++i) {
    id[i] = i + n / 2;  // id in [n/2, 3n/2), ood in [0, n): overlap of n/2 values
    ood[i] = i;
  }
  const OodMetrics m = compute_ood_metrics(id, ood);
  // Lost pairs: for id = v in the overlap, the n-1-v larger OOD values plus half a tie,
  // summing to (n/2)^2 / 2.
  const double overlap = n / 2.0;
  const double expected = 1.0 - (overlap * overlap / 2.0) / (1.0 * n * n);
  EXPECT_NEAR(m.auroc, expected, 1e-12);
}

}  // namespace
}  // namespace oodflow::metrics
