#include "oodflow/pipeline/metrics_command.h"

#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/io/score_file.h"
#include "oodflow/pipeline/named_sets.h"

namespace oodflow::pipeline {

void validate(const MetricsOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.id.empty(), "--id is required");
    OODFLOW_CHECK(!o.ood.empty(), "at least one --ood NAME=FILE is required");
    OODFLOW_CHECK(!o.column.empty(), "--column must not be empty");
    parse_named_sets(o.ood);
    metrics::parse_gates(o.fail_under);
  });
}

int run_metrics(const MetricsOptions& o) {
  validate(o);
  metrics::ScoredSet id{"id", o.id, io::read_scores(o.id, {o.column, "id"}), {}};
  std::vector<metrics::ScoredSet> ood;
  for (const auto& [name, file] : parse_named_sets(o.ood)) {
    ood.push_back({name, file, io::read_scores(file, {o.column, name}), {}});
  }
  const nlohmann::json detector = {{"kind", "precomputed scores"}, {"column", o.column}};
  return publish_evaluation(id, ood, detector.dump(), o.out, o.fail_under);
}

}  // namespace oodflow::pipeline
