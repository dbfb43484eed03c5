// Each layer against an independent computation: the autograd Jacobian, the plain masked
// coupling formula of the paper's recipe (docs/method.md), and dense matrix algebra.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "oodflow/flow/layers.h"

namespace oodflow::flow {
namespace {

void perturb(torch::nn::Module& m, double scale) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.add_(scale * torch::randn_like(p));
}

// log|det J| of f at each row of x, from the full autograd Jacobian.
torch::Tensor autograd_logdet(FlowLayer& layer, const torch::Tensor& x) {
  std::vector<double> out;
  for (int64_t r = 0; r < x.size(0); ++r) {
    torch::Tensor xi = x.narrow(0, r, 1).clone().set_requires_grad(true);
    torch::Tensor y = layer.forward(xi).first;
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < y.size(1); ++i) {
      rows.push_back(torch::autograd::grad({y.select(1, i).sum()}, {xi}, {}, true)[0].squeeze(0));
    }
    out.push_back(std::get<1>(torch::linalg::slogdet(torch::stack(rows))).item<double>());
  }
  return torch::tensor(out, torch::kFloat64);
}

TEST(Layers, LogDetEqualsAutogradJacobian) {
  torch::manual_seed(3);
  const int64_t d = 5;  // odd: unequal conditioning / transformed halves
  std::vector<std::shared_ptr<FlowLayer>> layers = {
      std::make_shared<ActNorm>(d), std::make_shared<InvertibleLinear>(d),
      std::make_shared<AffineCoupling>(d, 7, true, 0.0),
      std::make_shared<AffineCoupling>(d, 7, false, 1.5)};
  const torch::Tensor x = torch::randn({4, d}, torch::kFloat64);
  for (auto& layer : layers) {
    layer->to(torch::kFloat64);
    perturb(*layer, 0.3);
    const torch::Tensor expected = autograd_logdet(*layer, x);
    const torch::Tensor got = layer->forward(x).second;
    EXPECT_TRUE(torch::allclose(got, expected, 1e-9, 1e-9)) << layer->name() << "\n"
                                                            << got << "\n"
                                                            << expected;
  }
}

TEST(Layers, FastCouplingEqualsPlainMaskedFormula) {
  torch::manual_seed(4);
  const int64_t d = 7;
  const int64_t h = 6;
  for (bool even : {true, false}) {
    for (double clamp : {0.0, 2.0}) {
      AffineCoupling c(d, h, even, clamp);
      c.to(torch::kFloat64);
      perturb(c, 0.5);
      // The reference's full d -> h -> d MLPs: the used weights are the fast path's, every
      // weight the mask multiplies by zero is random (it must not matter).
      auto opts = torch::TensorOptions(torch::kFloat64);
      torch::Tensor w1s = torch::randn({h, d}, opts), w1t = torch::randn({h, d}, opts);
      torch::Tensor w2s = torch::randn({d, h}, opts), w2t = torch::randn({d, h}, opts);
      torch::Tensor b2s = torch::randn({d}, opts), b2t = torch::randn({d}, opts);
      w1s.index_copy_(1, c.cond_index, c.in_weight.narrow(0, 0, h).detach());
      w1t.index_copy_(1, c.cond_index, c.in_weight.narrow(0, h, h).detach());
      w2s.index_copy_(0, c.trans_index, c.s_out_weight.detach());
      w2t.index_copy_(0, c.trans_index, c.t_out_weight.detach());
      b2s.index_copy_(0, c.trans_index, c.s_out_bias.detach());
      b2t.index_copy_(0, c.trans_index, c.t_out_bias.detach());
      const torch::Tensor b1s = c.in_bias.narrow(0, 0, h).detach();
      const torch::Tensor b1t = c.in_bias.narrow(0, h, h).detach();
      torch::Tensor b = torch::zeros({d}, opts);
      b.index_fill_(0, c.cond_index, 1.0);

      const torch::Tensor x = torch::randn({9, d}, opts);
      const torch::Tensor xb = b * x;
      torch::Tensor s = torch::relu(xb.matmul(w1s.t()) + b1s).matmul(w2s.t()) + b2s;
      const torch::Tensor t = torch::relu(xb.matmul(w1t.t()) + b1t).matmul(w2t.t()) + b2t;
      if (clamp > 0) s = clamp * torch::tanh(s / clamp);
      const torch::Tensor y_ref = xb + (1 - b) * (x * torch::exp(s) + t);
      const torch::Tensor logdet_ref = ((1 - b) * s).sum(1);

      auto [y, logdet] = c.forward(x);
      EXPECT_TRUE(torch::allclose(y, y_ref, 1e-12, 1e-12)) << "even=" << even;
      EXPECT_TRUE(torch::allclose(logdet, logdet_ref, 1e-12, 1e-12)) << "even=" << even;
    }
  }
}

