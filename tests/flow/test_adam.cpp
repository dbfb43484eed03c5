// oodflow's one-pass Adam against LibTorch's torch::optim::Adam, the implementation it must
// reproduce bit for bit: the same parameters and gradients, stepped side by side.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "oodflow/flow/adam.h"

namespace oodflow::flow {
namespace {

bool bit_identical(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  const auto bits = a.scalar_type() == torch::kFloat64 ? torch::kInt64 : torch::kInt32;
  return torch::equal(a.contiguous().view(bits), b.contiguous().view(bits));
}

// Runs both optimisers for `steps` steps on copies of the same parameters, with gradients of
// a wide range of magnitudes, a learning-rate schedule, and one parameter without a gradient
// in some steps; returns whether every parameter stayed bit-identical.
void expect_same_as_libtorch(const std::vector<torch::Tensor>& initial, int threads) {
  std::vector<torch::Tensor> ours, theirs;
  for (const auto& t : initial) {
    ours.push_back(t.clone().set_requires_grad(true));
    theirs.push_back(t.clone().set_requires_grad(true));
  }
  Adam adam(ours, 1e-3, threads);
  torch::optim::Adam reference(theirs, torch::optim::AdamOptions(1e-3));
  torch::manual_seed(3);
  for (int step = 0; step < 12; ++step) {
    const double lr = 1e-3 * (1 + 0.1 * step);
    adam.set_lr(lr);
    for (auto& group : reference.param_groups()) {
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    }
    for (std::size_t i = 0; i < initial.size(); ++i) {
      if (i == 1 && step % 3 == 0) {  // no gradient this step: skipped, its count unchanged
        ours[i].mutable_grad().reset();
        theirs[i].mutable_grad().reset();
        continue;
      }
      const torch::Tensor g =
          torch::randn_like(initial[i]) * std::pow(10.0, static_cast<double>(step % 7) - 4);
      ours[i].mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    adam.step();
    reference.step();
    for (std::size_t i = 0; i < initial.size(); ++i) {
      ASSERT_TRUE(bit_identical(ours[i].detach(), theirs[i].detach()))
          << "parameter " << i << " (" << initial[i].numel() << " elements) after step " << step + 1
          << " with " << threads << " threads; largest difference "
          << (ours[i] - theirs[i]).abs().max().item<double>();
    }
  }
}

TEST(Adam, BitIdenticalToLibTorchOnFloat32Parameters) {
  torch::manual_seed(1);
  // Sizes that fill the vector registers and ones that leave tails; one over a piece.
  const std::vector<torch::Tensor> params = {torch::randn({64, 64}),
                                             torch::randn({7}),
                                             torch::randn({1}),
                                             torch::randn({33, 3}),
                                             torch::randn({(1 << 20) + 5}) * 1e-3,
                                             torch::zeros({100})};
  expect_same_as_libtorch(params, 1);
  expect_same_as_libtorch(params, 3);
}

TEST(Adam, OtherParametersTakeLibTorchsOperations) {
  torch::manual_seed(2);
  expect_same_as_libtorch({torch::randn({5, 5}, torch::kFloat64), torch::randn({9})}, 2);
}

}  // namespace
}  // namespace oodflow::flow
