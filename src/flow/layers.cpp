#include "oodflow/flow/layers.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/linalg.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace oodflow::flow {
namespace {

// PyTorch's nn.Linear default initialisation bound: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
// fan_in is the full d of the reference's masked MLP, not the conditioning half.
Tensor linear_default_init(std::vector<std::int64_t> shape, std::int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  // The default CPU generator named, as uniform_ would take it: the same draws, and no empty
  // optional<Generator> for GCC's sanitizer build to warn about (-Wmaybe-uninitialized).
  return torch::empty(shape, torch::kFloat32)
      .uniform_(-bound, bound, at::detail::getDefaultCPUGenerator());
}

Tensor parity_index(std::int64_t dim, std::int64_t parity) {
  return torch::arange(parity, dim, 2, torch::kLong);
}

// x's columns permuted, y[:, i] = x[:, perm[i]], whose backward gathers the gradient's columns
// by the inverse permutation: the same values as index_select's backward (index_add_ into
// zeros, where every column receives exactly one gradient column) without its slow scatter.
class PermuteColumns : public torch::autograd::Function<PermuteColumns> {
 public:
  static Tensor forward(torch::autograd::AutogradContext* ctx, const Tensor& x, const Tensor& perm,
                        const Tensor& inverse_perm) {
    ctx->saved_data["inverse_perm"] = inverse_perm;
    return x.index_select(1, perm);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const Tensor inverse_perm = ctx->saved_data["inverse_perm"].toTensor();
    return {grads[0].index_select(1, inverse_perm), Tensor(), Tensor()};
  }
};

// lu's strict lower and strict upper triangles as two matrices (zeros elsewhere), for a CPU
// float32 lu: one pass that copies rows, where the mask products took two passes forward and
// three backward over d x d and kept two masks per layer (at d = 2048 peak memory went from
// 3.20 to 2.68 GB; the speed did not change beyond the noise). The same values: a
// product by the mask gives each entry or a zero (whose sign no sum sees), and the
// gradient of lu is each entry's gradient from the one triangle that holds it.
class StrictTriangles : public torch::autograd::Function<StrictTriangles> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* /*ctx*/,
                                                const Tensor& lu) {
    const std::int64_t d = lu.size(0);
    Tensor lower = torch::empty_like(lu, torch::MemoryFormat::Contiguous);
    Tensor upper = torch::empty_like(lu, torch::MemoryFormat::Contiguous);
    const float* source = lu.data_ptr<float>();
    float* l = lower.data_ptr<float>();
    float* u = upper.data_ptr<float>();
    for (std::int64_t i = 0; i < d; ++i) {
      const auto row = static_cast<std::size_t>(i * d);
      const auto before = static_cast<std::size_t>(i);         // columns j < i
      const auto after = static_cast<std::size_t>(d - i - 1);  // columns j > i
      std::memcpy(l + row, source + row, before * sizeof(float));
      std::memset(l + row + before, 0, (after + 1) * sizeof(float));
      std::memset(u + row, 0, (before + 1) * sizeof(float));
      std::memcpy(u + row + before + 1, source + row + before + 1, after * sizeof(float));
    }
    return {lower, upper};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* /*ctx*/,
                                                 torch::autograd::variable_list grads) {
    const Tensor& grad_lower = grads[0];
    const Tensor& grad_upper = grads[1];
    const Tensor& any = grad_lower.defined() ? grad_lower : grad_upper;
    const std::int64_t d = any.size(0);
    Tensor grad =
        torch::zeros({d, d}, any.options().memory_format(torch::MemoryFormat::Contiguous));
    float* out = grad.data_ptr<float>();
    // The incoming gradients are often transposed views (the products use the factors'
    // transposes): tiles keep both the strided reads and the writes in cache.
    constexpr std::int64_t kTile = 64;
    auto take = [&](const Tensor& g, bool lower_part) {
      if (!g.defined()) return;
      const float* in = g.data_ptr<float>();  // float32: the gradient of a float32 lu
      const std::int64_t row_stride = g.stride(0), col_stride = g.stride(1);
      for (std::int64_t i0 = 0; i0 < d; i0 += kTile) {
        for (std::int64_t j0 = 0; j0 < d; j0 += kTile) {
          if (lower_part ? j0 > i0 + kTile - 1 : j0 + kTile - 1 < i0) continue;
          const std::int64_t i1 = std::min(d, i0 + kTile), j1 = std::min(d, j0 + kTile);
          for (std::int64_t i = i0; i < i1; ++i) {
            const std::int64_t begin = lower_part ? j0 : std::max(j0, i + 1);
            const std::int64_t end = lower_part ? std::min(j1, i) : j1;
            for (std::int64_t j = begin; j < end; ++j) {
              out[i * d + j] = in[i * row_stride + j * col_stride];
            }
          }
        }
      }
    };
    take(grad_lower, true);
    take(grad_upper, false);
    return {grad};
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
void FlowLayer::to(torch::Dtype dtype, bool non_blocking) {
  for (auto& p : parameters(/*recurse=*/false)) p.set_data(p.data().to(dtype, non_blocking));
  for (auto& b : buffers(/*recurse=*/false)) {
    if (b.is_floating_point()) b.set_data(b.to(dtype, non_blocking));
  }
}

void FlowLayer::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  to(device, non_blocking);
  to(dtype, non_blocking);
}

