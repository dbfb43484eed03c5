// The two charts of oodflow's reports, as SVG: the score histograms of an ID set and an OOD
// set with the detector's threshold, and the ROC curves of several detectors on one OOD set.
// Layout (axes, ticks, legend) is hand-written: see plot/svg.h for why.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "oodflow/metrics/ood_metrics.h"
#include "oodflow/plot/svg.h"

namespace oodflow::plot {

/// Counts of finite scores in `bins` equal bins over [lo, hi]; scores outside are counted in
/// the edge bins (and in below/above), non-finite ones only in `nonfinite`.
struct Histogram {
  double lo = 0;
  double hi = 1;
  std::vector<std::int64_t> counts;
  std::int64_t below = 0;
  std::int64_t above = 0;
  std::int64_t nonfinite = 0;
  std::int64_t finite = 0;
};
Histogram histogram(const std::vector<double>& scores, double lo, double hi, int bins);

/// The x range of a histogram of two sets: from the lowest 0.5% quantile to the highest
/// 99.5% quantile of their finite scores (so that a few extreme OOD scores do not squash
/// the rest), widened to include `mark` when it is finite, and never empty.
std::pair<double, double> display_range(const std::vector<double>& a, const std::vector<double>& b,
                                        double mark);

/// Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi], about
/// `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);

/// Two histograms over the same range and bins, drawn as shares of their sets.
struct HistogramChart {
  std::string title;
  std::string x_label;
  std::string id_name;
  std::string ood_name;
  const Histogram* id = nullptr;
  const Histogram* ood = nullptr;
  double threshold = 0;
  std::string threshold_label;
};
Svg histogram_svg(const HistogramChart& chart);

struct RocEntry {
  std::string label;
  std::vector<metrics::RocPoint> curve;
  double auroc = 0;
  double fpr95 = 0;
};
Svg roc_svg(const std::string& title, const std::vector<RocEntry>& entries);

/// The colour of series i (a colour-blind-friendly palette, Tableau 10).
const std::string& series_colour(std::size_t i);

}  // namespace oodflow::plot
