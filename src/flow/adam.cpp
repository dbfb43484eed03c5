#include "oodflow/flow/adam.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "adam_kernel.h"

namespace oodflow::flow {
namespace {

// Pieces of about a million elements, dealt to the threads in turn: the update is
// elementwise, so how it is split changes no result.
constexpr std::int64_t kPieceElements = std::int64_t{1} << 20;

struct Piece {
  float *p, *m, *v;
  const float* g;
  std::int64_t n;
  detail::AdamConstants constants;
};

}  // namespace

Adam::Adam(std::vector<torch::Tensor> parameters, double lr, int threads, double beta1,
           double beta2, double eps)
    : parameters_(std::move(parameters)),
      state_(parameters_.size()),
      lr_(lr),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      threads_(std::max(1, threads)) {}

void Adam::step() {
  torch::NoGradGuard no_grad;
  std::vector<Piece> pieces;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    torch::Tensor& p = parameters_[i];
    const torch::Tensor& grad = p.grad();
    if (!grad.defined()) continue;
    State& s = state_[i];
    if (!s.exp_avg.defined()) {
      s.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
      s.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    }
    ++s.step;
    // As LibTorch 1.13's torch::optim::Adam: the corrections in double, then each scalar
    // rounded to the parameter's type where its tensor operations round it.
    const double bias_correction1 = 1 - std::pow(beta1_, static_cast<double>(s.step));
    const double bias_correction2 = 1 - std::pow(beta2_, static_cast<double>(s.step));
    const double step_size = lr_ / bias_correction1;
    const bool fused = p.device().is_cpu() && p.scalar_type() == torch::kFloat32 &&
                       p.is_contiguous() && grad.is_contiguous() &&
                       grad.scalar_type() == torch::kFloat32 && s.exp_avg.is_contiguous() &&
                       s.exp_avg_sq.is_contiguous();
    if (!fused) {
      s.exp_avg.mul_(beta1_).add_(grad, 1 - beta1_);
      s.exp_avg_sq.mul_(beta2_).addcmul_(grad, grad, 1 - beta2_);
      const torch::Tensor denom = (s.exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(eps_);
      p.addcdiv_(s.exp_avg, denom, -step_size);
      continue;
    }
    const detail::AdamConstants c{static_cast<float>(beta1_),
                                  static_cast<float>(1 - beta1_),
                                  static_cast<float>(beta2_),
                                  static_cast<float>(1 - beta2_),
                                  static_cast<float>(std::sqrt(bias_correction2)),
                                  static_cast<float>(eps_),
                                  static_cast<float>(-step_size)};
    float* pp = p.data_ptr<float>();
    float* mp = s.exp_avg.data_ptr<float>();
    float* vp = s.exp_avg_sq.data_ptr<float>();
    const float* gp = grad.data_ptr<float>();
    const std::int64_t n = p.numel();
    for (std::int64_t begin = 0; begin < n; begin += kPieceElements) {
      const std::int64_t count = std::min(kPieceElements, n - begin);
      pieces.push_back({pp + begin, mp + begin, vp + begin, gp + begin, count, c});
    }
  }
  const int workers =
      static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads_), pieces.size()));
  auto run = [&pieces, workers](int worker) {
    for (std::size_t k = static_cast<std::size_t>(worker); k < pieces.size();
         k += static_cast<std::size_t>(workers)) {
      const Piece& piece = pieces[k];
      detail::adam_update(piece.p, piece.g, piece.m, piece.v, piece.n, piece.constants);
    }
  };
  std::vector<std::thread> helpers;
  for (int w = 1; w < workers; ++w) helpers.emplace_back(run, w);
  if (workers > 0) run(0);
  for (auto& t : helpers) t.join();
}

}  // namespace oodflow::flow
