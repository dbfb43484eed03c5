// Adam for the flows: LibTorch's arithmetic in one pass per parameter.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace oodflow::flow {

/// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015) without weight
/// decay or AMSGrad, computing exactly what torch::optim::Adam of LibTorch 1.13 computes with
/// the same options: bit-identical parameters and moments (a test steps both side by side).
/// Where LibTorch makes eight passes over each parameter (two of them allocating), this makes
/// one, split over `threads` threads: float32 contiguous CPU parameters (the flows'). Any
/// other parameter goes through the same LibTorch operations as torch::optim::Adam.
/// Parameters whose gradient is undefined are skipped, their step count unchanged (as
/// torch::optim::Adam). The moments are created at a parameter's first step.
class Adam {
 public:
  Adam(std::vector<torch::Tensor> parameters, double lr, int threads = 1, double beta1 = 0.9,
       double beta2 = 0.999, double eps = 1e-8);
  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }
  /// One update from the parameters' current gradients.
  void step();

 private:
  struct State {
    torch::Tensor exp_avg, exp_avg_sq;
    std::int64_t step = 0;
  };
  std::vector<torch::Tensor> parameters_;
  std::vector<State> state_;
  double lr_, beta1_, beta2_, eps_;
  int threads_;
};

}  // namespace oodflow::flow
