// The recipes and controls end to end through `fit`: gaussian and mahalanobis on normalised
// features against fits on features normalised here, a class-based flow whose step-0
// snapshot ranks like Mahalanobis++, and the errors of options that cannot work together.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "oodflow/core/error.h"
#include "oodflow/detect/detector.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/safetensors.h"
#include "oodflow/pipeline/fit_command.h"
#include "oodflow/pipeline/model.h"
#include "test_util.h"

namespace oodflow {
namespace {

constexpr std::int64_t kDim = 5;

struct Rows {
  std::vector<float> features;
  std::vector<std::int64_t> labels;
  std::int64_t n = 0;
};

Rows random_rows(std::int64_t n, std::uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  Rows r;
  r.n = n;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = i % 3;
    r.labels.push_back(c);
    for (std::int64_t j = 0; j < kDim; ++j) {
      r.features.push_back(scale * (normal(rng) + (j == c ? 3.0f : 0.0f)) + 0.5f * j);
    }
  }
  return r;
}

void write(const std::string& path, const Rows& r, bool labels) {
  io::FeatureFileContents c;
  c.rows = r.n;
  c.dim = kDim;
  c.features = r.features.data();
  if (labels) c.labels = r.labels.data();
  io::write_feature_file(path, c);
}

// The rows divided by their L2 norm, in double then rounded (the oracle of --normalize l2).
Rows l2_normalised(Rows r) {
  for (std::int64_t i = 0; i < r.n; ++i) {
    double norm = 0;
    for (std::int64_t j = 0; j < kDim; ++j) norm += std::pow(r.features[i * kDim + j], 2);
    norm = std::sqrt(norm);
    for (std::int64_t j = 0; j < kDim; ++j) {
      r.features[i * kDim + j] = static_cast<float>(r.features[i * kDim + j] / norm);
    }
  }
  return r;
}

// Files that older oodflows would misread are written as version 2 (they refuse it).
std::string format_version(const std::string& path) {
  const io::SafetensorsFile file(path);
  return file.view().metadata.at("format_version");
}

pipeline::FitOptions fit_options(const std::string& detector, const std::string& features,
                                 const std::string& out) {
  pipeline::FitOptions f;
  f.detector = detector;
  f.features = features;
  f.out = out;
  f.val_fraction = 0;
  return f;
}

TEST(RecipeCommands, GaussianControlsOnL2FeaturesEqualFitsOnNormalisedFeatures) {
  test::TempDir dir;
  const Rows train = random_rows(400, 1, 2.0f);
  const Rows test = random_rows(90, 2, 3.0f);
  write(dir.path("train.safetensors"), train, true);
  write(dir.path("train_l2.safetensors"), l2_normalised(train), true);
  write(dir.path("test.safetensors"), test, false);  // scoring needs no labels
  write(dir.path("test_l2.safetensors"), l2_normalised(test), false);
  for (const std::string name : {"gaussian", "mahalanobis"}) {
    pipeline::FitOptions control =
        fit_options(name, dir.path("train.safetensors"), dir.path(name + "_l2.safetensors"));
    control.options.gaussian_normalize = "l2";
    pipeline::run_fit(control);
    pipeline::run_fit(fit_options(name, dir.path("train_l2.safetensors"),
                                  dir.path(name + "_oracle.safetensors")));
    const pipeline::Model model = pipeline::load_model(control.out, "cpu");
    EXPECT_EQ(model.label, name + " (l2)");
    EXPECT_EQ(format_version(control.out), "2");
    EXPECT_EQ(format_version(dir.path(name + "_oracle.safetensors")), "1");
    const std::vector<double> got =
        test::model_scores(control.out, io::FeatureFile::open(dir.path("test.safetensors")));
    const std::vector<double> expected =
        test::model_scores(dir.path(name + "_oracle.safetensors"),
                           io::FeatureFile::open(dir.path("test_l2.safetensors")));
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i], expected[i], 1e-6 * std::max(1.0, std::abs(expected[i]))) << name << i;
    }
  }
}

