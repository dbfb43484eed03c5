// What train and fit record in a model file besides its parameters: where its features came
// from (the backbone and image preprocessing that `detect` needs to score images), and the
// calibration on held-out ID samples that gives it thresholds.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oodflow/core/sampling.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::pipeline {

/// Metadata key of the extraction record.
inline constexpr const char* kExtractionKey = "extraction";

/// JSON object with the feature file's backbone, preprocessing, input_shape and aux_scores
/// records (those it has; empty for features that oodflow extract did not write): what
/// `detect --images` needs to turn images into the features and scores the model reads.
std::string extraction_record(const io::FeatureFile& features);

/// The JSON record stored under `key` in a file's metadata; null when absent, discarded
/// (is_discarded()) when it is not JSON.
nlohmann::json metadata_record(const std::map<std::string, std::string>& metadata,
                               const std::string& key);

/// SHA-256 of the backbone that made a feature file (its `backbone` metadata record), or of
/// the backbone that made a model's training features (its extraction record); "" when the
/// metadata records none.
std::string features_backbone_sha256(const std::map<std::string, std::string>& feature_metadata);
std::string model_backbone_sha256(const std::map<std::string, std::string>& model_metadata);

/// Throws Error naming `features` when any of a model's scores of ID samples (`which`:
/// "held-out" or "training") is NaN or infinite: such a model cannot tell ID from OOD.
void require_finite_scores(const std::vector<double>& scores, const std::string& features,
                           const std::string& which);

/// The dimensions whose value is the same in every listed row of `features` (ascending).
/// Streams the rows in chunks: memory stays flat.
std::vector<std::int64_t> constant_dimensions(const io::FeatureFile& features,
                                              const std::vector<std::int64_t>& rows);
/// Logs a warning naming the constant dimensions of the training rows (dead ReLU units,
/// padding): a sample that varies there lies outside everything the model saw and gets a
/// very low score, -inf when the arithmetic overflows. With `need_variation` (a density of
/// the features), every dimension constant is an Error naming the file: all the samples are
/// one point, there is no distribution to fit.
void check_constant_dimensions(const std::string& command, const io::FeatureFile& features,
                               const std::vector<std::int64_t>& rows, bool need_variation);

/// Scores the held-out rows of `split` with `score` and returns the calibration; logs the
/// thresholds. Nothing is held out when split.held_out is empty: returns an empty calibration
/// (no rows) and warns that the model will have no thresholds.
metrics::Calibration calibrate(
    const std::string& command, const HoldoutSplit& split, double fraction, std::uint64_t seed,
    const std::function<std::vector<double>(const std::vector<std::int64_t>&)>& score);

}  // namespace oodflow::pipeline
