// Detectors on the classifier's logits alone; nothing to fit but the number of classes.
//   MSP: max_c softmax(z)_c (Hendrycks & Gimpel, "A Baseline for Detecting Misclassified and
//        Out-of-Distribution Examples in Neural Networks", ICLR 2017).
//   MaxLogit: max_c z_c (Hendrycks et al., "Scaling Out-of-Distribution Detection for
//        Real-World Settings", ICML 2022).
//   Energy: -E(x) = T log sum_c exp(z_c / T), T = 1 (Liu et al., "Energy-based
//        Out-of-distribution Detection", NeurIPS 2020).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/error.h"

namespace oodflow::detect {
namespace {

enum class LogitScore { kMsp, kMaxLogit, kEnergy };

// log sum exp of z / t, shifted by the maximum so that it never overflows.
double log_sum_exp(const float* z, std::int64_t n, double t) {
  const double top = *std::max_element(z, z + n) / t;
  double sum = 0;
  for (std::int64_t c = 0; c < n; ++c) sum += std::exp(z[c] / t - top);
  return top + std::log(sum);
}

class LogitDetector : public Detector {
 public:
  LogitDetector(std::string name, LogitScore kind, double temperature)
      : name_(std::move(name)), kind_(kind), temperature_(temperature) {}

  std::string name() const override { return name_; }
  Needs needs() const override {
    Needs n;
    n.features = false;
    n.logits = true;
    return n;
  }

  void fit(const FeatureSet& train, const FitContext&) override {
    require_inputs(needs(), Inputs::of(train), train.source, name_);
    classes_ = train.classes;
  }

  std::int64_t feature_dim() const override { return 0; }

  std::vector<double> score(const FeatureSet& data) const override {
    require_inputs(needs(), Inputs::of(data), data.source, name_);
    OODFLOW_CHECK(data.classes == classes_, "'" << data.source << "' has " << data.classes
                                                << " logits per sample but the " << name_
                                                << " detector was fitted with " << classes_);
    std::vector<double> out(static_cast<std::size_t>(data.rows));
    for (std::int64_t i = 0; i < data.rows; ++i) {
      const float* z = data.logits.data() + i * classes_;
      const double top = *std::max_element(z, z + classes_);
      switch (kind_) {
        case LogitScore::kMsp:  // max softmax = exp(max z - logsumexp z)
          out[i] = std::exp(top - log_sum_exp(z, classes_, 1.0));
          break;
        case LogitScore::kMaxLogit:
          out[i] = top;
          break;
        case LogitScore::kEnergy:
          out[i] = temperature_ * log_sum_exp(z, classes_, temperature_);
          break;
      }
    }
    return out;
  }

  DetectorState state() const override {
    DetectorState s;
    s.settings = nlohmann::json{{"classes", classes_}, {"temperature", temperature_}}.dump();
    return s;
  }

  void restore(const DetectorState& s) override {
    const auto j = nlohmann::json::parse(s.settings);
    classes_ = j.at("classes").get<std::int64_t>();
    temperature_ = j.at("temperature").get<double>();
  }

 private:
  std::string name_;
  LogitScore kind_;
  double temperature_;
  std::int64_t classes_ = 0;
};

}  // namespace

void require_dim(const FeatureSet& data, std::int64_t dim, const std::string& detector) {
  OODFLOW_CHECK(data.dim == dim, "'" << data.source << "' has features of dimension " << data.dim
                                     << " but the " << detector
                                     << " detector was fitted on dimension " << dim);
}

std::unique_ptr<Detector> make_logit_detector(const std::string& name,
                                              const DetectorOptions& options) {
  const LogitScore kind = name == "msp"        ? LogitScore::kMsp
                          : name == "maxlogit" ? LogitScore::kMaxLogit
                                               : LogitScore::kEnergy;
  return std::make_unique<LogitDetector>(name, kind, options.temperature);
}

}  // namespace oodflow::detect
