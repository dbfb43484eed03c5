#include "oodflow/metrics/evaluation.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "oodflow/core/error.h"

namespace oodflow::metrics {
namespace {

struct MetricInfo {
  const char* name;
  bool higher_is_better;
};
constexpr MetricInfo kGateMetrics[] = {
    {"auroc", true}, {"aupr_in", true}, {"aupr_out", true}, {"fpr95", false}};

const MetricInfo* find_metric(const std::string& name) {
  for (const auto& m : kGateMetrics) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

}  // namespace

Evaluation evaluate(const ScoredSet& id, const std::vector<ScoredSet>& ood) {
  Evaluation e;
  e.id_name = id.name;
  e.id_file = id.file;
  e.id_count = static_cast<std::int64_t>(id.scores.size());
  e.id_nonfinite = count_nonfinite(id.scores);
  for (const ScoredSet& set : ood) {
    e.ood.push_back({set.name, set.file, compute_ood_metrics(id.scores, set.scores)});
  }
  return e;
}

bool higher_is_better(const std::string& metric) {
  const MetricInfo* info = find_metric(metric);
  OODFLOW_CHECK(info != nullptr,
                "unknown metric '" << metric << "' (known: auroc, fpr95, aupr_in, aupr_out)");
  return info->higher_is_better;
}

double metric_value(const OodMetrics& m, const std::string& metric) {
  if (metric == "auroc") return m.auroc;
  if (metric == "fpr95") return m.fpr95;
  if (metric == "aupr_in") return m.aupr_in;
  if (metric == "aupr_out") return m.aupr_out;
  OODFLOW_FAIL("unknown metric '" << metric << "' (known: auroc, fpr95, aupr_in, aupr_out)");
}

std::vector<Gate> parse_gates(const std::string& text) {
  std::vector<Gate> gates;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string part = text.substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    const auto eq = part.find('=');
    OODFLOW_CHECK(eq != std::string::npos,
                  "--fail-under: '" << part << "' is not METRIC=VALUE (e.g. auroc=0.9,fpr95=0.3)");
    Gate gate{part.substr(0, eq), 0};
    OODFLOW_CHECK(find_metric(gate.metric) != nullptr,
                  "--fail-under: unknown metric '" << gate.metric
                                                   << "' (known: auroc, fpr95, aupr_in, aupr_out)");
    const std::string value = part.substr(eq + 1);
    char* stop = nullptr;
    errno = 0;
    gate.bound = std::strtod(value.c_str(), &stop);
    OODFLOW_CHECK(
        !value.empty() && *stop == '\0' && errno == 0 && gate.bound >= 0 && gate.bound <= 1,
        "--fail-under: '" << value << "' for " << gate.metric
                          << " is not a number between 0 and 1");
    gates.push_back(gate);
  }
  return gates;
}

std::vector<GateCheck> check_gates(const Evaluation& evaluation, const std::vector<Gate>& gates) {
  std::vector<GateCheck> checks;
  for (const SetResult& set : evaluation.ood) {
    for (const Gate& gate : gates) {
      const double value = metric_value(set.metrics, gate.metric);
      const bool higher_is_better = find_metric(gate.metric)->higher_is_better;
      const bool passed = higher_is_better ? value >= gate.bound : value <= gate.bound;
      checks.push_back({set.name, gate.metric, value, gate.bound, passed});
    }
  }
  return checks;
}

}  // namespace oodflow::metrics
