// The train and score commands in-process, as the CLI runs them.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/data/synthetic.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/npy.h"
#include "oodflow/pipeline/score_command.h"
#include "oodflow/pipeline/train_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

void write_mixture(const std::string& path, double shift, std::int64_t n, std::uint64_t seed) {
  data::MixtureSpec spec;
  spec.dim = 64;
  spec.shift = shift;
  const data::FeatureMatrix m = data::sample_mixture(spec, n, seed);
  test::write_features(path, m.values, m.rows, m.dim);
}

class TrainScore : public ::testing::Test {
 protected:
  void SetUp() override {
    write_mixture(dir_.path("train.safetensors"), 0, 20000, 1);
    write_mixture(dir_.path("test.safetensors"), 0, 2000, 2);
    write_mixture(dir_.path("ood.safetensors"), 1.0, 2000, 3);
  }
  TrainOptions train_options() const {
    TrainOptions o;  // the reference recipe: glow K=10, lr 1e-5, batch 250, one epoch, L2
    o.features = dir_.path("train.safetensors");
    o.out = dir_.path("flow.safetensors");
    return o;
  }
  ScoreOptions score_options() const {
    ScoreOptions o;
    o.models = {dir_.path("flow.safetensors")};
    o.id = dir_.path("test.safetensors");
    o.ood = {"shifted=" + dir_.path("ood.safetensors")};
    o.out = dir_.path("report.json");
    o.scores = dir_.path("scores.csv");
    return o;
  }
  test::TempDir dir_;
};

