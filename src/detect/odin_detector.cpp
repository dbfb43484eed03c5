// ODIN (Liang et al., "Enhancing the Reliability of Out-of-distribution Image Detection in
// Neural Networks", ICLR 2018). Its score needs the input image and a backward pass through
// the backbone, so `extract --odin` computes it and stores it next to the features as the
// auxiliary score "odin"; this detector only reads it. Nothing is fitted: T and eps are given,
// never tuned on OOD data. It records them so that a set extracted with other settings is
// refused, not compared.
#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::detect {
namespace {

// The auxiliary score `extract --odin` stores.
constexpr const char* kScore = "odin";

class OdinDetector : public Detector {
 public:
  std::string name() const override { return "odin"; }

  Needs needs() const override {
    Needs n;
    n.features = false;
    n.aux_scores = {kScore};
    return n;
  }

  void fit(const FeatureSet& train, const FitContext& /*context*/) override {
    const AuxScore* odin = require_odin(train);
    settings_ = odin == nullptr ? "" : io::aux_settings_key(odin->settings);
  }

  std::int64_t feature_dim() const override { return 0; }

  std::vector<double> score(const FeatureSet& data) const override {
    const AuxScore* odin = require_odin(data);
    if (odin == nullptr) return {};
    const std::string settings = io::aux_settings_key(odin->settings);
    OODFLOW_CHECK(settings == settings_,
                  "'" << data.source << "' holds ODIN scores with settings " << settings
                      << " but the odin detector was fitted on " << settings_
                      << "; extract every set with the same --odin and --std");
    OODFLOW_CHECK(static_cast<std::int64_t>(odin->values.size()) == data.rows,
                  "internal: " << odin->values.size() << " ODIN scores for " << data.rows
                               << " rows of '" << data.source << "'");
    return odin->values;
  }

  DetectorState state() const override {
    DetectorState s;
    s.settings = settings_;
    return s;
  }

  void restore(const DetectorState& s) override {
    // at() throws on a malformed record; load_model names the file.
    nlohmann::json::parse(s.settings).at("temperature").get<double>();
    settings_ = io::aux_settings_key(s.settings);
  }

 private:
  // The set's ODIN scores; null only for an empty set.
  const AuxScore* require_odin(const FeatureSet& data) const {
    if (data.rows > 0) require_inputs(needs(), Inputs::of(data), data.source, name());
    return data.find_aux(kScore);
  }

  std::string settings_;  // io::aux_settings_key of the training set's record
};

}  // namespace

std::unique_ptr<Detector> make_odin_detector() {
  return std::make_unique<OdinDetector>();
}

}  // namespace oodflow::detect
