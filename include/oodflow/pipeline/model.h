// A model file of either kind, a flow from `train` or a baseline detector from `fit`, behind
// one face for the commands that use models (score, detect): its label, its report record,
// the feature dimension it takes, its calibration, and scoring of rows in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oodflow/detect/feature_set.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::pipeline {

struct Model {
  std::string path;
  std::string label;       ///< "flow (glow)", "knn", ...
  std::string record;      ///< JSON object describing it, for reports
  std::string score_name;  ///< what its score is, for plot axes
  std::int64_t dim = 0;    ///< feature dimension it takes; 0 = it reads only logits
  std::map<std::string, std::string> metadata;
  std::optional<metrics::Calibration> calibration;
  /// Scores of the rows of a set in memory (higher = more in-distribution).
  std::function<std::vector<double>(const detect::FeatureSet&)> score;
};

/// Reads a flow or detector file (told apart by its metadata); the flow runs on `device`.
/// Throws Error naming the file when it is neither.
Model load_model(const std::string& path, const std::string& device);

/// Throws Error naming both files when `file`'s feature dimension is not the model's.
void check_dimension(const Model& model, const io::FeatureFile& file);

/// What score_in_chunks does with a row holding a non-finite feature or logit.
enum class NonFiniteRows {
  kError,  ///< the model's error naming the sample (score: one such row invalidates a set)
  kSkip,   ///< not scored: listed to the sink (detect: a verdict for that sample alone)
};

/// Scores every row of `file` in chunks of `batch_size` rows, calling
/// `sink(chunk, scores, skipped)` for each (`skipped`: rows of the chunk not scored, their
/// score NaN). score and detect both go through here with the same chunks, so they give
/// bit-identical scores (a matrix product's last bits can depend on its row count).
void score_in_chunks(const Model& model, const io::FeatureFile& file, std::int64_t batch_size,
                     const std::function<void(const detect::FeatureSet&, const std::vector<double>&,
                                              const std::vector<std::int64_t>&)>& sink,
                     NonFiniteRows nonfinite = NonFiniteRows::kError);

}  // namespace oodflow::pipeline
