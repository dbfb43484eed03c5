// The extraction pipeline: images of a source -> preprocessing -> backbone -> feature rows.
// Worker threads decode and preprocess the images of the next batches while the backbone runs
// on the current one, so with enough workers the backbone never waits for JPEG decoding.
// Unreadable images are skipped and listed, or stop the run in strict mode.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oodflow/core/defaults.h"
#include "oodflow/extract/aux_scores.h"
#include "oodflow/extract/backbone.h"
#include "oodflow/extract/image_source.h"
#include "oodflow/extract/preprocess.h"

namespace oodflow::extract {

struct ExtractSettings {
  Preprocessing preprocessing;
  // Images per backbone call.
  std::int64_t batch_size = kImageBatch;
  // Decoding/preprocessing threads; 0 = in the calling thread, between backbone calls.
  int workers = kImageWorkers;
  // The source indices [begin, end) to extract; end < 0 = to the last image.
  std::int64_t begin = 0;
  std::int64_t end = -1;
  // Stop at the first unreadable image instead of skipping it.
  bool strict = false;
  // Per-sample scores to compute with the features, in this order (see aux_scores.h).
  std::vector<AuxRequest> aux_scores;
};

struct SkippedImage {
  std::string source;
  std::string reason;
};

/// What a whole run produced besides the rows: counts, unreadable images, the input shape.
struct ExtractionSummary {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::int64_t classes = 0;  ///< logits per row; 0 without logits
  std::vector<SkippedImage> skipped;
  std::vector<int> input_shape;  ///< {C, H, W} given to the backbone
  double seconds = 0;
  double backbone_seconds = 0;  ///< time inside the backbone
};

/// One auxiliary score of the rows of a batch.
struct AuxValues {
  std::string name;
  std::string settings;        ///< its settings record (JSON object), as requested
  std::vector<double> values;  ///< [rows]
};

/// The rows of one backbone batch, in source order.
struct FeatureBatch {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::int64_t classes = 0;
  std::vector<float> features;        ///< [rows, dim]
  std::vector<float> logits;          ///< [rows, classes], empty without logits
  std::vector<AuxValues> aux;         ///< one per ExtractSettings::aux_scores, in its order
  std::vector<std::int64_t> indices;  ///< source index of each row
  std::vector<std::int64_t> labels;   ///< [rows], empty when the source has no labels
  std::vector<std::string> sources;   ///< [rows]
  /// The batch's unreadable images with their source indices (skipped, not in the rows).
  std::vector<std::pair<std::int64_t, SkippedImage>> skipped;
};

/// Runs the pipeline and hands every batch to `sink` as soon as the backbone has run, so a
/// caller that does not keep the rows runs in flat memory. Throws Error when the backbone
/// fails, when images give inputs of different sizes, when a feature is NaN/inf (naming the
/// image), and in strict mode on the first unreadable image.
ExtractionSummary stream_features(const ImageSource& source, Backbone& backbone,
                                  const ExtractSettings& settings,
                                  const std::function<void(FeatureBatch&)>& sink);

}  // namespace oodflow::extract
