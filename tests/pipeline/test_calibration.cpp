// Calibrated thresholds of train and fit: the stored thresholds are the order statistics of
// the held-out ID scores, computed here directly, and they accept the promised share of new
// ID data within binomial tolerance.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/sampling.h"
#include "oodflow/data/synthetic.h"
#include "oodflow/detect/detector.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/flow/scorer.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/fit_command.h"
#include "oodflow/pipeline/train_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

// The k-th largest score for k = ceil(percent * n / 100), in integers: an independent
// statement of "the largest t accepting at least percent% of the samples".
double order_statistic(std::vector<double> scores, std::int64_t percent) {
  std::sort(scores.begin(), scores.end(), std::greater<>());
  const auto n = static_cast<std::int64_t>(scores.size());
  const std::int64_t k = (percent * n + 99) / 100;
  return scores[static_cast<std::size_t>(k - 1)];
}

double share_at_or_above(const std::vector<double>& scores, double t) {
  std::int64_t accepted = 0;
  for (double s : scores) accepted += s >= t;
  return static_cast<double>(accepted) / static_cast<double>(scores.size());
}

// Four standard deviations of (share of new ID data accepted) - 0.95: the calibration
// sample's quantile error and the test sample's binomial error.
double tolerance95(std::size_t calibration, std::size_t test) {
  return 4 * std::sqrt(0.95 * 0.05 * (1.0 / calibration + 1.0 / test));
}

// Every stored threshold is the order statistic of the stored held-out scores, and the
// metadata record says the same.
void expect_thresholds_are_order_statistics(const metrics::Calibration& c,
                                            const std::string& record_text) {
  const auto record = nlohmann::json::parse(record_text);
  ASSERT_EQ(record["thresholds"].size(), 3u);
  EXPECT_EQ(record["count"], c.scores.size());
  const std::int64_t percents[] = {90, 95, 99};
  for (int i = 0; i < 3; ++i) {
    const double direct = order_statistic(c.scores, percents[i]);
    const auto& entry = record["thresholds"][i];
    EXPECT_DOUBLE_EQ(entry["tpr"].get<double>(), percents[i] / 100.0);
    EXPECT_EQ(entry["threshold"].get<double>(), direct) << percents[i];
    EXPECT_EQ(c.at(percents[i] / 100.0).threshold, direct);
    std::int64_t accepted = 0;
    for (double s : c.scores) accepted += s >= direct;
    EXPECT_EQ(entry["accepted"].get<std::int64_t>(), accepted);
    EXPECT_GE(accepted * 100, percents[i] * static_cast<std::int64_t>(c.scores.size()));
  }
}

void write_rows(const std::string& path, const data::FeatureMatrix& m,
                const std::vector<std::int64_t>& rows) {
  std::vector<float> values;
  for (std::int64_t r : rows) {
    values.insert(values.end(), m.values.begin() + r * m.dim, m.values.begin() + (r + 1) * m.dim);
  }
  test::write_features(path, values, static_cast<std::int64_t>(rows.size()), m.dim);
}

TEST(Calibration, FlowThresholdsAreHeldOutOrderStatisticsAndHoldOnNewIdData) {
  test::TempDir dir;
  data::MixtureSpec spec;
  spec.dim = 16;
  const data::FeatureMatrix train = data::sample_mixture(spec, 20000, 1);
  const data::FeatureMatrix fresh = data::sample_mixture(spec, 20000, 2);
  test::write_features(dir.path("train.safetensors"), train.values, train.rows, train.dim);
  test::write_features(dir.path("fresh.safetensors"), fresh.values, fresh.rows, fresh.dim);
  TrainOptions o;
  o.features = dir.path("train.safetensors");
  o.out = dir.path("flow.safetensors");
  o.flow.blocks = 4;
  o.flow.train.lr = 1e-3;
  o.seed = 7;
  const flow::TrainSummary summary = run_train(o);
  EXPECT_EQ(summary.samples, 18000);

  const flow::LoadedFlow loaded = flow::load_flow(o.out);
  ASSERT_TRUE(loaded.calibration.has_value());
  const metrics::Calibration& c = *loaded.calibration;
  EXPECT_EQ(c.rows, split_holdout(20000, 0.1, 7).held_out);
  EXPECT_EQ(c.fraction, 0.1);
  EXPECT_EQ(c.seed, 7u);

  // The stored scores are the flow's scores of exactly those rows, as `score` computes them.
  write_rows(dir.path("held_out.safetensors"), train, c.rows);
  const auto held_out = io::FeatureFile::open(dir.path("held_out.safetensors"));
  EXPECT_EQ(c.scores, test::model_scores(o.out, held_out));
  expect_thresholds_are_order_statistics(c, loaded.metadata.at("calibration"));

  const auto fresh_file = io::FeatureFile::open(dir.path("fresh.safetensors"));
  const std::vector<double> fresh_scores = test::model_scores(o.out, fresh_file);
  EXPECT_NEAR(share_at_or_above(fresh_scores, c.at(0.95).threshold), 0.95,
              tolerance95(c.scores.size(), fresh_scores.size()));
}

