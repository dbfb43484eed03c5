// The extension point: a model defined here, in test code, registered at run time, goes
// through the public pipeline like a built-in one: fit -> score (report) -> detect. Adding a
// baseline to oodflow is this class in src/detect/ plus one registry line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "oodflow/detect/detector.h"
#include "oodflow/pipeline/detect_command.h"
#include "oodflow/pipeline/fit_command.h"
#include "oodflow/pipeline/score_command.h"
#include "test_util.h"

namespace oodflow {
namespace {

using detect::Detector;
using detect::DetectorState;
using detect::FeatureSet;

// -(Euclidean distance to the training mean): the simplest density-free detector.
class CentroidDetector : public Detector {
 public:
  std::string name() const override { return "toy_centroid"; }
  void fit(const FeatureSet& train, const detect::FitContext&) override {
    mean_.assign(static_cast<std::size_t>(train.dim), 0.0);
    for (std::int64_t i = 0; i < train.rows; ++i) {
      for (std::int64_t d = 0; d < train.dim; ++d) {
        mean_[static_cast<std::size_t>(d)] +=
            train.features[static_cast<std::size_t>(i * train.dim + d)];
      }
    }
    for (double& m : mean_) m /= static_cast<double>(train.rows);
  }
  std::vector<double> score(const FeatureSet& data) const override {
    std::vector<double> out;
    for (std::int64_t i = 0; i < data.rows; ++i) {
      double sq = 0;
      for (std::int64_t d = 0; d < data.dim; ++d) {
        const double diff = data.features[static_cast<std::size_t>(i * data.dim + d)] -
                            mean_[static_cast<std::size_t>(d)];
        sq += diff * diff;
      }
      out.push_back(-std::sqrt(sq));
    }
    return out;
  }
  std::int64_t feature_dim() const override { return static_cast<std::int64_t>(mean_.size()); }
  DetectorState state() const override {
    DetectorState s;
    s.arrays["mean"].shape = {static_cast<std::int64_t>(mean_.size())};
    s.arrays["mean"].values = mean_;
    return s;
  }
  void restore(const DetectorState& s) override { mean_ = s.arrays.at("mean").values; }

