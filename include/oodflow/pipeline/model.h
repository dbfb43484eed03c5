// A model file as the commands that use models (score, detect) see it: the detector, its
// label and report record, its provenance and calibration; and the one scoring path every
// command takes (score, detect, and the calibration of fit and train), so that the same
// rows always get the same scores.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oodflow/detect/detector.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::pipeline {

struct Model {
  std::string path;
  std::string label;       ///< "flow (glow)", "knn", ...
  std::string record;      ///< JSON object describing it, for reports
  std::string score_name;  ///< what its score is, for plot axes
  std::int64_t dim = 0;    ///< feature dimension it takes; 0 = it reads no features
  std::map<std::string, std::string> metadata;
  std::optional<metrics::Calibration> calibration;
  std::shared_ptr<const detect::Detector> detector;
};

/// Reads a model file of any kind (detect::load_model); the flows run on `device`. Throws
/// Error naming the file when it is no model file or a newer one.
Model load_model(const std::string& path, const std::string& device);

/// Throws Error naming both files when `file`'s feature dimension is not the model's, or
/// naming `file` when it lacks an input the model needs (detect::require_inputs): before any
/// scoring, so that a bad last file fails in a second.
void check_inputs(const Model& model, const io::FeatureFile& file);

/// What score_in_chunks does with a row holding a non-finite feature or logit.
enum class NonFiniteRows {
  kError,  ///< the model's error naming the sample (score: one such row invalidates a set)
  kSkip,   ///< not scored: listed to the sink (detect: a verdict for that sample alone)
};

/// Receives each scored chunk: its rows, their scores, and the rows of the chunk not scored
/// (NonFiniteRows::kSkip; their score is NaN).
using ChunkSink = std::function<void(const detect::FeatureSet&, const std::vector<double>&,
                                     const std::vector<std::int64_t>&)>;

/// Scores every row of `file` (or the rows listed in `rows`, in that order) in chunks of
/// `batch_size` rows, calling `sink` for each. score, detect and calibration all go through
/// here with the same chunks, so they give bit-identical scores (a matrix product's last
/// bits can depend on its row count).
void score_in_chunks(const detect::Detector& detector, const io::FeatureFile& file,
                     std::int64_t batch_size, const ChunkSink& sink,
                     NonFiniteRows nonfinite = NonFiniteRows::kError,
                     const std::vector<std::int64_t>* rows = nullptr);
void score_in_chunks(const Model& model, const io::FeatureFile& file, std::int64_t batch_size,
                     const ChunkSink& sink, NonFiniteRows nonfinite = NonFiniteRows::kError);

/// Scores one chunk in memory (detect's image batches): rows with a NaN/inf value are not
/// scored with kSkip (listed in *skipped, score NaN). LibTorch failures become Errors naming
/// the chunk's source.
std::vector<double> score_chunk(const detect::Detector& detector, const detect::FeatureSet& chunk,
                                NonFiniteRows nonfinite, std::vector<std::int64_t>* skipped);

/// The scores of the listed rows of `file`, in chunks of kScoreBatchRows.
std::vector<double> score_rows(const detect::Detector& detector, const io::FeatureFile& file,
                               const std::vector<std::int64_t>& rows);

}  // namespace oodflow::pipeline
