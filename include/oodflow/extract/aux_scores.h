// Per-sample scores computed at extraction time because they need the images or the
// backbone's gradients, not only the features (ODIN's). Each is stored in the feature file as
// an auxiliary score under its name, with the settings record it was computed with (README:
// Files), and the detectors that read it declare its name (Needs::aux_scores).
//
// Adding one: one entry of the table in aux_scores.cpp (its extract option and help, a settings
// parser, a record check and a compute function); the extract command, feature files, merge,
// inspect and FeatureSet carry it without change.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "oodflow/extract/backbone.h"
#include "oodflow/extract/preprocess.h"

namespace oodflow::extract {

struct ExtractSettings;

/// A score to compute with the features: its name and its settings record (a JSON object,
/// stored as is in the feature file).
struct AuxRequest {
  std::string name;
  std::string settings;
};

/// One batch as the backbone takes it: pixels [batch, channels, height, width].
struct BatchInput {
  const float* pixels = nullptr;
  std::int64_t batch = 0;
  int channels = 0;
  int height = 0;
  int width = 0;
};

/// A score of one batch.
struct AuxBatchScores {
  std::vector<double> values;  ///< [batch]
  /// The features and logits of a plain Backbone::run when computing the score gave them on
  /// the way (ODIN's first forward pass), so the extractor does not run the backbone again.
  std::optional<BackboneOutputs> outputs;
};

/// How one extraction-time score is configured and computed.
struct AuxScoreKind {
  std::string name;       ///< the auxiliary score's name in feature files, e.g. "odin"
  std::string flag;       ///< the extract option that asks for it, e.g. "--odin"
  std::string help;       ///< the option's --help text
  std::string type_name;  ///< how --help shows the option's value, e.g. "[T=..,eps=..]"
  std::string defaults;   ///< the value of the bare option, e.g. "T=1000,eps=0.0014"
  /// The settings record from the option's text and the preprocessing; throws Error naming
  /// the option.
  std::function<std::string(const std::string& text, const Preprocessing& preprocessing)> parse;
  /// A recorded settings record checked and written as `parse` writes it; throws Error naming
  /// `source` when it is malformed.
  std::function<std::string(const std::string& record, const std::string& source)> from_record;
  /// The scores of `input` with `settings` (a record `parse` or `from_record` wrote).
  std::function<AuxBatchScores(Backbone& backbone, const BatchInput& input,
                               const std::string& settings)>
      compute;
};

/// Every extraction-time score oodflow computes.
const std::vector<AuxScoreKind>& aux_score_kinds();
/// The score called `name`; Error listing the known names otherwise.
const AuxScoreKind& aux_score_kind(const std::string& name);

/// The request for score `name` with the settings its option's `text` gives.
AuxRequest parse_aux_score(const std::string& name, const std::string& text,
                           const Preprocessing& preprocessing);

/// Adds to `settings` the scores `names` (a model's Needs::aux_scores) with the settings its
/// training features were extracted with, read from the model's extraction record (JSON text,
/// key `aux_scores`, see pipeline/model_records.h), so that images are scored as its training
/// data was. Throws Error naming `model_path` when the record lacks one of them.
void request_aux_scores(const std::vector<std::string>& names, const std::string& extraction_record,
                        ExtractSettings* settings, const std::string& model_path);

/// ODIN's defaults as --odin spells them (the paper's: T = 1000, eps = 0.0014).
inline constexpr const char* kOdinDefaults = "T=1000,eps=0.0014";

/// Parses --odin's "T=...,eps=..." (keys T/temperature and eps/epsilon, each optional and at
/// most once; "default" or "true" = both defaults); throws Error naming --odin otherwise. The
/// std comes from the preprocessing, one value per channel.
OdinSettings parse_odin(const std::string& text, const Preprocessing& preprocessing);
/// The settings record of ODIN's auxiliary score: temperature, epsilon, std, description.
std::string odin_json(const OdinSettings& odin);
/// The settings back from a record; throws Error naming `source` when malformed or invalid.
OdinSettings odin_from_json(const std::string& json, const std::string& source);

}  // namespace oodflow::extract