TEST(Calibration, ValFractionZeroStoresNoThresholds) {
  test::TempDir dir;
  data::MixtureSpec spec;
  spec.dim = 4;
  const data::FeatureMatrix train = data::sample_mixture(spec, 500, 1);
  test::write_features(dir.path("train.safetensors"), train.values, train.rows, train.dim);
  TrainOptions o;
  o.features = dir.path("train.safetensors");
  o.out = dir.path("flow.safetensors");
  o.flow.blocks = 1;
  o.val_fraction = 0;
  EXPECT_EQ(run_train(o).samples, 500);
  const flow::LoadedFlow loaded = flow::load_flow(o.out);
  EXPECT_FALSE(loaded.calibration.has_value());
  EXPECT_EQ(loaded.metadata.count("calibration"), 0u);
  o.val_fraction = 1;
  EXPECT_THROW(run_train(o), UsageError);
}

// Features in 3 classes, logits from a linear head, and that head saved as a backbone with
// the `head` submodule ReAct and ViM read.
struct LabelledSet {
  std::vector<float> features, logits;
  std::vector<std::int64_t> labels;
};
constexpr std::int64_t kDim = 6;
constexpr std::int64_t kClasses = 3;

LabelledSet labelled_set(std::int64_t n, std::uint64_t seed, const torch::Tensor& w,
                         const torch::Tensor& b) {
  data::MixtureSpec spec;
  spec.dim = kDim;
  spec.components = kClasses;
  const data::FeatureMatrix m = data::sample_mixture(spec, n, seed);
  LabelledSet s;
  s.features = m.values;
  s.labels = m.labels;
  const torch::Tensor x = torch::from_blob(s.features.data(), {n, kDim}, torch::kFloat32);
  const torch::Tensor logits = torch::addmm(b, x, w.t()).contiguous();
  s.logits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + n * kClasses);
  return s;
}

void write_labelled(const std::string& path, const LabelledSet& s) {
  io::FeatureFileContents c;
  c.rows = static_cast<std::int64_t>(s.labels.size());
  c.dim = kDim;
  c.features = s.features.data();
  c.labels = s.labels.data();
  c.logits = s.logits.data();
  c.classes = kClasses;
  const std::vector<double> odin = test::odin_standin(s.logits, kClasses);
  c.aux = {{"odin", test::kOdinStandinSettings, odin.data(), {}}};
  io::write_feature_file(path, c);
}

TEST(Calibration, EveryBaselineStoresTheOrderStatisticsOfItsHeldOutScores) {
  test::TempDir dir;
  torch::manual_seed(3);
  const torch::Tensor w = torch::randn({kClasses, kDim});
  const torch::Tensor b = torch::randn({kClasses});
  torch::jit::Module head("Head");
  head.register_parameter("weight", w, false);
  head.register_parameter("bias", b, false);
  torch::jit::Module backbone("Backbone");
  backbone.register_module("head", head);
  backbone.define("def forward(self, x):\n    return x\n");
  backbone.save(dir.path("backbone.pt"));
  write_labelled(dir.path("train.safetensors"), labelled_set(5000, 1, w, b));
  write_labelled(dir.path("fresh.safetensors"), labelled_set(4000, 2, w, b));
  const auto train = io::FeatureFile::open(dir.path("train.safetensors"));
  const auto fresh = detect::FeatureSet::load(io::FeatureFile::open(dir.path("fresh.safetensors")));

  for (const std::string& name : detect::detector_names()) {
    SCOPED_TRACE(name);
    FitOptions o;
    o.detector = name;
    o.features = dir.path("train.safetensors");
    o.out = dir.path(name + ".safetensors");
    o.head = dir.path("backbone.pt");
    o.seed = 11;
    run_fit(o);
    detect::LoadedModel loaded = detect::load_model(o.out);
    const std::map<std::string, std::string>& meta = loaded.metadata;
    const std::optional<metrics::Calibration>& c = loaded.calibration;
    const auto& detector = loaded.detector;
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->rows, split_holdout(5000, 0.1, 11).held_out);
    EXPECT_EQ(c->scores, detector->score(detect::FeatureSet::load(train, c->rows)));
    expect_thresholds_are_order_statistics(*c, meta.at("calibration"));
    EXPECT_NEAR(share_at_or_above(detector->score(fresh), c->at(0.95).threshold), 0.95,
                tolerance95(c->scores.size(), static_cast<std::size_t>(fresh.rows)));
  }
  // No scratch file of the KNN bank is left next to the output.
  for (const auto& f : dir.files()) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
}

}  // namespace
}  // namespace oodflow::pipeline
