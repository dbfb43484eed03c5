// The flow recipes beyond the paper (flow/gaussian_init.h, the class base, the training
// budget, noise, held-out NLL and early stopping), each against an oracle computed here: the
// Gaussian log-densities in closed form (torch's slogdet and inverse, not the whitening the
// flow uses), brute-force log-sum-exp, and the schedule's formula.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/core/sampling.h"
#include "oodflow/flow/gaussian_init.h"
#include "oodflow/flow/trainer.h"
#include "oodflow/io/feature_file.h"
#include "test_util.h"

namespace oodflow::flow {
namespace {

constexpr std::int64_t kDim = 6;
constexpr std::int64_t kClasses = 3;

// Correlated Gaussian classes: x = A (u + 2 e_c) with u ~ N(0, I), a fixed mixing matrix A.
struct LabelledRows {
  std::vector<float> features;
  std::vector<std::int64_t> labels;
  std::int64_t rows = 0;
};

LabelledRows labelled_rows(std::int64_t rows, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  double mixing[kDim][kDim];
  std::mt19937_64 fixed(7);
  for (auto& row : mixing) {
    for (double& v : row) v = normal(fixed) * 0.5;
  }
  for (std::int64_t i = 0; i < kDim; ++i) mixing[i][i] += 1.5;
  LabelledRows out;
  out.rows = rows;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t c = (r * 7 + 3) % kClasses;  // classes of unequal size: 0 1 2 ...
    double u[kDim];
    for (std::int64_t j = 0; j < kDim; ++j) u[j] = normal(rng) + (j == c ? 2.0 : 0.0);
    for (std::int64_t i = 0; i < kDim; ++i) {
      double v = 0.3;
      for (std::int64_t j = 0; j < kDim; ++j) v += mixing[i][j] * u[j];
      out.features.push_back(static_cast<float>(v));
    }
    out.labels.push_back(c == 2 && r % 2 == 0 ? 0 : c);  // uneven priors
  }
  return out;
}

io::FeatureFile write_rows(const test::TempDir& dir, const LabelledRows& rows, bool labels = true) {
  io::FeatureFileContents contents;
  contents.rows = rows.rows;
  contents.dim = kDim;
  contents.features = rows.features.data();
  if (labels) contents.labels = rows.labels.data();
  const std::string path = dir.path(labels ? "train.safetensors" : "unlabelled.safetensors");
  io::write_feature_file(path, contents);
  return io::FeatureFile::open(path);
}

std::shared_ptr<Flow> make_flow(const std::string& base, std::uint64_t seed,
                                const std::string& arch = "glow",
                                const std::string& class_score = "marginal") {
  torch::manual_seed(seed);
  FlowConfig c;
  c.arch = arch;
  c.dim = kDim;
  c.blocks = 3;
  c.hidden = 8;
  c.base = base;
  c.classes = base == "class" ? kClasses : 0;
  c.class_score = class_score;
  return std::make_shared<Flow>(c);
}

TrainSettings quick_settings(std::int64_t steps, std::int64_t batch_size, double lr = 1e-3) {
  TrainSettings s;
  s.lr = lr;
  s.steps = steps;
  s.batch_size = batch_size;
  return s;
}

std::vector<std::int64_t> all_rows(std::int64_t n) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
  return rows;
}

torch::Tensor as_tensor(const LabelledRows& rows) {
  return torch::from_blob(const_cast<float*>(rows.features.data()), {rows.rows, kDim},
                          torch::kFloat32)
      .to(torch::kFloat64);
}

// log N(x; mu, S) per row, in double: the closed form with an explicit inverse and slogdet.
torch::Tensor gaussian_log_density(const torch::Tensor& x, const torch::Tensor& mu,
                                   const torch::Tensor& cov) {
  const torch::Tensor diff = x - mu;
  const torch::Tensor q = (diff.mm(torch::inverse(cov)) * diff).sum(1);
  const double log_det = std::get<1>(torch::linalg_slogdet(cov)).item<double>();
  return -0.5 * (q + log_det + static_cast<double>(kDim) * std::log(2 * M_PI));
}

