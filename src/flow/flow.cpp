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
  auto [z, logdet] = forward(x);
  return standard_normal_log_prob(z) + logdet;
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
