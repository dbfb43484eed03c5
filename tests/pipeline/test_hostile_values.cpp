// Hostile feature values through train and fit: each gives a correct result or a clear error
// naming the file, never a model that scores NaN.
#include <gtest/gtest.h>

#include <cmath>

#include "oodflow/data/synthetic.h"
#include "oodflow/detect/detector.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/flow/scorer.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/metrics/ood_metrics.h"
#include "oodflow/pipeline/fit_command.h"
#include "oodflow/pipeline/model_records.h"
#include "oodflow/pipeline/train_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

std::vector<float> gaussian(std::int64_t n, std::int64_t dim, double scale) {
  data::NormalSampler sampler(3);
  std::vector<float> v(static_cast<std::size_t>(n * dim));
  for (float& x : v) x = static_cast<float>(sampler.next() * scale);
  return v;
}

class HostileValues : public ::testing::Test {
 protected:
  TrainOptions train(const std::vector<float>& values, std::int64_t n, std::int64_t dim,
                     const std::string& normalize) {
    test::write_features(dir_.path("x.safetensors"), values, n, dim);
    TrainOptions o;
    o.features = dir_.path("x.safetensors");
    o.out = dir_.path("flow.safetensors");
    o.flow.blocks = 2;
    o.flow.normalize = normalize;
    return o;
  }
  TrainOptions train_options(const std::string& features) {
    TrainOptions o;
    o.features = features;
    o.out = dir_.path("flow.safetensors");
    o.flow.blocks = 2;
    return o;
  }
  test::TempDir dir_;
};

TEST_F(HostileValues, HugeMagnitudesTrainWithL2AndStopWithTheStepWithout) {
  const auto huge = gaussian(500, 8, 1e30);
  run_train(train(huge, 500, 8, "l2"));
  const auto loaded = flow::load_flow(dir_.path("flow.safetensors"));
  for (double s : loaded.calibration->scores) EXPECT_TRUE(std::isfinite(s));
  test::expect_error([&] { run_train(train(huge, 500, 8, "none")); },
                     {"x.safetensors", "diverged at step 1"});
  EXPECT_NO_THROW(flow::load_flow(dir_.path("flow.safetensors")));  // the earlier one, intact
}

