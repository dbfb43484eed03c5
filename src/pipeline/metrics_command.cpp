#include "oodflow/pipeline/metrics_command.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "oodflow/core/error.h"
#include "oodflow/io/score_file.h"
#include "oodflow/pipeline/named_sets.h"
#include "oodflow/report/report.h"
#include "oodflow/report/writers.h"

namespace oodflow::pipeline {
namespace {

// True when `a` and `b` name one file (links and spellings such as "./s.csv" included).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;
}

std::vector<ReportOutput> outputs(const MetricsOptions& o) {
  return {{"--out", o.out, report::write_json},
          {"--junit", o.junit, report::write_junit},
          {"--markdown", o.markdown, report::write_markdown}};
}

}  // namespace

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
  check_outputs(outputs(o));
  io::ScoreColumn id_scores = io::read_score_column(o.id, {o.column, "id"});
  std::vector<metrics::ScoredSet> ood;
  for (const auto& [name, file] : parse_named_sets(o.ood)) {
    io::ScoreColumn scores = io::read_score_column(file, {o.column, name});
    // Without a `set` column both reads took every row: the sets would be compared with
    // themselves (AUROC 50) instead of failing.
    OODFLOW_CHECK(id_scores.set_selected || scores.set_selected || !same_file(o.id, file),
                  "--id '" << o.id << "' and --ood '" << name << "=" << file
                           << "' are the same rows of one file (it has no 'set' column to "
                           << "tell them apart); give two files, or one with a 'set' column");
    ood.push_back({name, file, std::move(scores.scores), {}});
  }
  std::vector<metrics::ScoredSet> sets = {{"id", o.id, std::move(id_scores.scores), {}}};
  for (auto& set : ood) sets.push_back(std::move(set));
  const nlohmann::json record = {{"kind", "precomputed scores"}, {"column", o.column}};
  const report::Report report = report::build_report(
      {{o.column, record.dump(), o.column}}, {std::move(sets)}, metrics::parse_gates(o.fail_under));
  return publish_report(report, outputs(o));
}

}  // namespace oodflow::pipeline
