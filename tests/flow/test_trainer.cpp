#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "oodflow/core/error.h"
#include "oodflow/data/synthetic.h"
#include "oodflow/flow/trainer.h"
#include "test_util.h"

namespace oodflow::flow {
namespace {

io::FeatureFile synthetic_file(const test::TempDir& dir, std::int64_t n, std::int64_t dim) {
  data::MixtureSpec spec;
  spec.dim = dim;
  const data::FeatureMatrix m = data::sample_mixture(spec, n, 9);
  test::write_features(dir.path("train.safetensors"), m.values, m.rows, m.dim);
  return io::FeatureFile::open(dir.path("train.safetensors"));
}

std::shared_ptr<Flow> make_flow(std::int64_t dim, std::uint64_t seed) {
  torch::manual_seed(seed);
  FlowConfig c;
  c.dim = dim;
  c.blocks = 3;
  c.hidden = dim;
  return std::make_shared<Flow>(c);
}

TEST(Trainer, SameSeedGivesBitIdenticalParameters) {
  test::TempDir dir;
  const io::FeatureFile data = synthetic_file(dir, 1200, 8);
  TrainSettings s;
  s.lr = 1e-3;
  s.seed = 4;
  auto f1 = make_flow(8, 4);
  auto f2 = make_flow(8, 4);
  auto f3 = make_flow(8, 5);
  train_flow(*f1, data, Normalizer(), s);
  train_flow(*f2, data, Normalizer(), s);
  s.seed = 5;
  train_flow(*f3, data, Normalizer(), s);
  const auto p1 = f1->parameters();
  const auto p2 = f2->parameters();
  const auto p3 = f3->parameters();
  bool all_equal_12 = true;
  bool all_equal_13 = true;
  for (std::size_t i = 0; i < p1.size(); ++i) {
    all_equal_12 = all_equal_12 && torch::equal(p1[i], p2[i]);
    all_equal_13 = all_equal_13 && torch::equal(p1[i], p3[i]);
  }
  EXPECT_TRUE(all_equal_12);
  EXPECT_FALSE(all_equal_13);
}

TEST(Trainer, OneEpochLowersTheNegativeLogLikelihood) {
  test::TempDir dir;
  const io::FeatureFile data = synthetic_file(dir, 5000, 8);
  TrainSettings s;
  s.lr = 1e-3;
  auto flow = make_flow(8, 1);
  const TrainSummary summary = train_flow(*flow, data, Normalizer(), s);
  EXPECT_EQ(summary.steps, 20);
  EXPECT_EQ(summary.samples, 5000);
  EXPECT_EQ(summary.skipped_batches, 0);
  EXPECT_LT(summary.last_nll, summary.initial_nll - 0.5);
  EXPECT_GT(summary.samples_per_second, 0);
  EXPECT_GT(summary.first_step_seconds, 0);
  EXPECT_LT(summary.first_step_seconds, summary.seconds);
  const TrainSummary read_back = summary_from_json_text(to_json_text(summary));
  EXPECT_EQ(read_back.first_step_seconds, summary.first_step_seconds);
  EXPECT_EQ(read_back.samples_per_second, summary.samples_per_second);
}

TEST(Trainer, DivergenceStopsWithTheStepOrIsSkippedWhenAsked) {
  test::TempDir dir;
  const io::FeatureFile data = synthetic_file(dir, 2000, 8);
  TrainSettings s;
  s.lr = 1e3;  // the first Adam step moves every parameter by ~lr: exp() overflows after it
  auto flow = make_flow(8, 2);
  try {
    train_flow(*flow, data, Normalizer(), s);
    FAIL() << "a diverging training finished";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diverged at step "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--lr"), std::string::npos) << e.what();
  }
  s.skip_nonfinite = true;
  auto skipping = make_flow(8, 2);
  const TrainSummary summary = train_flow(*skipping, data, Normalizer(), s);
  EXPECT_GT(summary.skipped_batches, 0);
  EXPECT_EQ(summary.steps + summary.skipped_batches, 8);
  for (const auto& p : skipping->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST(Trainer, CudaTrainingMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  test::TempDir dir;
  const io::FeatureFile data = synthetic_file(dir, 1000, 8);
  TrainSettings s;
  s.lr = 1e-3;
  auto cpu = make_flow(8, 3);
  auto gpu = make_flow(8, 3);
  gpu->to(torch::kCUDA);
  train_flow(*cpu, data, Normalizer(), s);
  s.device = "cuda";
  train_flow(*gpu, data, Normalizer(), s);
  gpu->to(torch::kCPU);
  const torch::Tensor x = torch::randn({50, 8});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(cpu->log_prob(x), gpu->log_prob(x), 1e-3, 1e-3));
}

TEST(Trainer, RejectsFeaturesOfAnotherDimension) {
  test::TempDir dir;
  const io::FeatureFile data = synthetic_file(dir, 100, 8);
  auto flow = make_flow(6, 1);
  EXPECT_THROW(train_flow(*flow, data, Normalizer(), TrainSettings{}), Error);
}

}  // namespace
}  // namespace oodflow::flow
