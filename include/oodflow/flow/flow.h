// A normalizing flow over feature vectors: a stack of FlowLayers mapping a feature x to a
// latent z with a standard-normal base, so log p(x) = log N(z; 0, I) + sum of log-dets (nats).
// Higher log p = more in-distribution: it is the OOD score.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <utility>
#include <vector>

#include "oodflow/flow/flow_config.h"
#include "oodflow/flow/layers.h"

namespace oodflow::flow {

class Flow : public torch::nn::Module {
 public:
  /// Builds the layers of `config` (validated); random parts use torch's current generator.
  /// `random_init` = false skips the random orthogonal initialisation (for loading a file,
  /// which overwrites every parameter anyway; at d=2048 the QR and LU take seconds).
  explicit Flow(const FlowConfig& config, bool random_init = true);

  /// z [B, d] and the summed log|det dz/dx| [B].
  std::pair<Tensor, Tensor> forward(const Tensor& x);
  /// x from z [B, d].
  Tensor inverse(const Tensor& z);
  /// log p(x) in nats, [B].
  Tensor log_prob(const Tensor& x);
  /// Runs the data-dependent initialisation of every ActNorm on a batch, in order.
  void data_init(const Tensor& x);

  const FlowConfig& config() const { return config_; }
  const std::vector<std::shared_ptr<FlowLayer>>& layers() const { return layers_; }

 private:
  FlowConfig config_;
  std::vector<std::shared_ptr<FlowLayer>> layers_;
};

/// log N(z; 0, I) per row, [B].
Tensor standard_normal_log_prob(const Tensor& z);

}  // namespace oodflow::flow