torch::Tensor shrunk(torch::Tensor cov) {
  const double a = kCovarianceShrinkage;
  return (1 - a) * cov +
         a * cov.trace() / static_cast<double>(kDim) * torch::eye(kDim, torch::kFloat64);
}

TEST(Recipes, GaussianInitialisationEqualsTheClosedFormGaussian) {
  test::TempDir dir;
  const LabelledRows rows = labelled_rows(800, 1);
  const io::FeatureFile file = write_rows(dir, rows);
  auto flow = make_flow("normal", 3);
  flow->to(torch::kFloat64);
  const GaussianFit fit = fit_gaussian(file, Normalizer(Normalization::kNone), all_rows(rows.rows),
                                       nullptr, 0, kCovarianceShrinkage, true);
  initialize_as_gaussian(*flow, fit);

  const torch::Tensor x = as_tensor(rows);
  const torch::Tensor mu = x.mean(0);
  const torch::Tensor centred = x - mu;
  const torch::Tensor cov = shrunk(centred.t().mm(centred) / static_cast<double>(rows.rows));
  const torch::Tensor probe = x.narrow(0, 0, 50) * 1.7 - 0.4;  // inside and outside the data
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = gaussian_log_density(probe, mu, cov);
  EXPECT_LT((flow->log_prob(probe) - expected).abs().max().item<double>(), 1e-5);
  // The same in float32 (as the flow is trained and scored), to float32's precision.
  auto single = make_flow("normal", 3);
  initialize_as_gaussian(*single, fit);
  const torch::Tensor got = single->log_prob(probe.to(torch::kFloat32)).to(torch::kFloat64);
  EXPECT_LT(((got - expected).abs() / expected.abs().clamp_min(1)).max().item<double>(), 1e-4);
}

TEST(Recipes, ClassBaseAtGaussianInitialisationIsMahalanobis) {
  test::TempDir dir;
  const LabelledRows rows = labelled_rows(900, 2);
  const io::FeatureFile file = write_rows(dir, rows);
  const ClassIndex classes = index_classes(file, all_rows(rows.rows), "the test");
  ASSERT_EQ(classes.values, (std::vector<std::int64_t>{0, 1, 2}));
  auto flow = make_flow("class", 4);
  auto best_class = make_flow("class", 4, "glow", "max");
  flow->to(torch::kFloat64);
  best_class->to(torch::kFloat64);
  const GaussianFit fit = fit_gaussian(file, Normalizer(Normalization::kNone), all_rows(rows.rows),
                                       &classes.of_row, kClasses, kCovarianceShrinkage, true);
  initialize_as_gaussian(*flow, fit);
  initialize_as_gaussian(*best_class, fit);

  const torch::Tensor x = as_tensor(rows);
  const torch::Tensor y = torch::tensor(rows.labels, torch::kLong);
  std::vector<torch::Tensor> means;
  std::vector<double> priors;
  torch::Tensor within = torch::zeros({kDim, kDim}, torch::kFloat64);
  for (std::int64_t c = 0; c < kClasses; ++c) {
    const torch::Tensor xc = x.index({y == c});
    means.push_back(xc.mean(0));
    priors.push_back(static_cast<double>(xc.size(0)) / static_cast<double>(rows.rows));
    within += (xc - means.back()).t().mm(xc - means.back());
  }
  within = shrunk(within / static_cast<double>(rows.rows));
  const torch::Tensor probe = x.narrow(0, 100, 40) * 1.3;
  torch::NoGradGuard no_grad;
  const torch::Tensor per_class = flow->class_log_likelihoods(probe);
  torch::Tensor best = torch::full({probe.size(0)}, -1e300, torch::kFloat64);
  torch::Tensor marginal = torch::zeros({probe.size(0)}, torch::kFloat64);
  for (std::int64_t c = 0; c < kClasses; ++c) {
    const torch::Tensor expected = gaussian_log_density(probe, means[c], within);
    EXPECT_LT((per_class.select(1, c) - expected).abs().max().item<double>(), 1e-5) << c;
    best = torch::maximum(best, expected);
    marginal += priors[static_cast<std::size_t>(c)] * torch::exp(expected);
  }
  // The scores: the marginal (brute-force sum of pi_c p(x|c)) and the best class, which is
  // Mahalanobis's -min_c (x - mu_c)^T S^-1 (x - mu_c) halved and shifted by a constant.
  EXPECT_LT((flow->log_prob(probe) - torch::log(marginal)).abs().max().item<double>(), 1e-5);
  EXPECT_LT((best_class->log_prob(probe) - best).abs().max().item<double>(), 1e-5);
}

