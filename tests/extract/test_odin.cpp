// ODIN through Backbone::run_odin, against oracles that share none of its code: the closed
// form of a linear classifier (gradient and perturbed input known exactly) and central
// finite differences of the loss of a non-linear one evaluated in double precision.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "oodflow/extract/backbone.h"
#include "test_util.h"

namespace oodflow::extract {
namespace {

constexpr std::int64_t kBatch = 5, kChannels = 2, kSide = 3;
constexpr std::int64_t kPixels = kChannels * kSide * kSide;

// A TorchScript classifier: features h = act(x W1^T + b1) of the flattened input, logits
// h W2^T + b2; `act` = "" for a linear model.
std::string save_classifier(const test::TempDir& dir, const std::string& name,
                            const torch::Tensor& w1, const torch::Tensor& w2,
                            const std::string& act, const std::string& logits_transform = "z") {
  torch::jit::Module m("Classifier");
  m.register_parameter("w1", w1, false);
  m.register_parameter("b1", torch::linspace(-0.2, 0.3, w1.size(0)), false);
  m.register_parameter("w2", w2, false);
  m.register_parameter("b2", torch::linspace(0.1, -0.1, w2.size(0)), false);
  m.define(
      "def forward(self, x):\n"
      "    h = " +
      act +
      "(x.flatten(1).matmul(self.w1.t()) + self.b1)\n"
      "    z = h.matmul(self.w2.t()) + self.b2\n"
      "    return h, " +
      logits_transform + "\n");
  const std::string path = dir.path(name + ".pt");
  m.save(path);
  return path;
}

std::vector<float> random_input(std::uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor x = torch::randn({kBatch, kChannels, kSide, kSide});
  return std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
}

double max_softmax(const std::vector<double>& z, double t) {
  const double top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double v : z) sum += std::exp((v - top) / t);
  return 1.0 / sum;
}

// The perturbed input from the gradient of the loss: x - eps * sign(g) / std, sign(0) = +1.
std::vector<double> perturb(const float* x, const std::vector<double>& gradient,
                            const OdinSettings& odin) {
  std::vector<double> out(kPixels);
  for (std::int64_t p = 0; p < kPixels; ++p) {
    const double s = odin.std[static_cast<std::size_t>(p / (kSide * kSide))];
    out[p] = x[p] - odin.epsilon * (gradient[p] >= 0 ? 1.0 : -1.0) / s;
  }
  return out;
}

struct Linear {
  torch::Tensor w1, b1, w2, b2;
  // Logits of one flattened image, in double.
  std::vector<double> logits(const std::vector<double>& x) const {
    const auto W1 = w1.to(torch::kDouble), B1 = b1.to(torch::kDouble);
    const auto W2 = w2.to(torch::kDouble), B2 = b2.to(torch::kDouble);
    std::vector<double> h(static_cast<std::size_t>(W1.size(0)));
    for (std::int64_t j = 0; j < W1.size(0); ++j) {
      double v = B1[j].item<double>();
      for (std::int64_t p = 0; p < kPixels; ++p) v += W1[j][p].item<double>() * x[p];
      h[j] = v;
    }
    std::vector<double> z(static_cast<std::size_t>(W2.size(0)));
    for (std::int64_t c = 0; c < W2.size(0); ++c) {
      double v = B2[c].item<double>();
      for (std::size_t j = 0; j < h.size(); ++j) v += W2[c][j].item<double>() * h[j];
      z[c] = v;
    }
    return z;
  }
};

TEST(Odin, LinearClassifierMatchesTheClosedForm) {
  test::TempDir dir;
  torch::manual_seed(3);
  Linear net{torch::randn({4, kPixels}), torch::linspace(-0.2, 0.3, 4), torch::randn({3, 4}),
             torch::linspace(0.1, -0.1, 3)};
  Backbone backbone({save_classifier(dir, "linear", net.w1, net.w2, ""), "forward", "", "", "cpu"});
  const std::vector<float> input = random_input(7);
  // The paper's setting, and a low temperature whose perturbation moves the score visibly
  // (there, float logits against double ones differ by ~1e-8 in the score).
  for (const OdinSettings& odin :
       {OdinSettings{1000, 0.0014, {0.5, 2.0}}, OdinSettings{5, 0.2, {0.5, 2.0}}}) {
    const double tolerance = odin.temperature == 1000 ? 1e-9 : 1e-6;
    const BackboneOutputs y =
        backbone.run_odin(input.data(), kBatch, kChannels, kSide, kSide, odin);
    ASSERT_EQ(y.odin.size(), static_cast<std::size_t>(kBatch));
    // z = A x + c with A = W2 W1; the loss -log softmax(z / T)_k of the argmax k has the
    // gradient A^T (p - e_k) / T, p = softmax(z / T).
    const torch::Tensor a = net.w2.to(torch::kDouble).matmul(net.w1.to(torch::kDouble));
    for (std::int64_t i = 0; i < kBatch; ++i) {
      const float* xi = input.data() + i * kPixels;
      const std::vector<double> x(xi, xi + kPixels);
      const std::vector<double> z = net.logits(x);
      const auto k = std::max_element(z.begin(), z.end()) - z.begin();
      const double top = z[k];
      std::vector<double> p(z.size());
      double sum = 0;
      for (std::size_t c = 0; c < z.size(); ++c)
        sum += p[c] = std::exp((z[c] - top) / odin.temperature);
      for (double& v : p) v /= sum;
      std::vector<double> gradient(kPixels, 0.0);
      double smallest = INFINITY;
      for (std::int64_t q = 0; q < kPixels; ++q) {
        for (std::size_t c = 0; c < z.size(); ++c) {
          gradient[q] += a[static_cast<std::int64_t>(c)][q].item<double>() *
                         (p[c] - (static_cast<std::int64_t>(c) == k ? 1.0 : 0.0)) /
                         odin.temperature;
        }
        smallest = std::min(smallest, std::abs(gradient[q]) * odin.temperature);
      }
      ASSERT_GT(smallest, 1e-6) << "a gradient this close to 0 would make the sign ambiguous";
      const double expected =
          max_softmax(net.logits(perturb(xi, gradient, odin)), odin.temperature);
      EXPECT_NEAR(y.odin[i], expected, tolerance) << "image " << i << " T " << odin.temperature;
      // The perturbation raises the max softmax, by more than the tolerance at T = 1.
      const double unperturbed = max_softmax(z, odin.temperature);
      EXPECT_GT(y.odin[i], unperturbed);
      if (odin.temperature == 5) {
        EXPECT_GT(y.odin[i] - unperturbed, 100 * tolerance);
      }
    }
  }
}

TEST(Odin, NonLinearClassifierMatchesFiniteDifferences) {
  test::TempDir dir;
  torch::manual_seed(11);
  const torch::Tensor w1 = torch::randn({6, kPixels}) * 0.5;
  const torch::Tensor w2 = torch::randn({4, 6});
  const std::string path = save_classifier(dir, "tanh", w1, w2, "torch.tanh");
  Backbone backbone({path, "forward", "", "", "cpu"});
  torch::jit::Module reference = torch::jit::load(path);
  reference.to(torch::kDouble);
  const auto logits_of = [&](const std::vector<double>& x) {
    const torch::Tensor t = torch::tensor(x, torch::kDouble).reshape({1, kChannels, kSide, kSide});
    const torch::Tensor z = reference.forward({t}).toTuple()->elements()[1].toTensor();
    return std::vector<double>(z.data_ptr<double>(), z.data_ptr<double>() + z.numel());
  };
  const std::vector<float> input = random_input(5);
  const OdinSettings odin{10, 0.05, {0.3, 0.7}};
  const BackboneOutputs y = backbone.run_odin(input.data(), kBatch, kChannels, kSide, kSide, odin);
  for (std::int64_t i = 0; i < kBatch; ++i) {
    const float* xi = input.data() + i * kPixels;
    std::vector<double> x(xi, xi + kPixels);
    const std::vector<double> z = logits_of(x);
    const auto k = std::max_element(z.begin(), z.end()) - z.begin();
    // loss(x) = -log softmax(z(x) / T)_k, k fixed at the unperturbed argmax.
    const auto loss = [&](const std::vector<double>& v) {
      const std::vector<double> zz = logits_of(v);
      const double top = *std::max_element(zz.begin(), zz.end());
      double sum = 0;
      for (double c : zz) sum += std::exp((c - top) / odin.temperature);
      return -((zz[k] - top) / odin.temperature - std::log(sum));
    };
    std::vector<double> gradient(kPixels);
    constexpr double h = 1e-5;
    for (std::int64_t q = 0; q < kPixels; ++q) {
      std::vector<double> up = x, down = x;
      up[q] += h;
      down[q] -= h;
      gradient[q] = (loss(up) - loss(down)) / (2 * h);
      // Central differences are exact to ~1e-10 here; a smaller slope could flip a sign.
      ASSERT_GT(std::abs(gradient[q]), 1e-7) << "image " << i << " pixel " << q;
    }
    const double expected = max_softmax(logits_of(perturb(xi, gradient, odin)), odin.temperature);
    EXPECT_NEAR(y.odin[i], expected, 1e-7) << "image " << i;
    EXPECT_GT(y.odin[i] - max_softmax(z, odin.temperature), 1e-4) << "image " << i;
  }
}

TEST(Odin, FeaturesAndLogitsAreThoseOfAPlainRunAndBatchesDoNotMix) {
  test::TempDir dir;
  torch::manual_seed(2);
  Backbone backbone(
      {save_classifier(dir, "relu", torch::randn({6, kPixels}), torch::randn({4, 6}), "torch.relu"),
       "forward", "", "", "cpu"});
  const std::vector<float> input = random_input(9);
  const OdinSettings odin{1000, 0.0014, {1.0}};
  const BackboneOutputs plain = backbone.run(input.data(), kBatch, kChannels, kSide, kSide);
  const BackboneOutputs y = backbone.run_odin(input.data(), kBatch, kChannels, kSide, kSide, odin);
  EXPECT_EQ(y.features, plain.features);
  EXPECT_EQ(y.logits, plain.logits);
  EXPECT_TRUE(plain.odin.empty());
  for (std::int64_t i = 0; i < kBatch; ++i) {
    const BackboneOutputs one =
        backbone.run_odin(input.data() + i * kPixels, 1, kChannels, kSide, kSide, odin);
    // A batch of one is blocked differently by BLAS than a batch of kBatch, which moves the
    // last float bits of the logits on some CPUs (7e-11 here on AVX-512); images that mixed
    // in a batch would differ by 1e-6 or more (a set's scores differ in their fifth digit).
    EXPECT_NEAR(one.odin[0], y.odin[i], 1e-9) << "image " << i;
  }
}

TEST(Odin, BackbonesWithoutLogitsOrGradientsAndBadSettingsAreNamed) {
  test::TempDir dir;
  const torch::Tensor w1 = torch::ones({3, kPixels});
  const torch::Tensor w2 = torch::ones({2, 3});
  const std::vector<float> input = random_input(1);
  const OdinSettings odin;

  Backbone no_logits({save_classifier(dir, "nologits", w1, w2, ""), "forward", "", "none", "cpu"});
  test::expect_error(
      [&] { no_logits.run_odin(input.data(), kBatch, kChannels, kSide, kSide, odin); },
      {"nologits.pt", "gives no logits", "ODIN needs"});

  Backbone detached(
      {save_classifier(dir, "detached", w1, w2, "", "z.detach()"), "forward", "", "", "cpu"});
  test::expect_error(
      [&] { detached.run_odin(input.data(), kBatch, kChannels, kSide, kSide, odin); },
      {"detached.pt", "gives no gradient", "with respect to its input"});

  Backbone fine({save_classifier(dir, "fine", w1, w2, ""), "forward", "", "", "cpu"});
  test::expect_error(
      [&] {
        fine.run_odin(input.data(), kBatch, kChannels, kSide, kSide, OdinSettings{0, 0.1, {}});
      },
      {"temperature T must be > 0"});
  test::expect_error(
      [&] {
        fine.run_odin(input.data(), kBatch, kChannels, kSide, kSide, OdinSettings{1, -1, {}});
      },
      {"eps must be >= 0"});
}

}  // namespace
}  // namespace oodflow::extract
