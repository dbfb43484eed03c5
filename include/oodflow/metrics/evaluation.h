// One evaluation: the scores of an ID test set against several OOD sets, and the quality
// gates a CI run can impose on the result. Pure data and functions; formats live in io/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "oodflow/metrics/ood_metrics.h"

namespace oodflow::metrics {

/// Scores of one set, as a detector produced them (higher = more in-distribution).
struct ScoredSet {
  std::string name;
  std::string file;
  std::vector<double> scores;
  std::vector<std::string> sources;  ///< per-sample source paths, or empty
};

struct SetResult {
  std::string name;
  std::string file;
  OodMetrics metrics;
};

struct Evaluation {
  std::string id_name;
  std::string id_file;
  std::int64_t id_count = 0;
  NonFiniteCounts id_nonfinite;
  std::vector<SetResult> ood;  ///< in the order the sets were given
};

/// Metrics of every OOD set against the ID set.
Evaluation evaluate(const ScoredSet& id, const std::vector<ScoredSet>& ood);

/// A bar a metric must clear on every OOD set: auroc, aupr_in and aupr_out fail below it,
/// fpr95 fails above it.
struct Gate {
  std::string metric;
  double bound = 0;
};

struct GateCheck {
  std::string set;
  std::string metric;
  double value = 0;
  double bound = 0;
  bool passed = false;
};

/// Parses "auroc=0.9,fpr95=0.3"; throws Error naming the bad part.
std::vector<Gate> parse_gates(const std::string& text);
/// Every gate on every OOD set.
std::vector<GateCheck> check_gates(const Evaluation& evaluation, const std::vector<Gate>& gates);
/// True for the metrics a gate keeps above a bound (auroc, aupr_in, aupr_out); false for
/// fpr95, kept below. Throws Error for an unknown name.
bool higher_is_better(const std::string& metric);
/// The value of a metric by its report name ("auroc", "fpr95", ...).
double metric_value(const OodMetrics& m, const std::string& metric);

}  // namespace oodflow::metrics