TEST(Recipes, ClassBaseTrainsOnLabelsAndNeedsThem) {
  test::TempDir dir;
  const LabelledRows rows = labelled_rows(1500, 3);
  const io::FeatureFile file = write_rows(dir, rows);
  const std::vector<std::int64_t> listed = all_rows(rows.rows);
  const ClassIndex classes = index_classes(file, listed, "the test");
  const TrainSettings s = quick_settings(60, 100, 3e-3);
  auto flow = make_flow("class", 5);
  const TrainSummary summary =
      train_flow(*flow, file, Normalizer(Normalization::kNone), s, &listed, &classes.of_row);
  EXPECT_EQ(summary.steps, 60);
  EXPECT_LT(summary.last_nll, summary.initial_nll - 0.3);

  const io::FeatureFile unlabelled = write_rows(dir, rows, false);
  test::expect_error([&] { index_classes(unlabelled, listed, "--base class"); },
                     {"unlabelled.safetensors", "no labels", "--base class"});
}

TEST(Recipes, GaussianInitialisationNeedsGlow) {
  test::TempDir dir;
  const LabelledRows rows = labelled_rows(200, 4);
  const io::FeatureFile file = write_rows(dir, rows);
  auto flow = make_flow("normal", 1, "realnvp");
  const GaussianFit fit =
      fit_gaussian(file, Normalizer(), all_rows(rows.rows), nullptr, 0, kCovarianceShrinkage, true);
  test::expect_error([&] { initialize_as_gaussian(*flow, fit); }, {"--init gaussian", "realnvp"});
}

TEST(Recipes, LearningRateWarmsUpThenFollowsTheCosine) {
  TrainSettings s;
  s.lr = 1e-3;
  EXPECT_DOUBLE_EQ(learning_rate(s, 0, 100), 1e-3);  // the paper: constant
  EXPECT_DOUBLE_EQ(learning_rate(s, 99, 100), 1e-3);
  s.warmup = 10;
  s.schedule = "cosine";
  EXPECT_DOUBLE_EQ(learning_rate(s, 0, 110), 1e-4);  // (step + 1) / warmup
  EXPECT_DOUBLE_EQ(learning_rate(s, 9, 110), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10, 110), 1e-3);      // cos(0)
  EXPECT_NEAR(learning_rate(s, 60, 110), 0.5e-3, 1e-15);  // cos(pi / 2)
  EXPECT_NEAR(learning_rate(s, 85, 110), 0.5e-3 * (1 + std::cos(M_PI * 0.75)), 1e-15);
  EXPECT_NEAR(learning_rate(s, 110, 110), 0.0, 1e-18);
}