TEST(RecipeCommands, StandardizedGaussianKeepsItsStatisticsInTheFile) {
  test::TempDir dir;
  const Rows train = random_rows(300, 3, 4.0f);
  Rows test = random_rows(50, 4, 5.0f);
  write(dir.path("train.safetensors"), train, false);
  write(dir.path("test.safetensors"), test, false);
  pipeline::FitOptions f =
      fit_options("gaussian", dir.path("train.safetensors"), dir.path("std.safetensors"));
  f.options.gaussian_normalize = "standardize";
  pipeline::run_fit(f);
  // Oracle: standardise with the training rows' mean and population std, then fit as stored.
  Rows scaled_train = train;
  for (std::int64_t j = 0; j < kDim; ++j) {
    double sum = 0, sum_sq = 0;
    for (std::int64_t i = 0; i < train.n; ++i) sum += train.features[i * kDim + j];
    const double mean = sum / static_cast<double>(train.n);
    for (std::int64_t i = 0; i < train.n; ++i) {
      sum_sq += std::pow(train.features[i * kDim + j] - mean, 2);
    }
    const double sd = std::sqrt(sum_sq / static_cast<double>(train.n));
    for (Rows* r : {&scaled_train, &test}) {
      for (std::int64_t i = 0; i < r->n; ++i) {
        float& v = r->features[i * kDim + j];
        v = static_cast<float>((v - mean) / sd);
      }
    }
  }
  write(dir.path("train_scaled.safetensors"), scaled_train, false);
  write(dir.path("test_scaled.safetensors"), test, false);
  pipeline::run_fit(fit_options("gaussian", dir.path("train_scaled.safetensors"),
                                dir.path("oracle.safetensors")));
  const std::vector<double> got =
      test::model_scores(f.out, io::FeatureFile::open(dir.path("test.safetensors")));
  const std::vector<double> expected = test::model_scores(
      dir.path("oracle.safetensors"), io::FeatureFile::open(dir.path("test_scaled.safetensors")));
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], 1e-4 * std::max(1.0, std::abs(expected[i]))) << i;
  }
}

TEST(RecipeCommands, ClassBasedFlowStartsAsMahalanobisPlusPlus) {
  test::TempDir dir;
  const Rows train = random_rows(600, 5, 1.0f);
  const Rows test = random_rows(120, 6, 1.6f);
  write(dir.path("train.safetensors"), train, true);
  write(dir.path("test.safetensors"), test, false);
  pipeline::FitOptions f =
      fit_options("glow", dir.path("train.safetensors"), dir.path("flow.safetensors"));
  detect::FlowOptions& flow = f.options.flow;
  flow.blocks = 2;
  flow.base = "class";
  flow.class_score = "max";
  flow.train.init = "gaussian";
  flow.train.steps = 5;
  flow.train.lr = 1e-3;
  flow.train.batch_size = 100;
  flow.train.snapshot_steps = {0};
  pipeline::run_fit(f);
  ASSERT_TRUE(test::file_exists(dir.path("flow.step0.safetensors")));
  EXPECT_EQ(format_version(f.out), "2");
  EXPECT_NE(pipeline::load_model(f.out, "cpu").record.find("\"base\":\"class\""),
            std::string::npos);

  pipeline::FitOptions m =
      fit_options("mahalanobis", dir.path("train.safetensors"), dir.path("maha.safetensors"));
  m.options.gaussian_normalize = "l2";
  pipeline::run_fit(m);
  const io::FeatureFile file = io::FeatureFile::open(dir.path("test.safetensors"));
  const std::vector<double> step0 = test::model_scores(dir.path("flow.step0.safetensors"), file);
  const std::vector<double> maha = test::model_scores(m.out, file);
  // max_c log N(x; mu_c, S) = -maha / 2 + const: the same ranking as Mahalanobis++.
  const double offset = step0[0] - 0.5 * maha[0];
  for (std::size_t i = 0; i < step0.size(); ++i) {
    EXPECT_NEAR(step0[i], 0.5 * maha[i] + offset, 2e-3 * std::max(1.0, std::abs(step0[i]))) << i;
  }
  // The trained flow scores too (its class means were saved and loaded).
  const std::vector<double> trained = test::model_scores(f.out, file);
  for (const double s : trained) EXPECT_TRUE(std::isfinite(s));
}

TEST(RecipeCommands, OptionsThatCannotWorkAreRefusedBeforeAnyWork) {
  test::TempDir dir;
  const Rows train = random_rows(100, 7, 1.0f);
  write(dir.path("unlabelled.safetensors"), train, false);
  pipeline::FitOptions f =
      fit_options("glow", dir.path("unlabelled.safetensors"), dir.path("out.safetensors"));
  f.options.flow.base = "class";
  test::expect_error([&] { pipeline::run_fit(f); }, {"unlabelled.safetensors", "labels"});
  EXPECT_FALSE(test::file_exists(f.out));

  f.options.flow.base = "normal";
  f.options.flow.train.init = "gaussian";
  f.detector = "realnvp";
  test::expect_error([&] { pipeline::run_fit(f); }, {"--init gaussian", "glow"});
  f.detector = "glow";
  f.options.flow.train.early_stopping = 3;
  test::expect_error([&] { pipeline::run_fit(f); }, {"--early-stopping", "--eval-fraction"});
  f.options.flow.train.early_stopping = 0;
  f.options.flow.train.schedule = "linear";
  test::expect_error([&] { pipeline::run_fit(f); }, {"--schedule", "cosine"});
}

}  // namespace
}  // namespace oodflow
