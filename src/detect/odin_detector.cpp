// ODIN (Liang et al., "Enhancing the Reliability of Out-of-distribution Image Detection in
// Neural Networks", ICLR 2018). Its score needs the input image and a backward pass through
// the backbone, so `extract --odin` computes it and stores it next to the features; this
// detector only reads it. Nothing is fitted: T and eps are given, never tuned on OOD data.
// It records them so that a set extracted with other settings is refused, not compared.
#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::detect {
namespace {

class OdinDetector : public Detector {
 public:
  std::string name() const override { return "odin"; }

  void fit(const FeatureSet& train) override {
    require_odin(train);
    settings_ = io::odin_score_settings(train.odin_settings);
  }

  std::int64_t feature_dim() const override { return 0; }

  std::vector<double> score(const FeatureSet& data) const override {
    require_odin(data);
    OODFLOW_CHECK(io::odin_score_settings(data.odin_settings) == settings_,
                  "'" << data.source << "' holds ODIN scores with settings "
                      << io::odin_score_settings(data.odin_settings)
                      << " but the odin detector was fitted on " << settings_
                      << "; extract every set with the same --odin and --std");
    return data.odin;
  }

  DetectorState state() const override {
    DetectorState s;
    s.settings = settings_;
    return s;
  }

  void restore(const DetectorState& s) override {
    // at() throws on a malformed record; load_detector names the file.
    nlohmann::json::parse(s.settings).at("temperature").get<double>();
    settings_ = io::odin_score_settings(s.settings);
  }

 private:
  static void require_odin(const FeatureSet& data) {
    OODFLOW_CHECK(!data.odin.empty() || data.rows == 0,
                  "'" << data.source
                      << "' has no ODIN scores; extract it with `oodflow extract ... --odin` "
                         "(ODIN needs the images and the backbone, not only features)");
  }

  std::string settings_;  // io::odin_score_settings of the training set's record
};

}  // namespace

std::unique_ptr<Detector> make_odin_detector() {
  return std::make_unique<OdinDetector>();
}

}  // namespace oodflow::detect
