// `oodflow score`: log-density scores of a trained flow on an ID test set and OOD sets, with
// the metrics table, a JSON report, a per-sample scores CSV, and optional CI gates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "oodflow/core/defaults.h"
#include "oodflow/core/threads.h"

namespace oodflow::pipeline {

/// Exit code of score and metrics when a --fail-under gate is missed.
inline constexpr int kExitGateFailed = 3;

struct ScoreOptions {
  // Model files (flows or baselines, from `oodflow fit` or `train`); with several, they are
  // compared in one table and report, in this order.
  std::vector<std::string> models;
  // ID test features.
  std::string id;
  // OOD sets as NAME=FILE (or FILE, named after the file).
  std::vector<std::string> ood;
  // JSON report path (optional).
  std::string out;
  // Per-sample scores CSV path (optional).
  std::string scores;
  // Self-contained HTML report with the plots (optional).
  std::string html;
  // Folder for the plots as standalone SVG files (optional).
  std::string svg_dir;
  // JUnit XML path for CI test reporters: a test case per detector, OOD set and gate
  // (optional).
  std::string junit;
  // Markdown table path, e.g. for $GITHUB_STEP_SUMMARY (optional).
  std::string markdown;
  // Quality gates, e.g. "auroc=0.9,fpr95=0.3" (optional).
  std::string fail_under;
  // Rows per forward pass.
  std::int64_t batch_size = kScoreBatchRows;
  // Compute threads (LibTorch and OpenBLAS); 0 = automatic (see core/threads.h).
  int threads = kDefaultThreads;
  // cpu or cuda (or cuda:N).
  std::string device = "cpu";
};

void validate(const ScoreOptions& options);

/// Scores, prints the table, writes the outputs; returns 0, or kExitGateFailed.
int run_score(const ScoreOptions& options);

}  // namespace oodflow::pipeline