TEST_F(HostileValues, ConstantFeaturesAreAnErrorAndDenormalOnesNeverANanModel) {
  const std::vector<float> equal(500 * 8, 1.0f);
  for (const std::string normalize : {"standardize", "none", "l2"}) {
    test::expect_error([&] { run_train(train(equal, 500, 8, normalize)); },
                       {"x.safetensors", "every feature dimension is constant", "450 training"});
    EXPECT_FALSE(test::file_exists(dir_.path("flow.safetensors")));
  }
  // Values of 1e-40 (float32 denormals) vary: a flow with finite scores, or a clear error.
  const auto denormal = gaussian(500, 8, 1e-40);
  try {
    run_train(train(denormal, 500, 8, "standardize"));
    const auto loaded = flow::load_flow(dir_.path("flow.safetensors"));
    for (double s : loaded.calibration->scores) EXPECT_TRUE(std::isfinite(s)) << s;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(HostileValues, OneSampleAndOneDimensionAreClearErrors) {
  test::expect_error([&] { run_train(train(gaussian(1, 8, 1), 1, 8, "l2")); },
                     {"--val-fraction 0.1 of 1 samples"});
  test::expect_error([&] { run_train(train(gaussian(500, 1, 1), 500, 1, "l2")); },
                     {"dimension >= 2, got 1"});
  TrainOptions o = train(gaussian(1, 8, 1), 1, 8, "l2");
  o.val_fraction = 0;
  try {
    run_train(o);  // one sample: a flow, or a clear error; never a NaN model
    const auto file = io::FeatureFile::open(o.features);
    for (double s : test::model_scores(o.out, file, 16)) {
      EXPECT_TRUE(std::isfinite(s));
    }
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.safetensors"), std::string::npos) << e.what();
  }
}

// Labels are class names, whatever their values: Mahalanobis with labels far outside 0..C-1
// gives exactly the scores of the same classes numbered 0..C-1.
TEST_F(HostileValues, LabelsOutOfTheUsualRangeAreJustClassNames) {
  const auto values = gaussian(600, 4, 1);
  std::vector<std::int64_t> small(600), wild(600);
  for (std::size_t i = 0; i < 600; ++i) {
    small[i] = static_cast<std::int64_t>(i % 3);
    wild[i] = small[i] == 0 ? -7 : small[i] == 1 ? 1000000000000LL : INT64_MIN;
  }
  std::vector<double> scores[2];
  for (int k = 0; k < 2; ++k) {
    io::FeatureFileContents c;
    c.rows = 600;
    c.dim = 4;
    c.features = values.data();
    c.labels = (k == 0 ? small : wild).data();
    io::write_feature_file(dir_.path("l.safetensors"), c);
    FitOptions f;
    f.detector = "mahalanobis";
    f.features = dir_.path("l.safetensors");
    f.out = dir_.path("m.safetensors");
    run_fit(f);
    scores[k] = detect::load_model(f.out).detector->score(
        detect::FeatureSet::load(io::FeatureFile::open(f.features)));
  }
  EXPECT_EQ(scores[0], scores[1]);
}

TEST_F(HostileValues, NonFiniteTrainingRowsOfABaselineAreNamedNotFitted) {
  std::vector<float> values = gaussian(500, 4, 1);
  values[3 * 4 + 2] = NAN;   // row 3
  values[7 * 4] = INFINITY;  // row 7
  test::write_features(dir_.path("nan.safetensors"), values, 500, 4);
  // KNN's streamed bank meets the row when it normalises it, the others before fitting.
  for (const auto& [detector, where] : std::vector<std::pair<std::string, std::string>>{
           {"gaussian", "row 3"}, {"knn", "sample 3"}}) {
    SCOPED_TRACE(detector);
    FitOptions f;
    f.detector = detector;
    f.features = dir_.path("nan.safetensors");
    f.out = dir_.path("d.safetensors");
    f.options.k = 5;
    f.val_fraction = 0;  // every row is a training row
    test::expect_error([&] { run_fit(f); }, {"nan.safetensors", where});
    EXPECT_FALSE(test::file_exists(f.out));
  }
}

// ReLU features whose first 4 of 16 dimensions are 0 in every ID training sample, and OOD
// samples where they are about 0.4 (the case: the flow gave NaN to 198 of 200).
struct DeadUnits {
  std::vector<float> id, ood;
  std::vector<std::int64_t> labels;
  static constexpr std::int64_t kId = 2000, kOod = 200, kDim = 16;
  DeadUnits() {
    data::NormalSampler normal(11);
    for (std::int64_t i = 0; i < kId + kOod; ++i) {
      const bool is_ood = i >= kId;
      for (std::int64_t j = 0; j < kDim; ++j) {
        float v = std::max(0.0F, static_cast<float>(normal.next() + 0.5));
        if (j < 4) v = is_ood ? static_cast<float>(0.4 + 0.05 * normal.next()) : 0.0F;
        (is_ood ? ood : id).push_back(v);
      }
      if (!is_ood) labels.push_back(i % 3);
    }
  }
};

TEST_F(HostileValues, DeadDimensionsGiveNoNanScoreAndTheirOodRanksBelowEveryId) {
  const DeadUnits d;
  io::FeatureFileContents c;
  c.rows = DeadUnits::kId;
  c.dim = DeadUnits::kDim;
  c.features = d.id.data();
  c.labels = d.labels.data();
  io::write_feature_file(dir_.path("id.safetensors"), c);
  test::write_features(dir_.path("ood.safetensors"), d.ood, DeadUnits::kOod, DeadUnits::kDim);
  const auto id_file = io::FeatureFile::open(dir_.path("id.safetensors"));
  const auto ood_file = io::FeatureFile::open(dir_.path("ood.safetensors"));
  std::vector<std::int64_t> all(DeadUnits::kId);
  for (std::int64_t i = 0; i < DeadUnits::kId; ++i) all[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(constant_dimensions(id_file, all), (std::vector<std::int64_t>{0, 1, 2, 3}));

  const auto check = [&](const std::vector<double>& id, const std::vector<double>& ood,
                         bool density) {
    double mean = 0;
    for (double s : id) {
      EXPECT_TRUE(std::isfinite(s)) << s;
      mean += s / static_cast<double>(id.size());
    }
    // A sane density of the ID samples themselves: about -35 nats here (a diverged RealNVP
    // gave -3e19 and still ranked every pair right).
    EXPECT_GT(mean, -1e3);
    std::size_t nan = 0;
    for (double s : ood) nan += std::isnan(s) ? 1 : 0;
    EXPECT_EQ(nan, 0u);  // -inf is allowed: the most OOD
    // A density of the training data is zero off the subspace it lives in: every pair is
    // ranked right, AUROC 1 (a pair count; ties would count a half). KNN on L2-normalised
    // features sees the extra dimensions only through the angle (0.90 here).
    if (density) {
      EXPECT_EQ(metrics::compute_ood_metrics(id, ood).auroc, 1.0);
    }
  };
  for (const std::string arch : {"glow", "realnvp"}) {
    SCOPED_TRACE(arch);
    TrainOptions o;
    o.features = dir_.path("id.safetensors");
    o.out = dir_.path(arch + ".safetensors");
    o.arch = arch;
    run_train(o);  // the defaults, as the issue ran them
    check(test::model_scores(o.out, id_file, 512), test::model_scores(o.out, ood_file, 512), true);
  }
  for (const std::string name : {"gaussian", "mahalanobis", "knn"}) {
    SCOPED_TRACE(name);
    FitOptions f;
    f.detector = name;
    f.features = dir_.path("id.safetensors");
    f.out = dir_.path(name + ".safetensors");
    f.options.k = 5;
    run_fit(f);
    const auto detector = detect::load_model(f.out).detector;
    check(detector->score(detect::FeatureSet::load(id_file)),
          detector->score(detect::FeatureSet::load(ood_file)), name != "knn");
  }
}

// Duplicated columns, more dimensions than samples and a range of 1e30 through every
// feature-space model: finite scores for finite inputs (or -inf), never NaN.
TEST_F(HostileValues, DuplicatedRankDeficientAndHugeRangeFeaturesNeverScoreNan) {
  std::vector<std::pair<std::string, std::vector<float>>> cases;
  const std::int64_t n = 60, dim = 32;
  auto base = gaussian(n + 20, dim, 1);
  auto duplicated = base;
  for (std::int64_t i = 0; i < n + 20; ++i) {
    for (std::int64_t j = dim / 2; j < dim; ++j) {
      duplicated[static_cast<std::size_t>(i * dim + j)] =
          duplicated[static_cast<std::size_t>(i * dim + j - dim / 2)];
    }
  }
  auto huge_range = base;
  for (std::size_t k = 0; k < huge_range.size(); ++k) {
    huge_range[k] *= (k % dim) % 2 ? 1e30F : 1e-30F;
  }
  cases.push_back({"duplicated", duplicated});
  cases.push_back({"huge_range", huge_range});
  for (auto& [what, values] : cases) {
    SCOPED_TRACE(what);
    const std::vector<float> train(values.begin(), values.begin() + n * dim);
    const std::vector<float> query(values.begin() + n * dim, values.end());
    test::write_features(dir_.path("t.safetensors"), train, n, dim);  // n < 2 dim: rank-deficient
    test::write_features(dir_.path("q.safetensors"), query, 20, dim);
    const auto q = io::FeatureFile::open(dir_.path("q.safetensors"));
    for (const std::string name : {"gaussian", "knn", "glow"}) {
      SCOPED_TRACE(name);
      std::vector<double> scores;
      try {
        if (name == "glow") {
          TrainOptions o = train_options(dir_.path("t.safetensors"));
          run_train(o);
          scores = test::model_scores(o.out, q, 64);
        } else {
          FitOptions f;
          f.detector = name;
          f.features = dir_.path("t.safetensors");
          f.out = dir_.path("d.safetensors");
          f.options.k = 3;
          run_fit(f);
          scores = detect::load_model(f.out).detector->score(detect::FeatureSet::load(q));
        }
      } catch (const Error& e) {  // a clear refusal naming the file is fine; a NaN is not
        EXPECT_NE(std::string(e.what()).find("t.safetensors"), std::string::npos) << e.what();
        continue;
      }
      for (double s : scores) EXPECT_FALSE(std::isnan(s));
    }
  }
}

}  // namespace
}  // namespace oodflow::pipeline
