// Hostile feature values through train and fit: each gives a correct result or a clear error
// naming the file, never a model that scores NaN.
#include <gtest/gtest.h>

#include <cmath>

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
    o.blocks = 2;
    o.normalize = normalize;
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

TEST_F(HostileValues, ConstantAndDenormalFeaturesAreAnErrorNotANanModel) {
  const std::vector<float> equal(500 * 8, 1.0f);
  const auto denormal = gaussian(500, 8, 1e-40);
  for (const auto* values : {&equal, &denormal}) {
    test::expect_error([&] { run_train(train(*values, 500, 8, "standardize")); },
                       {"x.safetensors", "non-finite scores", "held-out"});
    EXPECT_FALSE(test::file_exists(dir_.path("flow.safetensors")));
  }
  // Without held-out samples the training rows are checked instead.
  TrainOptions o = train(equal, 500, 8, "none");
  o.val_fraction = 0;
  test::expect_error([&] { run_train(o); }, {"x.safetensors", "non-finite scores", "training"});
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
    const auto loaded = flow::load_flow(o.out);
    const auto file = io::FeatureFile::open(o.features);
    for (double s : flow::score_features(*loaded.flow, loaded.normalizer, file, 16, "cpu")) {
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
    scores[k] = detect::load_detector(f.out)->score(
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

}  // namespace
}  // namespace oodflow::pipeline
