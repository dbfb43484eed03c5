#include "oodflow/report/report.h"

#include <utility>

#include "oodflow/core/error.h"

namespace oodflow::report {
namespace {

// Both histograms share the range of the pair and the threshold, so that the bars of the two
// sets line up and the threshold line is always on the chart.
SetPlots set_plots(const metrics::ScoredSet& id, const metrics::ScoredSet& ood,
                   double threshold95) {
  SetPlots p;
  p.roc = metrics::roc_curve(id.scores, ood.scores);
  const auto [lo, hi] = plot::display_range(id.scores, ood.scores, threshold95);
  p.id_histogram = plot::histogram(id.scores, lo, hi, kHistogramBins);
  p.ood_histogram = plot::histogram(ood.scores, lo, hi, kHistogramBins);
  return p;
}

void check_same_sets(const std::vector<std::vector<metrics::ScoredSet>>& scored) {
  for (const auto& sets : scored) {
    OODFLOW_CHECK(!sets.empty() && sets.size() == scored.front().size(),
                  "internal: every detector of a report needs the same sets");
    for (std::size_t s = 0; s < sets.size(); ++s) {
      OODFLOW_CHECK(sets[s].name == scored.front()[s].name &&
                        sets[s].scores.size() == scored.front()[s].scores.size(),
                    "internal: set " << s << " differs between the detectors of a report");
    }
  }
}

}  // namespace

bool Report::passed() const {
  for (const GateResult& g : gates) {
    if (!g.passed) return false;
  }
  return true;
}

std::vector<std::string> Report::ood_names() const {
  std::vector<std::string> names;
  for (const metrics::SetResult& set : detectors.front().evaluation.ood) names.push_back(set.name);
  return names;
}

Report build_report(std::vector<DetectorInfo> detectors,
                    std::vector<std::vector<metrics::ScoredSet>> scored,
                    const std::vector<metrics::Gate>& gates) {
  OODFLOW_CHECK(!detectors.empty() && detectors.size() == scored.size(),
                "internal: a report needs one list of scored sets per detector, and a detector");
  check_same_sets(scored);
  Report report;
  const metrics::ScoredSet& id = scored.front().front();
  report.id_name = id.name;
  report.id_file = id.file;
  report.id_count = static_cast<std::int64_t>(id.scores.size());
  for (std::size_t d = 0; d < detectors.size(); ++d) {
    DetectorReport r;
    r.info = std::move(detectors[d]);
    r.scored = std::move(scored[d]);
    // Set by set rather than metrics::evaluate(id, ood), which would need a copy of the OOD
    // sets (scores and source paths) in a vector of their own.
    const metrics::ScoredSet& own_id = r.scored.front();
    r.evaluation = metrics::evaluate(own_id, {});
    for (auto set = r.scored.begin() + 1; set != r.scored.end(); ++set) {
      r.evaluation.ood.push_back(
          {set->name, set->file, metrics::compute_ood_metrics(own_id.scores, set->scores)});
      r.plots.push_back(set_plots(own_id, *set, r.evaluation.ood.back().metrics.threshold95));
    }
    for (const metrics::GateCheck& c : metrics::check_gates(r.evaluation, gates)) {
      report.gates.push_back({r.info.label, c.set, c.metric, c.value, c.bound, c.passed,
                              !metrics::higher_is_better(c.metric)});
    }
    report.detectors.push_back(std::move(r));
  }
  return report;
}

}  // namespace oodflow::report