TEST(Layers, CouplingStartsAsIdentity) {
  AffineCoupling c(6, 6, true, 0.0);
  const torch::Tensor x = torch::randn({3, 6});
  auto [y, logdet] = c.forward(x);
  EXPECT_TRUE(torch::equal(y, x));
  EXPECT_TRUE(torch::equal(logdet, torch::zeros({3})));
}

// The coupling takes its halves by strided slices and interleaves them back by strided copies:
// the output and every gradient must be bit-identical to the index_select / cat formulation
// through the layer's index buffers (autograd's index_add_ backward), odd d included.
TEST(Layers, CouplingSlicesAreBitIdenticalToIndexSelect) {
  for (const std::int64_t d : {7, 8, 64}) {
    for (bool even : {true, false}) {
      torch::manual_seed(20 + d);
      AffineCoupling c(d, 5, even, 2.0);
      perturb(c, 0.3);
      const torch::Tensor x = torch::randn({9, d}).set_requires_grad(true);
      const torch::Tensor weights = torch::randn({9, d});
      auto [y, logdet] = c.forward(x);
      ((y * weights).sum() + logdet.sum()).backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : c.parameters()) grads.push_back(p.grad().clone());
      c.zero_grad();

      const torch::Tensor x_ref = x.detach().clone().set_requires_grad(true);
      const torch::Tensor x_cond = x_ref.index_select(1, c.cond_index);
      const torch::Tensor x_trans = x_ref.index_select(1, c.trans_index);
      auto [s, t] = c.scale_shift(x_cond);
      const torch::Tensor y_ref =
          torch::cat({x_cond, x_trans * torch::exp(s) + t}, 1).index_select(1, c.merge_index);
      ((y_ref * weights).sum() + s.sum(1).sum()).backward();
      const std::string where = "d=" + std::to_string(d) + " even=" + std::to_string(even);
      EXPECT_TRUE(torch::equal(y, y_ref)) << where;
      EXPECT_TRUE(torch::equal(x.grad(), x_ref.grad())) << where;
      std::size_t i = 0;
      for (const auto& p : c.parameters()) {
        EXPECT_TRUE(torch::equal(grads[i++], p.grad())) << where;
      }
    }
  }
}

TEST(Layers, InvertibleLinearIsRotationAtInitAndMatchesDenseLU) {
  torch::manual_seed(5);
  InvertibleLinear lin(8);
  lin.to(torch::kFloat64);
  const torch::Tensor w = lin.weight();
  EXPECT_TRUE(torch::allclose(w.matmul(w.t()), torch::eye(8, torch::kFloat64), 1e-6, 1e-6));
  perturb(lin, 0.2);
  const torch::Tensor x = torch::randn({5, 8}, torch::kFloat64);
  auto [y, logdet] = lin.forward(x);
  // Dense W = P L U built from the definition.
  const torch::Tensor l = torch::tril(lin.lu, -1) + torch::eye(8, torch::kFloat64);
  const torch::Tensor u = torch::triu(lin.lu, 1) + torch::diag(lin.sign * torch::exp(lin.log_s));
  const torch::Tensor p =
      torch::zeros({8, 8}, torch::kFloat64).index_put_({torch::arange(8), lin.row_perm}, 1.0);
  const torch::Tensor dense = p.matmul(l).matmul(u);
  EXPECT_TRUE(torch::allclose(y, x.matmul(dense.t()), 1e-10, 1e-10));
  const double slogdet = std::get<1>(torch::linalg::slogdet(dense)).item<double>();
  EXPECT_NEAR(logdet[0].item<double>(), slogdet, 1e-9);
}

