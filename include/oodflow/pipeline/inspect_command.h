// `oodflow inspect`: what a user should know about a feature file before trusting a detector
// on it (inspect/feature_stats.h), as a table on stdout or as JSON (inspect/stats_report.h).
#pragma once

#include <string>

#include "oodflow/core/threads.h"
#include "oodflow/inspect/feature_stats.h"

namespace oodflow::pipeline {

struct InspectOptions {
  // Feature file to inspect (.safetensors or .npy).
  std::string features;
  // Labels for the tolerance when the feature file has none (or to replace its own): a
  // feature file with labels, an integer .npy vector or an IDX labels file, one per row.
  std::string labels_from;
  // Print JSON on stdout instead of the table.
  bool json = false;
  // Also write the JSON here (atomically); empty = none.
  std::string out;
  // Threads of the matrix products (0 = automatic, see core/threads.h).
  int threads = kDefaultThreads;
  // Block size, pairs, exact limit, seed.
  inspect::InspectSettings settings;
};

/// Throws UsageError naming the option when a value is out of range.
void validate(const InspectOptions& options);

/// Inspects options.features, prints the table or JSON, writes options.out; returns 0.
int run_inspect(const InspectOptions& options);

}  // namespace oodflow::pipeline
