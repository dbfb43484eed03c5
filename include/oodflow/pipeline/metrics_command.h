// `oodflow metrics`: the same metrics, table, JSON report and gates as `score`, from scores
// any detector computed (CSV columns or .npy vectors).
#pragma once

#include <string>
#include <vector>

namespace oodflow::pipeline {

struct MetricsOptions {
  // ID scores file (CSV or .npy).
  std::string id;
  // OOD sets as NAME=FILE (or FILE, named after the file).
  std::vector<std::string> ood;
  // CSV column holding the scores.
  std::string column = "score";
  // JSON report path (optional).
  std::string out;
  // JUnit XML path for CI test reporters (optional).
  std::string junit;
  // Markdown table path, e.g. for $GITHUB_STEP_SUMMARY (optional).
  std::string markdown;
  // Quality gates, e.g. "auroc=0.9,fpr95=0.3" (optional).
  std::string fail_under;
};

void validate(const MetricsOptions& options);

/// Prints the table, writes the outputs; returns 0, or kExitGateFailed.
int run_metrics(const MetricsOptions& options);

}  // namespace oodflow::pipeline