// The forward takes lu's strict triangles by StrictTriangles (CPU float32; a mask product
// otherwise) and permutes with a gather backward: the output, the log-det and every gradient
// must be bit-identical to the plain tril/triu and index_select formulation (whose backward
// is autograd's own), at sizes on and off the backward's 64 x 64 tiles, in float32 and
// float64; and lu's unused diagonal must stay exactly +0 through Adam (the same flow files).
TEST(Layers, InvertibleLinearIsBitIdenticalToTrilTriuAndIndexSelect) {
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (const std::int64_t d : {64, 67, 130}) {
      torch::manual_seed(11 + d);
      InvertibleLinear lin(d);
      lin.to(dtype);
      perturb(lin, 0.1);
      {
        torch::NoGradGuard no_grad;
        lin.lu.diagonal().zero_();  // as set_weight leaves it: L and U keep their diagonals apart
      }
      const auto opts = torch::TensorOptions(dtype);
      const torch::Tensor x = torch::randn({50, d}, opts).set_requires_grad(true);
      const torch::Tensor weights = torch::randn({50, d}, opts);
      auto [y, logdet] = lin.forward(x);
      ((y * weights).sum() + logdet.sum()).backward();

      const torch::Tensor x_ref = x.detach().clone().set_requires_grad(true);
      const torch::Tensor lu = lin.lu.detach().clone().set_requires_grad(true);
      const torch::Tensor log_s = lin.log_s.detach().clone().set_requires_grad(true);
      const torch::Tensor u_diag = lin.sign * torch::exp(log_s);
      torch::Tensor h = torch::addmm(x_ref * u_diag, x_ref, torch::triu(lu, 1).t());
      h = torch::addmm(h, h, torch::tril(lu, -1).t());
      const torch::Tensor y_ref = h.index_select(1, lin.row_perm);
      ((y_ref * weights).sum() + log_s.sum().expand({50}).sum()).backward();
      const std::string where = "d=" + std::to_string(d) + " " + c10::toString(dtype);
      EXPECT_TRUE(torch::equal(y, y_ref)) << where;
      EXPECT_TRUE(torch::equal(x.grad(), x_ref.grad())) << where;
      EXPECT_TRUE(torch::equal(lin.lu.grad(), lu.grad())) << where;
      EXPECT_TRUE(torch::equal(lin.log_s.grad(), log_s.grad())) << where;
    }
  }

  torch::manual_seed(11);
  InvertibleLinear lin(64);
  perturb(lin, 0.1);
  {
    torch::NoGradGuard no_grad;
    lin.lu.diagonal().zero_();
  }
  const torch::Tensor weights = torch::randn({50, 64});

  torch::optim::Adam adam(lin.parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    auto [y2, logdet2] = lin.forward(torch::randn({50, 64}));
    ((y2 * weights).sum() + logdet2.sum()).backward();
    adam.step();
  }
  const torch::Tensor diag = lin.lu.detach().diagonal();
  EXPECT_TRUE(torch::equal(diag, torch::zeros_like(diag)));
  EXPECT_FALSE(torch::signbit(diag).any().item<bool>());  // +0, not -0: the same file bytes
}

TEST(Layers, ActNormDataInitStandardisesTheBatch) {
  ActNorm a(4);
  const torch::Tensor x = torch::randn({500, 4}) * torch::tensor({1.0, 2.0, 0.5, 3.0}) + 7.0;
  a.data_init(x);
  const torch::Tensor y = a.forward(x).first;
  EXPECT_TRUE(torch::allclose(y.mean(0), torch::zeros({4}), 0, 1e-4));
  EXPECT_TRUE(torch::allclose(y.var(0, /*unbiased=*/false), torch::ones({4}), 0, 1e-3));
}

// A dimension constant in the batch (a dead unit): a bounded gain in the input layer, gain 1
// in the later ones; the others are standardised as before.
TEST(Layers, ActNormGivesAConstantDimensionABoundedGainOnlyInTheInputLayer) {
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({500, 4}) * torch::tensor({1.0, 2.0, 0.5, 3.0});
  x.select(1, 2).fill_(0.25);
  ActNorm input(4, /*input_layer=*/true);
  ActNorm later(4);
  input.data_init(x);
  later.data_init(x);
  const torch::Tensor std = x.std(0, /*unbiased=*/false);
  const double typical = std.pow(2).mean().sqrt().item<double>();
  EXPECT_NEAR(input.log_scale[2].item<double>(), std::log(1e-3 * typical), 1e-5);
  EXPECT_EQ(later.log_scale[2].item<double>(), 0.0);
  for (int j : {0, 1, 3}) {
    EXPECT_NEAR(input.log_scale[j].item<double>(), std::log(std[j].item<double>() + 1e-6), 1e-6);
    EXPECT_EQ(input.log_scale[j].item<double>(), later.log_scale[j].item<double>());
  }
  EXPECT_EQ(input.shift[2].item<double>(), 0.25f);
}

}  // namespace
}  // namespace oodflow::flow
