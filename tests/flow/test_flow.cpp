#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "oodflow/flow/flow.h"

namespace oodflow::flow {
namespace {

FlowConfig config(const std::string& arch, int64_t dim, int64_t blocks) {
  FlowConfig c;
  c.arch = arch;
  c.dim = dim;
  c.blocks = blocks;
  c.hidden = dim;
  return c;
}

class FlowArch : public ::testing::TestWithParam<std::string> {};

TEST_P(FlowArch, InverseOfForwardIsIdentityAfterPerturbation) {
  torch::manual_seed(11);
  Flow flow(config(GetParam(), 16, GetParam() == "glow" ? 10 : 4));
  const torch::Tensor x = torch::randn({64, 16});
  flow.data_init(x);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : flow.parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor z = flow.forward(x).first;
  const torch::Tensor back = flow.inverse(z);
  // float32 through 10 blocks and back: about 1e-5 (1.08e-5 seen on AVX-512); a wrong
  // inverse is off by the size of the perturbation, 0.05 and up.
  EXPECT_LT((back - x).abs().max().item<double>(), 5e-5);
}

TEST_P(FlowArch, LogProbIsNormalLogDensityPlusLogDets) {
  torch::manual_seed(12);
  Flow flow(config(GetParam(), 5, 3));
  flow.to(torch::kFloat64);
  const torch::Tensor x = torch::randn({20, 5}, torch::kFloat64);
  flow.data_init(x);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : flow.parameters()) p.add_(0.2 * torch::randn_like(p));
  }
  // Change of variables with the Jacobian of the whole flow from autograd.
  for (int64_t r = 0; r < 3; ++r) {
    torch::Tensor xi = x.narrow(0, r, 1).clone().set_requires_grad(true);
    const torch::Tensor z = flow.forward(xi).first;
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < 5; ++i) {
      rows.push_back(torch::autograd::grad({z.select(1, i).sum()}, {xi}, {}, true)[0].squeeze(0));
    }
    const double logdet = std::get<1>(torch::linalg::slogdet(torch::stack(rows))).item<double>();
    const double zz = z.pow(2).sum().item<double>();
    const double expected = -0.5 * zz - 2.5 * std::log(2 * M_PI) + logdet;
    EXPECT_NEAR(flow.log_prob(xi).item<double>(), expected, 1e-8);
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, FlowArch, ::testing::Values("glow", "realnvp"));

TEST(Flow, ZeroInitialisedGlowIsGaussianOfActNormedRotatedInput) {
  torch::manual_seed(13);
  const int64_t d = 6;
  Flow flow(config("glow", d, 2));
  flow.to(torch::kFloat64);
  const torch::Tensor batch = torch::randn({300, d}, torch::kFloat64) * 2 + 1;
  flow.data_init(batch);
  // With zero-initialised couplings the flow is the affine map z = A x + c of the ActNorms
  // and rotations; its density is N(A x + c; 0, I) |det A|, computed here densely.
  torch::Tensor a = torch::eye(d, torch::kFloat64);
  torch::Tensor c = torch::zeros({d}, torch::kFloat64);
  for (const auto& layer : flow.layers()) {
    if (auto* an = dynamic_cast<ActNorm*>(layer.get())) {
      const torch::Tensor scale = torch::exp(-an->log_scale.detach());
      a = torch::diag(scale).matmul(a);
      c = (c - an->shift.detach()) * scale;
    } else if (auto* lin = dynamic_cast<InvertibleLinear*>(layer.get())) {
      const torch::Tensor w = lin->weight().detach();
      a = w.matmul(a);
      c = w.matmul(c);
    }
  }
  const torch::Tensor x = torch::randn({10, d}, torch::kFloat64);
  const torch::Tensor z = x.matmul(a.t()) + c;
  const double logdet = std::get<1>(torch::linalg::slogdet(a)).item<double>();
  const torch::Tensor expected = -0.5 * z.pow(2).sum(1) - 0.5 * d * std::log(2 * M_PI) + logdet;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(flow.log_prob(x), expected, 1e-9, 1e-9));
}

}  // namespace
}  // namespace oodflow::flow
