// The result of one evaluation run, computed once: every detector's metrics, ROC curve and
// score histograms on every OOD set, and the gate checks. The writers (report/writers.h) only
// format it, so the table, the JSON, the plots and the CI files cannot disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "oodflow/metrics/evaluation.h"
#include "oodflow/metrics/ood_metrics.h"
#include "oodflow/plot/charts.h"

namespace oodflow::report {

/// Version of the JSON report's key layout; bumped on any incompatible change.
/// 2: one layout for any number of detectors (`detectors: [...]`, each with its `ood` list).
inline constexpr int kReportFormatVersion = 2;

/// Bins of the score histograms.
inline constexpr int kHistogramBins = 40;

/// What produced a detector's scores.
struct DetectorInfo {
  std::string label;       ///< unique within a report: table rows, CSV columns, plot legends
  std::string record;      ///< JSON object text describing the model
  std::string score_name;  ///< what its score is (plot axes)
};

/// The curves of one detector on one OOD set (its metrics are in the Evaluation).
struct SetPlots {
  std::vector<metrics::RocPoint> roc;  ///< ID positive, as metrics::roc_curve
  plot::Histogram id_histogram;        ///< over the display range of both sets and thr95
  plot::Histogram ood_histogram;       ///< same range and bins as id_histogram
};

struct DetectorReport {
  DetectorInfo info;
  /// Set 0 is the ID set, then the OOD sets in the order given.
  std::vector<metrics::ScoredSet> scored;
  metrics::Evaluation evaluation;  ///< evaluation.ood[s]: OOD set s
  std::vector<SetPlots> plots;     ///< plots[s]: OOD set s
};

/// One gate on one detector and OOD set.
struct GateResult {
  std::string detector;  ///< its label
  std::string set;
  std::string metric;
  double value = 0;
  double bound = 0;
  bool passed = false;
  /// fpr95 must stay at or below its bound; the other metrics at or above.
  bool upper_bound = false;
};

struct Report {
  std::string id_name;
  std::string id_file;
  std::int64_t id_count = 0;
  std::vector<DetectorReport> detectors;  ///< at least one
  std::vector<GateResult> gates;          ///< detector-major, then set, then gate order

  /// True when no gate tripped (also with no gates).
  bool passed() const;
  /// The OOD sets' names, in order (the same for every detector).
  std::vector<std::string> ood_names() const;
};

/// Evaluates every detector on every set once. `scored[d]` are detector d's sets, set 0 the
/// ID set, then the OOD sets (possibly none: a report for the scores CSV alone); every
/// detector has the same sets in the same order. Throws Error when `detectors` is empty.
Report build_report(std::vector<DetectorInfo> detectors,
                    std::vector<std::vector<metrics::ScoredSet>> scored,
                    const std::vector<metrics::Gate>& gates);

}  // namespace oodflow::report