 private:
  std::vector<double> mean_;
};

std::vector<float> gaussian_rows(std::int64_t rows, std::int64_t dim, float shift,
                                 std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> out;
  for (std::int64_t i = 0; i < rows * dim; ++i) out.push_back(normal(rng) + shift);
  return out;
}

std::vector<double> brute_force_scores(const std::vector<float>& train, const std::vector<float>& x,
                                       std::int64_t dim, const std::vector<std::int64_t>& rows) {
  std::vector<double> mean(static_cast<std::size_t>(dim), 0.0);
  for (std::int64_t r : rows) {
    for (std::int64_t d = 0; d < dim; ++d) mean[d] += train[static_cast<std::size_t>(r * dim + d)];
  }
  for (double& m : mean) m /= static_cast<double>(rows.size());
  std::vector<double> out;
  for (std::size_t i = 0; i < x.size() / static_cast<std::size_t>(dim); ++i) {
    double sq = 0;
    for (std::int64_t d = 0; d < dim; ++d) {
      const double diff = x[i * dim + d] - mean[d];
      sq += diff * diff;
    }
    out.push_back(-std::sqrt(sq));
  }
  return out;
}

TEST(ToyDetector, RegisteredInTestCodeItRunsFitScoreDetectAndAReport) {
  detect::register_detector("toy_centroid", [](const detect::DetectorOptions&) {
    return std::make_unique<CentroidDetector>();
  });
  test::expect_error(
      [] {
        detect::register_detector("knn", [](const detect::DetectorOptions&) {
          return std::make_unique<CentroidDetector>();
        });
      },
      {"'knn'", "taken"});
  const auto& names = detect::detector_names();
  ASSERT_NE(std::find(names.begin(), names.end(), "toy_centroid"), names.end());

  test::TempDir dir;
  const std::int64_t dim = 3;
  const std::vector<float> train = gaussian_rows(200, dim, 0, 1);
  const std::vector<float> id = gaussian_rows(50, dim, 0, 2);
  const std::vector<float> ood = gaussian_rows(40, dim, 4, 3);
  test::write_features(dir.path("train.safetensors"), train, 200, dim);
  test::write_features(dir.path("id.safetensors"), id, 50, dim);
  test::write_features(dir.path("ood.safetensors"), ood, 40, dim);

  pipeline::FitOptions fit;
  fit.detector = "toy_centroid";
  fit.features = dir.path("train.safetensors");
  fit.out = dir.path("toy.safetensors");
  pipeline::run_fit(fit);

  // The file names the model and is calibrated like every other one.
  const detect::LoadedModel loaded = detect::load_model(fit.out);
  EXPECT_EQ(loaded.detector->name(), "toy_centroid");
  ASSERT_TRUE(loaded.calibration.has_value());
  EXPECT_EQ(loaded.calibration->rows.size(), 20u);  // 10% of 200 held out
  std::vector<std::int64_t> fitted_rows;
  for (std::int64_t r = 0; r < 200; ++r) {
    if (std::find(loaded.calibration->rows.begin(), loaded.calibration->rows.end(), r) ==
        loaded.calibration->rows.end()) {
      fitted_rows.push_back(r);
    }
  }
  const std::vector<double> expected_id = brute_force_scores(train, id, dim, fitted_rows);
  const std::vector<double> expected_ood = brute_force_scores(train, ood, dim, fitted_rows);

  pipeline::ScoreOptions score;
  score.models = {fit.out};
  score.id = dir.path("id.safetensors");
  score.ood = {"shifted=" + dir.path("ood.safetensors")};
  score.out = dir.path("report.json");
  score.scores = dir.path("scores.csv");
  ASSERT_EQ(pipeline::run_score(score), 0);
  std::ifstream csv(score.scores);
  std::string line;
  std::getline(csv, line);
  std::vector<double> id_scores, ood_scores;
  while (std::getline(csv, line)) {
    const double value = std::stod(line.substr(line.rfind(',') + 1));
    (line.rfind("id,", 0) == 0 ? id_scores : ood_scores).push_back(value);
  }
  ASSERT_EQ(id_scores.size(), expected_id.size());
  ASSERT_EQ(ood_scores.size(), expected_ood.size());
  for (std::size_t i = 0; i < id_scores.size(); ++i)
    EXPECT_NEAR(id_scores[i], expected_id[i], 1e-9);
  for (std::size_t i = 0; i < ood_scores.size(); ++i) {
    EXPECT_NEAR(ood_scores[i], expected_ood[i], 1e-9);
  }
  // The report: AUROC by brute force over the pairs.
  double pairs = 0;
  for (double a : expected_id) {
    for (double b : expected_ood) pairs += a > b ? 1.0 : a == b ? 0.5 : 0.0;
  }
  const nlohmann::json report = nlohmann::json::parse(test::read_bytes(score.out));
  const nlohmann::json& entry = report["detectors"][0];
  EXPECT_EQ(entry["detector"]["name"], "toy_centroid");
  EXPECT_DOUBLE_EQ(entry["ood"][0]["auroc"].get<double>(), pairs / (50.0 * 40.0));

  // detect: one verdict per sample at the calibrated 95% threshold.
  pipeline::DetectOptions judge;
  judge.model = fit.out;
  judge.features = dir.path("ood.safetensors");
  judge.out = dir.path("verdicts.csv");
  pipeline::DetectSummary summary;
  ASSERT_EQ(pipeline::run_detect(judge, &summary), 0);
  EXPECT_EQ(summary.samples, 40);
  std::int64_t flagged = 0;
  for (double s : expected_ood) flagged += s < summary.threshold;
  EXPECT_EQ(summary.flagged, flagged);
  EXPECT_GT(flagged, 30);  // a shift of 4 sigma in 3 dimensions is far out
}

}  // namespace
}  // namespace oodflow
