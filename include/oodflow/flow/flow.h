// A normalizing flow over feature vectors: a stack of FlowLayers mapping a feature x to a
// latent z, so log p(x) = log p_base(z) + sum of log-dets (nats). The base is N(0, I) (the
// paper) or, with FlowConfig::base "class", a mixture of N(m_c, I) over the ID classes with
// fixed weights pi_c. Higher log p = more in-distribution: it is the OOD score.
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
  /// The OOD score in nats, [B]: log p(x); with a class base, log sum_c pi_c p(x | c)
  /// ("marginal") or max_c log p(x | c) ("max"), as FlowConfig::class_score says.
  Tensor log_prob(const Tensor& x);
  /// log p(x) in nats [B] (the marginal with a class base): what the held-out NLL measures.
  Tensor log_density(const Tensor& x);
  /// Class base only: log p(x | c) in nats, [B, C].
  Tensor class_log_likelihoods(const Tensor& x);
  /// The training loss's log-likelihood [B]: log p(x), or log p(x | c = labels) with a class
  /// base (labels: int64 [B], class indices 0..C-1).
  Tensor training_log_likelihood(const Tensor& x, const Tensor& labels);
  /// Class base only: m_c = f(feature_means[c]) (exact while the couplings are the identity,
  /// which makes f affine) and pi_c = priors[c]. feature_means [C, d], priors [C] > 0.
  void init_class_base(const Tensor& feature_means, const Tensor& priors);
  /// Runs the data-dependent initialisation of every ActNorm on a batch, in order.
  void data_init(const Tensor& x);

  const FlowConfig& config() const { return config_; }
  const std::vector<std::shared_ptr<FlowLayer>>& layers() const { return layers_; }

 private:
  FlowConfig config_;
  std::vector<std::shared_ptr<FlowLayer>> layers_;

 public:
  /// Class base: latent class means [C, d] (parameter) and log pi_c [C] (buffer); undefined
  /// with the normal base.
  Tensor class_means;
  Tensor class_log_prior;
};

/// log N(z; 0, I) per row, [B].
Tensor standard_normal_log_prob(const Tensor& z);

}  // namespace oodflow::flow
