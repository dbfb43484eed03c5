// The flow is a detector: `fit --detector glow|realnvp` and `train` are one fit, so the same
// seed gives the same file contents and the same scores.
#include <gtest/gtest.h>

#include <random>

#include "oodflow/detect/detector.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/fit_command.h"
#include "oodflow/pipeline/model.h"
#include "oodflow/pipeline/train_command.h"
#include "test_util.h"

namespace oodflow {
namespace {

std::vector<double> all_scores(const pipeline::Model& model, const io::FeatureFile& file) {
  std::vector<double> out;
  pipeline::score_in_chunks(
      model, file, 97,  // chunks that do not divide the rows
      [&](const detect::FeatureSet&, const std::vector<double>& s,
          const std::vector<std::int64_t>&) { out.insert(out.end(), s.begin(), s.end()); });
  return out;
}

TEST(FitFlow, FitDetectorGlowAndTrainWriteFlowsWithIdenticalScores) {
  test::TempDir dir;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> train(600 * 6), test(300 * 6);
  for (float& v : train) v = normal(rng);
  for (float& v : test) v = normal(rng) * 1.5f;
  test::write_features(dir.path("train.safetensors"), train, 600, 6);
  test::write_features(dir.path("test.safetensors"), test, 300, 6);
  for (const std::string arch : {"glow", "realnvp"}) {
    pipeline::TrainOptions t;
    t.arch = arch;
    t.features = dir.path("train.safetensors");
    t.out = dir.path(arch + "_train.safetensors");
    t.flow.blocks = 2;
    t.flow.train.batch_size = 50;
    t.flow.train.lr = 1e-3;
    t.seed = 11;
    const flow::TrainSummary summary = pipeline::run_train(t);
    EXPECT_EQ(summary.samples, 540);  // 10% held out

    pipeline::FitOptions f;
    f.detector = arch;
    f.features = t.features;
    f.out = dir.path(arch + "_fit.safetensors");
    f.seed = 11;
    f.options.flow.blocks = 2;
    f.options.flow.train.batch_size = 50;
    f.options.flow.train.lr = 1e-3;
    pipeline::run_fit(f);

    const pipeline::Model trained = pipeline::load_model(t.out, "cpu");
    const pipeline::Model fitted = pipeline::load_model(f.out, "cpu");
    EXPECT_EQ(trained.label, "flow (" + arch + ")");
    // Same parameters (their SHA-256 is in the record), same settings; only the file differs.
    std::string expected_record = trained.record;
    expected_record.replace(expected_record.find(t.out), t.out.size(), f.out);
    EXPECT_EQ(fitted.record, expected_record);
    ASSERT_TRUE(trained.calibration && fitted.calibration);
    EXPECT_EQ(trained.calibration->scores, fitted.calibration->scores);
    const io::FeatureFile file = io::FeatureFile::open(dir.path("test.safetensors"));
    const std::vector<double> a = all_scores(trained, file);
    EXPECT_EQ(a, all_scores(fitted, file));
    ASSERT_EQ(a.size(), 300u);
    // And a flow, not a constant: scores differ between samples.
    EXPECT_NE(a.front(), a.back());
  }
}

TEST(FitFlow, ModelFilesOfUnknownOrNewerFormatVersionsAreRefused) {
  test::TempDir dir;
  std::vector<float> train(200 * 3);
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0, 1);
  for (float& v : train) v = normal(rng);
  test::write_features(dir.path("train.safetensors"), train, 200, 3);
  pipeline::FitOptions f;
  f.detector = "gaussian";
  f.features = dir.path("train.safetensors");
  f.out = dir.path("g.safetensors");
  pipeline::run_fit(f);
  // Rewrites the version string in the header (same length keeps the offsets valid).
  std::string bytes = test::read_bytes(f.out);
  const std::string key = "\"format_version\":\"1\"";
  ASSERT_NE(bytes.find(key), std::string::npos);
  bytes.replace(bytes.find(key), key.size(), "\"format_version\":\"7\"");
  test::write_bytes(dir.path("newer.safetensors"), bytes);
  test::expect_error(
      [&] { detect::load_model(dir.path("newer.safetensors")); },
      {"newer.safetensors", "format version 7", "newer oodflow", "reads versions 1 to 2"});
  bytes.replace(bytes.find("\"format_version\":\"7\""), key.size(), "\"format_version\":\"x\"");
  test::write_bytes(dir.path("odd.safetensors"), bytes);
  test::expect_error([&] { detect::load_model(dir.path("odd.safetensors")); },
                     {"odd.safetensors", "format_version 'x'"});
  test::expect_error([&] { detect::load_model(dir.path("train.safetensors")); },
                     {"train.safetensors", "no oodflow model file", "oodflow.features"});
}

}  // namespace
}  // namespace oodflow
