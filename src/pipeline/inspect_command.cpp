#include "oodflow/pipeline/inspect_command.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/inspect/stats_report.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/labels.h"

namespace oodflow::pipeline {

void validate(const InspectOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.features.empty(), "a feature file to inspect is required");
    OODFLOW_CHECK(o.out.empty() || (o.out != o.features && o.out != o.labels_from),
                  "--out must differ from the inputs");
    OODFLOW_CHECK(o.threads >= 0, "--threads must be >= 0, got " << o.threads);
    inspect::validate(o.settings);
  });
}

int run_inspect(const InspectOptions& o) {
  validate(o);
  if (!o.out.empty()) check_writable(o.out);
  set_compute_threads(o.threads);
  const io::FeatureFile file = io::FeatureFile::open(o.features);
  std::vector<std::int64_t> labels;
  std::string labels_source;
  if (!o.labels_from.empty()) {
    labels = io::read_labels_any(o.labels_from, file.rows(),
                                 "rows of '" + o.features + "' (--labels-from)");
    labels_source = o.labels_from;
  } else if (file.has_labels()) {
    labels_source = "the feature file";
  } else {
    spdlog::warn(
        "'{}' has no labels, so no tolerance: give --labels-from FILE (a feature file "
        "with labels, an integer .npy vector or an IDX labels file)",
        o.features);
  }
  inspect::FeatureStats stats =
      inspect::inspect_features(file, o.labels_from.empty() ? nullptr : &labels, o.settings);
  stats.labels_source = labels_source;
  if (stats.nonfinite_rows + stats.zero_norm_rows > 0) {
    spdlog::warn(
        "'{}': {} rows cannot be L2-normalised ({} non-finite, {} of norm zero) and are "
        "left out of the norms, spectrum, uniformity and tolerance",
        o.features, stats.nonfinite_rows + stats.zero_norm_rows, stats.nonfinite_rows,
        stats.zero_norm_rows);
  }
  const std::string json = inspect::stats_json(stats);
  if (!o.out.empty()) write_file_atomically(o.out, json);
  const std::string text = o.json ? json : inspect::stats_table(stats);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace oodflow::pipeline
