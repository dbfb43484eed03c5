// Detectors that model the features with Gaussians, in double precision.
//   gaussian: log N(x; mu, S) with one mean and covariance for all training features, the
//             simplest density baseline (what the flow generalises).
//   mahalanobis: max_c -(x - mu_c)^T S^-1 (x - mu_c), class means and one shared covariance
//             (Lee et al., "A Simple Unified Framework for Detecting Out-of-Distribution
//             Samples and Adversarial Attacks", NeurIPS 2018; the penultimate layer, without
//             input pre-processing or feature ensembles).
// The covariance is shrunk towards its mean eigenvalue, (1 - a) S + a tr(S)/d I (a =
// DetectorOptions::shrinkage): with fewer samples than dimensions S is singular and its
// inverse would be NaN or inf.
// Both fit the features as stored by default; --normalize l2 fits them on the unit sphere,
// as the flow sees them: with per_class that is Mahalanobis++ (Mueller & Hein, "Mahalanobis++:
// Improving OOD Detection via Feature Normalization", ICML 2025), the control the flow must
// beat (docs/method.md: a fair comparison).
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/error.h"
#include "oodflow/core/normalizer.h"
#include "tensor_state.h"

namespace oodflow::detect {
namespace {

class GaussianDetector : public Detector {
 public:
  GaussianDetector(bool per_class, double shrinkage, const std::string& normalize)
      : per_class_(per_class), shrinkage_(shrinkage), normalizer_(parse_normalization(normalize)) {}

  std::string name() const override { return per_class_ ? "mahalanobis" : "gaussian"; }
  std::string label() const override {
    return normalizer_.kind() == Normalization::kNone
               ? name()
               : name() + " (" + normalization_name(normalizer_.kind()) + ")";
  }
  Needs needs() const override {
    Needs n;
    n.labels = per_class_;
    return n;
  }

  void fit(const FeatureSet& train, const FitContext&) override {
    torch::NoGradGuard no_grad;
    if (normalizer_.kind() == Normalization::kStandardize) {
      MomentAccumulator moments(train.dim);
      moments.add(train.features.data(), train.rows);
      normalizer_ = moments.finish();
    }
    const torch::Tensor x = normalized(train);
    torch::Tensor centred;
    if (per_class_) {
      require_inputs(needs(), Inputs::of(train), train.source, name());
      const torch::Tensor y = torch::tensor(train.labels, torch::kInt64);
      const torch::Tensor classes = std::get<0>(torch::_unique(y, /*sorted=*/true));
      means_ = torch::stack([&] {
        std::vector<torch::Tensor> m;
        for (std::int64_t c = 0; c < classes.size(0); ++c) {
          m.push_back(x.index({y == classes[c]}).mean(0));
        }
        return m;
      }());
      // Each sample centred on its own class mean: the shared covariance.
      centred = x - means_.index_select(0, torch::searchsorted(classes, y));
    } else {
      means_ = x.mean(0, /*keepdim=*/true);
      centred = x - means_;
    }
    torch::Tensor cov = centred.t().mm(centred) / static_cast<double>(train.rows);
    const double mean_eigenvalue = cov.trace().item<double>() / static_cast<double>(train.dim);
    cov = (1 - shrinkage_) * cov +
          shrinkage_ * mean_eigenvalue * torch::eye(train.dim, torch::kFloat64);
    const auto [chol, info] = torch::linalg_cholesky_ex(cov);
    OODFLOW_CHECK(info.item<int>() == 0,
                  "the covariance of '" << train.source << "' is singular (" << train.rows
                                        << " samples, dimension " << train.dim
                                        << "); raise the shrinkage (now " << shrinkage_ << ")");
    precision_ = torch::cholesky_inverse(chol);
    log_det_ = 2 * chol.diagonal().log().sum().item<double>();
  }

  std::vector<double> score(const FeatureSet& data) const override {
    require_dim(data, means_.size(1), name());
    torch::NoGradGuard no_grad;
    const torch::Tensor x = normalized(data);
    // (x - mu)^T P (x - mu) = x^T P x - 2 x^T P mu + mu^T P mu for every class at once: two
    // matrix products instead of one d x d product per class (100x faster at 100 classes).
    const torch::Tensor xp = x.mm(precision_);
    const torch::Tensor squared = (xp * x).sum(1, /*keepdim=*/true) - 2 * xp.mm(means_.t()) +
                                  (means_.mm(precision_) * means_).sum(1).unsqueeze(0);
    const torch::Tensor best = std::get<0>(squared.min(1));
    torch::Tensor s = -best;
    if (!per_class_) {
      const double dim = static_cast<double>(data.dim);
      s = -0.5 * (best + log_det_ + dim * std::log(2 * M_PI));
    }
    return to_doubles(s);
  }

  std::int64_t feature_dim() const override { return means_.size(1); }

  DetectorState state() const override {
    DetectorState s;
    s.arrays["means"] = to_array(means_);
    s.arrays["precision"] = to_array(precision_);
    nlohmann::json settings = {{"shrinkage", shrinkage_}, {"log_det", log_det_}};
    // Written only when not "none", so that files of the default stay as before.
    if (normalizer_.kind() != Normalization::kNone) {
      settings["normalize"] = normalization_name(normalizer_.kind());
      s.format_version = 2;
    }
    if (normalizer_.kind() == Normalization::kStandardize) {
      auto array = [](const std::vector<float>& v) {
        DetectorState::Array a;
        a.shape = {static_cast<std::int64_t>(v.size())};
        a.values.assign(v.begin(), v.end());
        return a;
      };
      s.arrays["normalize_mean"] = array(normalizer_.mean());
      s.arrays["normalize_std"] = array(normalizer_.std());
    }
    s.settings = settings.dump();
    return s;
  }

  void restore(const DetectorState& s) override {
    means_ = from_array(s, "means");
    precision_ = from_array(s, "precision");
    const auto j = nlohmann::json::parse(s.settings);
    shrinkage_ = j.at("shrinkage").get<double>();
    log_det_ = j.at("log_det").get<double>();
    const Normalization kind = parse_normalization(j.value("normalize", std::string("none")));
    if (kind == Normalization::kStandardize) {
      auto floats = [&](const char* name) {
        const torch::Tensor t = from_array(s, name).to(torch::kFloat32).contiguous();
        return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      };
      normalizer_ = Normalizer::standardize(floats("normalize_mean"), floats("normalize_std"));
    } else {
      normalizer_ = Normalizer(kind);
    }
  }

 private:
  // The rows of `data` after the preprocessing, in double (a copy).
  torch::Tensor normalized(const FeatureSet& data) const {
    if (normalizer_.kind() == Normalization::kNone) {
      return to_double_tensor(data.features, data.rows, data.dim);
    }
    std::vector<float> rows(data.features);
    normalizer_.apply(rows.data(), data.rows, data.dim, data.source, data.first);
    return to_double_tensor(rows, data.rows, data.dim);
  }

  bool per_class_;
  double shrinkage_;
  Normalizer normalizer_;
  torch::Tensor means_;      // [classes or 1, d]
  torch::Tensor precision_;  // [d, d]
  double log_det_ = 0;
};

}  // namespace

std::unique_ptr<Detector> make_gaussian_detector(const std::string& name,
                                                 const DetectorOptions& options) {
  return std::make_unique<GaussianDetector>(name == "mahalanobis", options.shrinkage,
                                            options.gaussian_normalize);
}

}  // namespace oodflow::detect
