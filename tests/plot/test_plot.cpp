// The report's plots: ROC curves and histograms against brute-force counts, tick choice, and
// the SVG writer (the HTML page is tested with the other report writers, tests/report/).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "oodflow/metrics/ood_metrics.h"
#include "oodflow/plot/charts.h"
#include "oodflow/plot/svg.h"
#include "test_util.h"

namespace oodflow::plot {
namespace {

TEST(RocCurve, EqualsBruteForceCountsAndItsAreaIsTheAuroc) {
  const std::vector<double> id = test::rounded_normals(300, 1.0, 1);
  const std::vector<double> ood = test::rounded_normals(200, 0.0, 2);
  std::set<double, std::greater<>> thresholds(id.begin(), id.end());
  thresholds.insert(ood.begin(), ood.end());
  const auto curve = metrics::roc_curve(id, ood);
  ASSERT_EQ(curve.size(), thresholds.size() + 1);
  EXPECT_EQ(curve.front().fpr, 0);
  EXPECT_EQ(curve.front().tpr, 0);
  std::size_t i = 1;
  double area = 0;
  for (double t : thresholds) {
    const double tpr =
        std::count_if(id.begin(), id.end(), [&](double s) { return s >= t; }) / 300.0;
    const double fpr =
        std::count_if(ood.begin(), ood.end(), [&](double s) { return s >= t; }) / 200.0;
    EXPECT_DOUBLE_EQ(curve[i].tpr, tpr);
    EXPECT_DOUBLE_EQ(curve[i].fpr, fpr);
    area += (curve[i].fpr - curve[i - 1].fpr) * (curve[i].tpr + curve[i - 1].tpr) / 2;
    ++i;
  }
  EXPECT_EQ(curve.back().fpr, 1);
  EXPECT_EQ(curve.back().tpr, 1);
  EXPECT_NEAR(area, metrics::compute_ood_metrics(id, ood).auroc, 1e-12);
}

TEST(Histogram, CountsEveryFiniteScoreOnceWithOutliersInTheEdgeBins) {
  const std::vector<double> scores = {-5, 0, 0.1, 0.25, 0.5, 0.99, 1, 7, NAN, INFINITY};
  const Histogram h = histogram(scores, 0, 1, 4);
  EXPECT_EQ(h.counts, (std::vector<std::int64_t>{3, 1, 1, 3}));  // [0,.25) [.25,.5) ...
  EXPECT_EQ(h.below, 1);
  EXPECT_EQ(h.above, 1);
  EXPECT_EQ(h.nonfinite, 2);
  EXPECT_EQ(h.finite, 8);
  // Brute force on random data: bin i holds lo + i w <= s < lo + (i + 1) w.
  const std::vector<double> many = test::rounded_normals(1000, 0, 3);
  const Histogram r = histogram(many, -1, 1.5, 10);
  for (int b = 1; b < 9; ++b) {
    const double lo = -1 + 0.25 * b;
    const auto expected = std::count_if(many.begin(), many.end(), [&](double s) {
      return s >= lo - 1e-12 && s < lo + 0.25 - 1e-12;
    });
    EXPECT_EQ(r.counts[b], expected) << b;
  }
}

TEST(Axes, TicksAreRoundAndCoverTheRange) {
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{
           {0, 1}, {-87.3, 12.1}, {1e-4, 3e-4}, {-25.7, -18.2}, {1000, 125000}}) {
    const auto ticks = nice_ticks(lo, hi, 5);
    ASSERT_GE(ticks.size(), 3u) << lo << " " << hi;
    EXPECT_LE(ticks.size(), 11u);
    const double step = ticks[1] - ticks[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
    EXPECT_TRUE(std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 ||
                std::abs(mantissa - 5) < 1e-9)
        << step;
    EXPECT_GE(ticks.front(), lo - 1e-12);
    EXPECT_LE(ticks.back(), hi + 1e-12);
  }
  // The display range keeps the bulk and the threshold, not a far outlier.
  std::vector<double> id(1000, 1.0), ood(1000, 0.0);
  ood[0] = -1e6;
  const auto [lo, hi] = display_range(id, ood, 2.0);
  EXPECT_GT(lo, -1);
  EXPECT_GE(hi, 2.0);
}

TEST(Svg, EscapesTextAndStandaloneFilesDeclareTheNamespace) {
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  Svg svg(10, 10, "t<1>");
  svg.text(1, 2, "x & y", "");
  const std::string inline_svg = svg.str(false);
  EXPECT_EQ(inline_svg.find("xmlns"), std::string::npos);
  EXPECT_NE(inline_svg.find("<title>t&lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(inline_svg.find(">x &amp; y</text>"), std::string::npos);
  EXPECT_NE(svg.str(true).find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
}

}  // namespace
}  // namespace oodflow::plot
