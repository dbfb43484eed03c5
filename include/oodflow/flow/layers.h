// The invertible layers of the flows (docs/method.md: the paper's recipe), written in the
// normalizing direction x -> z that training and scoring use. Inputs are row batches [B, d]; every
// forward returns the output [B, d] and the per-sample log|det dy/dx| [B] in nats.
#pragma once

#include <torch/nn/module.h>

#include <utility>

namespace oodflow::flow {

using torch::Tensor;

/// A bijection on R^d with a tractable Jacobian determinant.
class FlowLayer : public torch::nn::Module {
 public:
  /// y = f(x) and log|det J_f(x)| per row.
  virtual std::pair<Tensor, Tensor> forward(const Tensor& x) = 0;
  /// x = f^{-1}(y).
  virtual Tensor inverse(const Tensor& y) = 0;
  /// Data-dependent initialisation from the first training batch (ActNorm only).
  virtual void data_init(const Tensor& /*x*/) {}

  /// Converts the floating-point parameters and buffers only: LibTorch's Module::to(dtype)
  /// would also turn the integer index buffers into floats.
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  using torch::nn::Module::to;
};

/// y = (x - shift) * exp(-log_scale); data_init sets shift = mean, exp(log_scale) = std of the
/// batch, so that the output has zero mean and unit variance per dimension. A dimension that
/// is constant in the batch (a dead ReLU unit) gets the gain 1 / (1e-3 x the typical std)
/// in the flow's input layer (`input_layer`), where it marks samples that vary there as far
/// out, and gain 1 in the later layers: one such gain per block would multiply the first
/// training steps' changes there by 1e3 per block (RealNVP reached an NLL of 1e20).
class ActNorm : public FlowLayer {
 public:
  explicit ActNorm(std::int64_t dim, bool input_layer = false);
  std::pair<Tensor, Tensor> forward(const Tensor& x) override;
  Tensor inverse(const Tensor& y) override;
  void data_init(const Tensor& x) override;

  Tensor shift;
  Tensor log_scale;

 private:
  bool input_layer_;
};

/// Glow's invertible 1x1 convolution on a vector, LU-parameterised:
/// W = P L (U + diag(sign * exp(log_s))), y = W x, log|det W| = sum(log_s).
/// L's strict lower triangle and U's strict upper triangle share one d x d parameter `lu`
/// (its diagonal is unused): the same function as two triangular parameters, with half the
/// memory and optimiser work, since Adam leaves entries with zero gradient untouched.
class InvertibleLinear : public FlowLayer {
 public:
  /// Initialised from a random orthogonal matrix drawn with torch's current generator, or,
  /// with `random_init` false, as the identity (parameters about to be loaded).
  explicit InvertibleLinear(std::int64_t dim, bool random_init = true);
  std::pair<Tensor, Tensor> forward(const Tensor& x) override;
  Tensor inverse(const Tensor& y) override;
  /// The unit lower triangular L and the upper triangular U (with its diagonal).
  Tensor lower_factor() const;
  Tensor upper_factor() const;
  /// The dense matrix W (for tests and diagnostics; the forward never forms it).
  Tensor weight() const;
  /// Sets the parameters so that the layer computes y = W x for an invertible W [d, d]
  /// (LU with partial pivoting in double precision, as the random initialisation).
  void set_weight(const Tensor& w);

  Tensor row_perm;  ///< buffer: (P v)_i = v[row_perm[i]]
  Tensor sign;      ///< buffer: signs of U's diagonal
  Tensor lu;        ///< strict lower triangle: L; strict upper triangle: U
  Tensor log_s;

 private:
  Tensor inverse_row_perm() const;
  // 0/1 masks of lu's strict triangles, on lu's device (not buffers: not in the file).
  const Tensor& strict_mask(bool lower);
  Tensor lower_mask_, upper_mask_;
};

/// Masked affine coupling with mask b (1 = conditioning dimension):
/// y = b*x + (1-b) * (x * exp(s(b*x)) + t(b*x)), log-det = sum over (1-b) dims of s.
/// s and t are separate MLPs d -> hidden -> d with ReLU. Exact fast path: they read only the
/// conditioning dimensions and produce only the transformed ones, so the weights that the
/// mask multiplies by zero are not stored (they get zero gradient in the masked form too).
class AffineCoupling : public FlowLayer {
 public:
  /// `condition_on_even`: b = [1,0,1,0,...] when true, its complement when false.
  AffineCoupling(std::int64_t dim, std::int64_t hidden, bool condition_on_even, double scale_clamp);
  std::pair<Tensor, Tensor> forward(const Tensor& x) override;
  Tensor inverse(const Tensor& y) override;
  /// The log-scale s and shift t for the transformed dimensions, from the conditioning ones.
  std::pair<Tensor, Tensor> scale_shift(const Tensor& x_cond) const;

  Tensor cond_index;   ///< buffer: dimensions with b = 1
  Tensor trans_index;  ///< buffer: dimensions with b = 0
  Tensor merge_index;  ///< buffer: cat(cond, trans) columns back to 0..d-1
  // (The three index buffers describe the split in the flow file; the computation takes
  // the columns by parity, cond_parity_.)
  Tensor in_weight;     ///< [2*hidden, n_cond]: first layers of s (rows < hidden) and t
  Tensor in_bias;       ///< [2*hidden]
  Tensor s_out_weight;  ///< [n_trans, hidden], zero-initialised
  Tensor s_out_bias;    ///< [n_trans], zero-initialised
  Tensor t_out_weight;  ///< [n_trans, hidden], zero-initialised
  Tensor t_out_bias;    ///< [n_trans], zero-initialised
  std::int64_t hidden;
  double scale_clamp;

 private:
  // The columns of one parity as a contiguous [rows, n] tensor, and the inverse: x's columns
  // interleaved back from its conditioning and transformed parts. Strided slices, whose
  // backward is a strided copy, where index_select's backward scatters column by column
  // (index_add_; with the 1x1 layer's gather backward, a step at d = 512 went from 165-179
  // to 150-156 ms).
  Tensor columns(const Tensor& x, bool conditioning) const;
  Tensor interleave(const Tensor& cond, const Tensor& trans) const;
  std::int64_t cond_parity_;  ///< 0: the even columns condition, 1: the odd ones
};

}  // namespace oodflow::flow