// ---------------------------------------------------------------------------------------------
ActNorm::ActNorm(std::int64_t dim, bool input_layer) : input_layer_(input_layer) {
  shift = register_parameter("shift", torch::zeros({dim}));
  log_scale = register_parameter("log_scale", torch::zeros({dim}));
}

std::pair<Tensor, Tensor> ActNorm::forward(const Tensor& x) {
  const Tensor y = (x - shift) * torch::exp(-log_scale);
  const Tensor logdet = (-log_scale.sum()).expand({x.size(0)});
  return {y, logdet};
}

Tensor ActNorm::inverse(const Tensor& y) {
  return y * torch::exp(log_scale) + shift;
}

void ActNorm::data_init(const Tensor& x) {
  torch::NoGradGuard no_grad;
  const Tensor mean = x.mean(0);
  // Population std, plus 1e-6 so that a nearly constant dimension does not give log(0).
  // An exactly constant one (see the class comment) would otherwise get a gain of 1e6, and
  // Adam's first steps on its shift would move every sample by 1e6 x lr there, which
  // diverges the training.
  Tensor std = (x - mean).pow(2).mean(0).sqrt();
  const Tensor constant = std == 0;
  const double typical = std.pow(2).mean().sqrt().item<double>();
  std = std + 1e-6;
  if (input_layer_) {
    std = torch::where(constant, torch::clamp_min(std, 1e-3 * typical), std);
  } else {
    std = torch::where(constant, torch::ones_like(std), std);
  }
  shift.copy_(mean);
  log_scale.copy_(torch::log(std));
}

// ---------------------------------------------------------------------------------------------
InvertibleLinear::InvertibleLinear(std::int64_t dim, bool random_init) {
  torch::NoGradGuard no_grad;
  row_perm = register_buffer("row_perm", torch::zeros({dim}, torch::kLong));
  sign = register_buffer("sign", torch::zeros({dim}));
  lu = register_parameter("lu", torch::zeros({dim, dim}));
  log_s = register_parameter("log_s", torch::zeros({dim}));
  set_weight(random_init ? std::get<0>(torch::linalg::qr(torch::randn({dim, dim}, torch::kFloat64)))
                         : torch::eye(dim, torch::kFloat64));
}

void InvertibleLinear::set_weight(const Tensor& w) {
  torch::NoGradGuard no_grad;
  auto [p, l, u] = at::linalg_lu(w.to(torch::kCPU, torch::kFloat64));
  const Tensor diag = u.diagonal();
  const auto device = lu.device();
  row_perm.copy_(p.argmax(1).to(device, torch::kLong));
  sign.copy_(torch::sign(diag).to(device, sign.scalar_type()));
  lu.copy_((torch::tril(l, -1) + torch::triu(u, 1)).to(device, lu.scalar_type()));
  log_s.copy_(torch::log(torch::abs(diag)).to(device, log_s.scalar_type()));
}

const Tensor& InvertibleLinear::strict_mask(bool lower) {
  Tensor& mask = lower ? lower_mask_ : upper_mask_;
  if (!mask.defined() || mask.device() != lu.device() || mask.scalar_type() != lu.scalar_type()) {
    const Tensor ones = torch::ones_like(lu, torch::MemoryFormat::Contiguous);
    mask = lower ? torch::tril(ones, -1) : torch::triu(ones, 1);
  }
  return mask;
}

Tensor InvertibleLinear::lower_factor() const {
  return torch::tril(lu, -1) + torch::eye(lu.size(0), lu.options());
}

Tensor InvertibleLinear::upper_factor() const {
  return torch::triu(lu, 1) + torch::diag(sign * torch::exp(log_s));
}