TEST_F(TrainScore, DefaultRecipeSeparatesShiftedMixtureAndReportsEveryKey) {
  const flow::TrainSummary summary = run_train(train_options());
  EXPECT_EQ(summary.steps, 72);  // 90% of the samples: 10% are held out for calibration
  EXPECT_EQ(run_score(score_options()), 0);

  const auto report = nlohmann::json::parse(test::read_bytes(dir_.path("report.json")));
  for (const char* key : {"report_format_version", "convention", "id", "detectors", "gates"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["report_format_version"], 2);
  ASSERT_EQ(report["detectors"].size(), 1u);
  const auto& detector = report["detectors"][0];
  for (const char* key : {"label", "detector", "id_nonfinite", "ood"}) {
    EXPECT_TRUE(detector.contains(key)) << key;
  }
  ASSERT_EQ(detector["ood"].size(), 1u);
  const auto& set = detector["ood"][0];
  for (const char* key : {"name", "file", "count", "nonfinite", "auroc", "fpr95", "threshold95",
                          "aupr_in", "aupr_out"}) {
    EXPECT_TRUE(set.contains(key)) << key;
  }
  EXPECT_EQ(set["name"], "shifted");
  EXPECT_EQ(set["count"], 2000);
  EXPECT_GT(set["auroc"].get<double>(), 0.95);
  EXPECT_EQ(report["id"]["count"], 2000);
  EXPECT_EQ(detector["detector"]["arch"], "glow");
  EXPECT_EQ(detector["detector"]["blocks"], 10);
  EXPECT_EQ(detector["detector"]["training"]["count"], 18000);
  EXPECT_EQ(detector["detector"]["training"]["held_out"], 2000);
  EXPECT_EQ(detector["detector"]["training"]["features_sha256"].get<std::string>().size(), 64u);

  // The CSV holds one row per sample of every set, plus the header.
  const std::string csv = test::read_bytes(dir_.path("scores.csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 2000 + 2000);
  EXPECT_EQ(csv.rfind("set,index,source,score\n", 0), 0u);
}

TEST_F(TrainScore, SameSeedGivesSameParametersAndSameReport) {
  auto train = train_options();
  train.flow.blocks = 2;
  run_train(train);
  run_score(score_options());
  const std::string report1 = test::read_bytes(dir_.path("report.json"));
  const auto params1 =
      nlohmann::json::parse(report1)["detectors"][0]["detector"]["parameters_sha256"];
  run_train(train);
  run_score(score_options());
  EXPECT_EQ(test::read_bytes(dir_.path("report.json")), report1);
  train.seed = 1;
  run_train(train);
  run_score(score_options());
  EXPECT_NE(nlohmann::json::parse(test::read_bytes(
                dir_.path("report.json")))["detectors"][0]["detector"]["parameters_sha256"],
            params1);
}

TEST_F(TrainScore, StandardizeAndRealNvpAlsoWork) {
  auto train = train_options();
  train.arch = "realnvp";
  train.flow.normalize = "standardize";
  train.flow.train.lr = 1e-3;
  run_train(train);
  EXPECT_EQ(run_score(score_options()), 0);
  const auto report = nlohmann::json::parse(test::read_bytes(dir_.path("report.json")));
  const auto& detector = report["detectors"][0];
  EXPECT_EQ(detector["detector"]["arch"], "realnvp");
  EXPECT_EQ(detector["detector"]["normalize"], "standardize");
  EXPECT_GT(detector["ood"][0]["auroc"].get<double>(), 0.9);
}

TEST_F(TrainScore, GateFailureExitsThree) {
  auto train = train_options();
  train.flow.blocks = 1;
  run_train(train);
  auto score = score_options();
  score.fail_under = "auroc=0.999999";
  EXPECT_EQ(run_score(score), kExitGateFailed);
  score.fail_under = "auroc=0.5";
  EXPECT_EQ(run_score(score), 0);
}

// ---- bad input: one clear error naming the file, nothing written ---------------------------

class BadInput : public TrainScore {
 protected:
  // Runs `fn`, expects an Error mentioning `file` and `needle`, on one line, and that the
  // folder holds exactly the files it held before.
  template <typename Fn>
  void expect_clean_failure(Fn fn, const std::string& file, const std::string& needle) {
    const auto before = dir_.files();
    test::expect_error(fn, {file, needle});
    EXPECT_EQ(dir_.files(), before) << "an output or temporary file was left behind";
  }

  void write_matrix(const std::string& name, std::vector<float> values, std::int64_t dim) {
    test::write_features(dir_.path(name), values, static_cast<std::int64_t>(values.size()) / dim,
                         dim);
  }
};

TEST_F(BadInput, MissingFeatureFile) {
  auto o = train_options();
  o.features = dir_.path("nope.safetensors");
  expect_clean_failure([&] { run_train(o); }, "nope.safetensors", "No such file");
}

TEST_F(BadInput, CorruptOrTruncatedFiles) {
  const std::string good = test::read_bytes(dir_.path("test.safetensors"));
  test::write_bytes(dir_.path("trunc_header.safetensors"), good.substr(0, 40));
  test::write_bytes(dir_.path("trunc_data.safetensors"), good.substr(0, good.size() - 100));
  test::write_bytes(dir_.path("garbage.safetensors"), std::string(64, 'x'));
  const std::vector<float> v(8, 1.0f);
  std::string npy = io::serialize_npy(io::DType::F32, {2, 4}, v.data());
  test::write_bytes(dir_.path("trunc.npy"), npy.substr(0, npy.size() - 3));
  test::write_bytes(dir_.path("badheader.npy"), npy.substr(0, 12) + "garbage" + npy.substr(19));
  for (const std::string name : {"trunc_header.safetensors", "trunc_data.safetensors",
                                 "garbage.safetensors", "trunc.npy", "badheader.npy"}) {
    auto o = train_options();
    o.features = dir_.path(name);
    expect_clean_failure([&] { run_train(o); }, name, "");
  }
}

TEST_F(BadInput, FeatureDimensionDoesNotMatchTheFlow) {
  auto train = train_options();
  train.flow.blocks = 1;
  run_train(train);
  write_matrix("dim8.safetensors", std::vector<float>(80, 0.5f), 8);
  auto o = score_options();
  o.ood = {"wrong=" + dir_.path("dim8.safetensors")};
  expect_clean_failure([&] { run_score(o); }, "dim8.safetensors", "dimension 8");
}

TEST_F(BadInput, ZeroNormVectorUnderL2) {
  std::vector<float> v(64 * 10, 0.25f);
  std::fill(v.begin() + 64 * 7, v.begin() + 64 * 8, 0.0f);
  write_matrix("zero.safetensors", v, 64);
  auto o = train_options();
  o.features = dir_.path("zero.safetensors");
  expect_clean_failure([&] { run_train(o); }, "zero.safetensors",
                       "sample 7: feature vector has zero norm");
}

TEST_F(BadInput, NanOrInfInFeatures) {
  for (float bad : {NAN, INFINITY}) {
    std::vector<float> v(64 * 10, 0.25f);
    v[64 * 3 + 5] = bad;
    write_matrix("bad.safetensors", v, 64);
    auto train = train_options();
    train.features = dir_.path("bad.safetensors");
    expect_clean_failure([&] { run_train(train); }, "bad.safetensors", "sample 3: feature 5");
    auto std_train = train;
    std_train.flow.normalize = "standardize";
    expect_clean_failure([&] { run_train(std_train); }, "bad.safetensors", "sample 3: feature 5");
    ::unlink(dir_.path("bad.safetensors").c_str());
  }
}

TEST_F(BadInput, EmptySet) {
  const std::vector<float> none;
  test::write_bytes(dir_.path("empty.npy"),
                    io::serialize_npy(io::DType::F32, {0, 64}, none.data()));
  auto o = train_options();
  o.features = dir_.path("empty.npy");
  expect_clean_failure([&] { run_train(o); }, "empty.npy", "no samples");
}

TEST_F(BadInput, UnwritableOutputFailsBeforeAnyWork) {
  auto o = train_options();
  o.out = dir_.path("no_such_folder/flow.safetensors");
  expect_clean_failure([&] { run_train(o); }, "no_such_folder/flow.safetensors", "cannot create");
}

TEST_F(BadInput, OptionsOutOfRange) {
  auto o = train_options();
  o.flow.train.lr = -1;
  expect_clean_failure([&] { run_train(o); }, "--lr", "> 0");
  o = train_options();
  o.flow.normalize = "l1";
  expect_clean_failure([&] { run_train(o); }, "l1", "unknown normalization");
  auto s = score_options();
  s.fail_under = "auroc=2";
  expect_clean_failure([&] { run_score(s); }, "--fail-under", "between 0 and 1");
}

}  // namespace
}  // namespace oodflow::pipeline