TEST(Recipes, StepsSetTheBudgetWhateverTheDataSize) {
  test::TempDir dir;
  const LabelledRows rows = labelled_rows(700, 5);
  const io::FeatureFile file = write_rows(dir, rows);
  const TrainSettings s = quick_settings(23, 100);  // 3 epochs of 7 batches and 2 more
  auto flow = make_flow("normal", 2);
  const TrainSummary summary = train_flow(*flow, file, Normalizer(), s);
  EXPECT_EQ(summary.steps, 23);
  EXPECT_EQ(summary.epochs, 4);
  EXPECT_EQ(summary.samples, 2300);
}

TEST(Recipes, NoiseChangesTheFlowButTheSeedStillFixesIt) {
  test::TempDir dir;
  const LabelledRows rows = labelled_rows(600, 6);
  const io::FeatureFile file = write_rows(dir, rows);
  TrainSettings s = quick_settings(12, 100);
  auto plain = make_flow("normal", 9);
  train_flow(*plain, file, Normalizer(), s);
  s.noise = 0.05;
  auto noisy_a = make_flow("normal", 9);
  auto noisy_b = make_flow("normal", 9);
  train_flow(*noisy_a, file, Normalizer(), s);
  train_flow(*noisy_b, file, Normalizer(), s);
  bool same_ab = true;
  bool same_plain = true;
  for (std::size_t i = 0; i < plain->parameters().size(); ++i) {
    same_ab = same_ab && torch::equal(noisy_a->parameters()[i], noisy_b->parameters()[i]);
    same_plain = same_plain && torch::equal(noisy_a->parameters()[i], plain->parameters()[i]);
  }
  EXPECT_TRUE(same_ab);
  EXPECT_FALSE(same_plain);
}

TEST(Recipes, EarlyStoppingKeepsTheFlowWithTheLowestHeldOutNll) {
  test::TempDir dir;
  const LabelledRows rows = labelled_rows(1000, 7);
  const io::FeatureFile file = write_rows(dir, rows);
  // lr large enough that the held-out NLL stops improving and oscillates
  TrainSettings s = quick_settings(200, 50, 0.05);
  s.eval_fraction = 0.2;
  s.eval_every = 5;
  s.early_stopping = 3;
  std::vector<std::int64_t> snapshots;
  s.snapshot_steps = {0, 5};
  auto flow = make_flow("normal", 3);
  const TrainSummary summary = train_flow(*flow, file, Normalizer(), s, nullptr, nullptr,
                                          [&](std::int64_t step) { snapshots.push_back(step); });
  EXPECT_EQ(snapshots, (std::vector<std::int64_t>{0, 5}));
  EXPECT_EQ(summary.eval_rows, 200);
  ASSERT_FALSE(summary.heldout_nll.empty());
  EXPECT_EQ(summary.heldout_nll.front().first, 0);
  double best = 1e300;
  std::int64_t best_step = -1;
  for (const auto& [step, nll] : summary.heldout_nll) {
    EXPECT_EQ(step % 5, 0);
    if (nll < best) best = nll, best_step = step;
  }
  EXPECT_EQ(summary.best_step, best_step);
  EXPECT_TRUE(summary.stopped_early);
  EXPECT_LT(summary.steps, 200);
  // The kept flow is the best one: its held-out NLL, measured again here, is the minimum.
  // The held-out rows are the first 20% of shuffled_order(n, seed, -1).
  const std::vector<std::int64_t> order = shuffled_order(1000, s.seed, -1);
  std::vector<float> held(static_cast<std::size_t>(200 * kDim));
  std::vector<std::int64_t> held_rows(order.begin(), order.begin() + 200);
  std::sort(held_rows.begin(), held_rows.end());
  file.gather_rows(held_rows.data(), 200, held.data());
  Normalizer().apply(held.data(), 200, kDim, "held");
  torch::NoGradGuard no_grad;
  const double again =
      -flow->log_density(torch::from_blob(held.data(), {200, kDim}, torch::kFloat32))
           .to(torch::kFloat64)
           .mean()
           .item<double>();
  EXPECT_NEAR(again, best, 1e-4);
}

}  // namespace
}  // namespace oodflow::flow