std::pair<Tensor, Tensor> InvertibleLinear::forward(const Tensor& x) {
  // Row batch: y = x W^T = x U^T L^T P^T. The factors are applied one by one (two B x d x d
  // products) instead of forming W (a d x d x d product per batch). The diagonal and unit
  // diagonal enter as elementwise terms, so only the strict triangles go through GEMMs.
  // The strict triangles by StrictTriangles on the CPU, else by mask products (tril/triu
  // took four times as long): the same values either way (the masked entries only change
  // the sign of zeros, which the sums absorb; the flow files of a given seed are unchanged,
  // checked by hand on glow and realnvp).
  const Tensor u_diag = sign * torch::exp(log_s);
  Tensor strict_lower, strict_upper;
  if (lu.device().is_cpu() && lu.scalar_type() == torch::kFloat32 && lu.is_contiguous()) {
    auto triangles = StrictTriangles::apply(lu);
    strict_lower = triangles[0];
    strict_upper = triangles[1];
  } else {
    strict_lower = lu * strict_mask(true);
    strict_upper = lu * strict_mask(false);
  }
  Tensor h = torch::addmm(x * u_diag, x, strict_upper.t());
  h = torch::addmm(h, h, strict_lower.t());
  const Tensor y = PermuteColumns::apply(h, row_perm, inverse_row_perm());
  return {y, log_s.sum().expand({x.size(0)})};
}

Tensor InvertibleLinear::inverse_row_perm() const {
  Tensor inverse = torch::empty_like(row_perm);
  inverse.index_put_({row_perm}, torch::arange(row_perm.size(0), row_perm.options()));
  return inverse;
}

Tensor InvertibleLinear::inverse(const Tensor& y) {
  const Tensor h = y.index_select(1, inverse_row_perm()).t();
  const Tensor g = torch::linalg_solve_triangular(lower_factor(), h, /*upper=*/false,
                                                  /*left=*/true, /*unitriangular=*/true);
  return torch::linalg_solve_triangular(upper_factor(), g, /*upper=*/true).t();
}

Tensor InvertibleLinear::weight() const {
  return lower_factor().matmul(upper_factor()).index_select(0, row_perm);
}

// ---------------------------------------------------------------------------------------------
AffineCoupling::AffineCoupling(std::int64_t dim, std::int64_t hidden_width, bool condition_on_even,
                               double clamp)
    : hidden(hidden_width), scale_clamp(clamp), cond_parity_(condition_on_even ? 0 : 1) {
  cond_index = register_buffer("cond_index", parity_index(dim, condition_on_even ? 0 : 1));
  trans_index = register_buffer("trans_index", parity_index(dim, condition_on_even ? 1 : 0));
  merge_index =
      register_buffer("merge_index", torch::argsort(torch::cat({cond_index, trans_index})));
  const auto n_cond = cond_index.size(0);
  const auto n_trans = trans_index.size(0);
  in_weight = register_parameter("in_weight", linear_default_init({2 * hidden, n_cond}, dim));
  in_bias = register_parameter("in_bias", linear_default_init({2 * hidden}, dim));
  s_out_weight = register_parameter("s_out_weight", torch::zeros({n_trans, hidden}));
  s_out_bias = register_parameter("s_out_bias", torch::zeros({n_trans}));
  t_out_weight = register_parameter("t_out_weight", torch::zeros({n_trans, hidden}));
  t_out_bias = register_parameter("t_out_bias", torch::zeros({n_trans}));
}

std::pair<Tensor, Tensor> AffineCoupling::scale_shift(const Tensor& x_cond) const {
  // One GEMM for the first layers of both MLPs, which read the same input.
  const Tensor h = torch::relu(torch::addmm(in_bias, x_cond, in_weight.t()));
  Tensor s = torch::addmm(s_out_bias, h.narrow(1, 0, hidden), s_out_weight.t());
  const Tensor t = torch::addmm(t_out_bias, h.narrow(1, hidden, hidden), t_out_weight.t());
  if (scale_clamp > 0) s = scale_clamp * torch::tanh(s / scale_clamp);
  return {s, t};
}

Tensor AffineCoupling::columns(const Tensor& x, bool conditioning) const {
  const std::int64_t parity = conditioning ? cond_parity_ : 1 - cond_parity_;
  return x.slice(1, parity, x.size(1), 2).contiguous();
}

Tensor AffineCoupling::interleave(const Tensor& cond, const Tensor& trans) const {
  const std::int64_t d = cond.size(1) + trans.size(1);
  Tensor out = torch::empty({cond.size(0), d}, cond.options());
  out.slice(1, cond_parity_, d, 2).copy_(cond);
  out.slice(1, 1 - cond_parity_, d, 2).copy_(trans);
  return out;
}

std::pair<Tensor, Tensor> AffineCoupling::forward(const Tensor& x) {
  const Tensor x_cond = columns(x, true);
  const Tensor x_trans = columns(x, false);
  auto [s, t] = scale_shift(x_cond);
  const Tensor y_trans = x_trans * torch::exp(s) + t;
  return {interleave(x_cond, y_trans), s.sum(1)};
}

Tensor AffineCoupling::inverse(const Tensor& y) {
  const Tensor y_cond = columns(y, true);
  const Tensor y_trans = columns(y, false);
  auto [s, t] = scale_shift(y_cond);
  const Tensor x_trans = (y_trans - t) * torch::exp(-s);
  return interleave(y_cond, x_trans);
}

}  // namespace oodflow::flow
