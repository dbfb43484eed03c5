#include "oodflow/flow/flow.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

namespace oodflow::flow {

Flow::Flow(const FlowConfig& config, bool random_init) : config_(config) {
  validate(config_);
  auto add = [this](std::shared_ptr<FlowLayer> layer) {
    layers_.push_back(register_module(std::to_string(layers_.size()), std::move(layer)));
  };
  const auto d = config_.dim;
  for (std::int64_t k = 0; k < config_.blocks; ++k) {
    // The first ActNorm sees the features themselves (RealNVP's first coupling starts as the
    // identity).
    if (config_.arch == "glow") {
      add(std::make_shared<ActNorm>(d, /*input_layer=*/k == 0));
      add(std::make_shared<InvertibleLinear>(d, random_init));
      add(std::make_shared<AffineCoupling>(d, config_.hidden, /*condition_on_even=*/true,
                                           config_.scale_clamp));
    } else {  // realnvp: masks alternate so that every dimension gets transformed
      add(std::make_shared<AffineCoupling>(d, config_.hidden, /*condition_on_even=*/k % 2 == 0,
                                           config_.scale_clamp));
      add(std::make_shared<ActNorm>(d, /*input_layer=*/k == 0));
    }
  }
  if (config_.base == "class") {
    class_means = register_parameter("class_means", torch::zeros({config_.classes, d}));
    class_log_prior = register_buffer(
        "class_log_prior",
        torch::full({config_.classes}, -std::log(static_cast<double>(config_.classes))));
  }
}

std::pair<Tensor, Tensor> Flow::forward(const Tensor& x) {
  Tensor h = x;
  Tensor logdet = torch::zeros({x.size(0)}, x.options());
  for (auto& layer : layers_) {
    auto [y, ld] = layer->forward(h);
    h = y;
    logdet = logdet + ld;
  }
  return {h, logdet};
}

Tensor Flow::inverse(const Tensor& z) {
  Tensor h = z;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) h = (*it)->inverse(h);
  return h;
}

Tensor Flow::log_prob(const Tensor& x) {
  if (config_.base != "class" || config_.class_score == "marginal") return log_density(x);
  return std::get<0>(class_log_likelihoods(x).max(1));
}

Tensor Flow::log_density(const Tensor& x) {
  if (config_.base != "class") {
    auto [z, logdet] = forward(x);
    return standard_normal_log_prob(z) + logdet;
  }
  return torch::logsumexp(class_log_likelihoods(x) + class_log_prior, 1);
}

Tensor Flow::class_log_likelihoods(const Tensor& x) {
  auto [z, logdet] = forward(x);
  // log N(z; m_c, I) = log N(z; 0, I) + z.m_c - |m_c|^2 / 2: one [B, d] x [d, C] product.
  const Tensor cross = torch::addmm(-0.5 * class_means.pow(2).sum(1), z, class_means.t());
  return cross + (standard_normal_log_prob(z) + logdet).unsqueeze(1);
}

Tensor Flow::training_log_likelihood(const Tensor& x, const Tensor& labels) {
  if (config_.base != "class") return log_density(x);
  auto [z, logdet] = forward(x);
  return standard_normal_log_prob(z - class_means.index_select(0, labels)) + logdet;
}

void Flow::init_class_base(const Tensor& feature_means, const Tensor& priors) {
  torch::NoGradGuard no_grad;
  const auto options = class_means.options();
  class_means.copy_(forward(feature_means.to(options)).first);
  class_log_prior.copy_(torch::log(priors).to(options));
}

void Flow::data_init(const Tensor& x) {
  torch::NoGradGuard no_grad;
  Tensor h = x;
  for (auto& layer : layers_) {
    layer->data_init(h);
    h = layer->forward(h).first;
  }
}

Tensor standard_normal_log_prob(const Tensor& z) {
  const double log_two_pi = std::log(2.0 * M_PI);
  return -0.5 * z.pow(2).sum(1) - 0.5 * static_cast<double>(z.size(1)) * log_two_pi;
}

}  // namespace oodflow::flow
