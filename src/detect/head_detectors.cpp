// Detectors that recompute logits from the features with the backbone's classifier head
// (logits = h W^T + b), in double precision.
//   react: energy of the logits of the features clipped at the p-th percentile of all ID
//          training activations, p = 90 (Sun et al., "ReAct: Out-of-distribution Detection
//          With Rectified Activations", NeurIPS 2021).
//   vim:   logsumexp(logits) - alpha ||P (h - u)||, with u = -pinv(W) b, P the projection on
//          the complement of the top principal subspace of the ID training features about u
//          (1000 dimensions for D >= 2048, 512 for D >= 768, D/2 otherwise), and alpha the
//          mean training max-logit over the mean training residual norm (Wang et al., "ViM:
//          Out-Of-Distribution with Virtual-logit Matching", CVPR 2022).
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/error.h"
#include "tensor_state.h"

namespace oodflow::detect {
namespace {

void require_head(const FeatureSet& data, const ClassifierHead* head, const std::string& detector) {
  OODFLOW_CHECK(head != nullptr && head->classes > 0,
                "the " << detector << " detector needs the classifier head of the backbone that "
                       << "made '" << data.source << "': give the backbone with --backbone "
                       << "BACKBONE.pt (scripts/export_backbone.py keeps it as submodule "
                          "'head')");
  OODFLOW_CHECK(head->dim == data.dim, "the classifier head '" << head->source << "' takes "
                                                               << head->dim << " features but '"
                                                               << data.source << "' has "
                                                               << data.dim);
}

// Both read the features and recompute logits with the backbone's head.
Needs head_needs() {
  Needs n;
  n.classifier_head = true;
  return n;
}

// The head shared by both: W [C, D] and b [C] as doubles.
struct Head {
  torch::Tensor weight;
  torch::Tensor bias;

  void set(const ClassifierHead& h) {
    weight = to_double_tensor(h.weight, h.classes, h.dim);
    bias = torch::tensor(std::vector<double>(h.bias.begin(), h.bias.end()), torch::kFloat64);
  }
  torch::Tensor logits(const torch::Tensor& features) const {
    return features.mm(weight.t()) + bias;
  }
};

class ReactDetector : public Detector {
 public:
  explicit ReactDetector(double percentile) : percentile_(percentile) {}
  std::string name() const override { return "react"; }
  Needs needs() const override { return head_needs(); }

  void fit(const FeatureSet& train, const FitContext& context) override {
    require_head(train, context.head, name());
    torch::NoGradGuard no_grad;
    head_.set(*context.head);
    // numpy's percentile: linear interpolation between the order statistics.
    const torch::Tensor all =
        std::get<0>(to_double_tensor(train.features, 1, train.rows * train.dim).flatten().sort());
    const double position = percentile_ / 100.0 * static_cast<double>(all.size(0) - 1);
    const auto below = static_cast<std::int64_t>(position);
    const std::int64_t above = std::min(below + 1, all.size(0) - 1);
    const double lo = all[below].item<double>();
    const double hi = all[above].item<double>();
    clip_ = lo + (hi - lo) * (position - static_cast<double>(below));
  }

  std::vector<double> score(const FeatureSet& data) const override {
    require_dim(data, head_.weight.size(1), name());
    torch::NoGradGuard no_grad;
    const torch::Tensor h = to_double_tensor(data.features, data.rows, data.dim).clamp_max(clip_);
    return to_doubles(torch::logsumexp(head_.logits(h), 1));
  }

  std::int64_t feature_dim() const override { return head_.weight.size(1); }

  DetectorState state() const override {
    DetectorState s;
    s.arrays["weight"] = to_array(head_.weight);
    s.arrays["bias"] = to_array(head_.bias);
    s.settings = nlohmann::json{{"percentile", percentile_}, {"clip", clip_}}.dump();
    return s;
  }
  void restore(const DetectorState& s) override {
    head_.weight = from_array(s, "weight");
    head_.bias = from_array(s, "bias");
    const auto j = nlohmann::json::parse(s.settings);
    percentile_ = j.at("percentile").get<double>();
    clip_ = j.at("clip").get<double>();
  }

 private:
  double percentile_;
  double clip_ = 0;
  Head head_;
};

class VimDetector : public Detector {
 public:
  explicit VimDetector(std::int64_t principal) : principal_(principal) {}
  std::string name() const override { return "vim"; }
  Needs needs() const override { return head_needs(); }

  void fit(const FeatureSet& train, const FitContext& context) override {
    require_head(train, context.head, name());
    torch::NoGradGuard no_grad;
    head_.set(*context.head);
    const std::int64_t d = train.dim;
    const std::int64_t principal = principal_ > 0 ? principal_
                                   : d >= 2048    ? 1000
                                   : d >= 768     ? 512
                                                  : d / 2;
    OODFLOW_CHECK(principal >= 1 && principal < d, "vim: the principal subspace must have 1 to "
                                                       << d - 1 << " dimensions, got "
                                                       << principal);
    origin_ = -torch::linalg_pinv(head_.weight).mv(head_.bias);
    const torch::Tensor x = to_double_tensor(train.features, train.rows, d) - origin_;
    // Covariance about the origin u (not about the mean), as the paper's code.
    const torch::Tensor cov = x.t().mm(x) / static_cast<double>(train.rows);
    const torch::Tensor vectors = std::get<1>(torch::linalg_eigh(cov));  // ascending
    residual_basis_ = vectors.narrow(1, 0, d - principal);
    const torch::Tensor residual = x.mm(residual_basis_).norm(2, 1);
    const torch::Tensor max_logit = std::get<0>(head_.logits(x + origin_).max(1));
    alpha_ = max_logit.mean().item<double>() / residual.mean().item<double>();
  }

  std::vector<double> score(const FeatureSet& data) const override {
    require_dim(data, head_.weight.size(1), name());
    torch::NoGradGuard no_grad;
    const torch::Tensor h = to_double_tensor(data.features, data.rows, data.dim);
    const torch::Tensor virtual_logit = alpha_ * (h - origin_).mm(residual_basis_).norm(2, 1);
    return to_doubles(torch::logsumexp(head_.logits(h), 1) - virtual_logit);
  }

  std::int64_t feature_dim() const override { return head_.weight.size(1); }

  DetectorState state() const override {
    DetectorState s;
    s.arrays["weight"] = to_array(head_.weight);
    s.arrays["bias"] = to_array(head_.bias);
    s.arrays["origin"] = to_array(origin_);
    s.arrays["residual_basis"] = to_array(residual_basis_);
    s.settings = nlohmann::json{{"principal", principal_}, {"alpha", alpha_}}.dump();
    return s;
  }
  void restore(const DetectorState& s) override {
    head_.weight = from_array(s, "weight");
    head_.bias = from_array(s, "bias");
    origin_ = from_array(s, "origin");
    residual_basis_ = from_array(s, "residual_basis");
    const auto j = nlohmann::json::parse(s.settings);
    principal_ = j.at("principal").get<std::int64_t>();
    alpha_ = j.at("alpha").get<double>();
  }

 private:
  std::int64_t principal_;
  Head head_;
  torch::Tensor origin_;          // u = -pinv(W) b, [D]
  torch::Tensor residual_basis_;  // [D, D - principal]
  double alpha_ = 0;
};

}  // namespace

std::unique_ptr<Detector> make_head_detector(const std::string& name,
                                             const DetectorOptions& options) {
  if (name == "react") return std::make_unique<ReactDetector>(options.react_percentile);
  return std::make_unique<VimDetector>(options.vim_principal);
}

}  // namespace oodflow::detect
