// `oodflow detect` in-process: the same scores as `score`, verdicts that follow the
// threshold, images judged through the recorded backbone, and the bad inputs it must refuse.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oodflow/data/synthetic.h"
#include "oodflow/detect/detector.h"
#include "oodflow/io/csv.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/detect_command.h"
#include "oodflow/pipeline/extract_command.h"
#include "oodflow/pipeline/fit_command.h"
#include "oodflow/pipeline/score_command.h"
#include "oodflow/pipeline/train_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {
namespace fs = std::filesystem;

struct Verdict {
  std::int64_t index = 0;
  std::string source;
  std::string score;  // as written
  std::string verdict;
};

std::vector<Verdict> read_csv_verdicts(const std::string& path) {
  std::istringstream in(test::read_bytes(path));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,source,score,verdict");
  std::vector<Verdict> out;
  std::vector<std::string> f;
  while (std::getline(in, line)) {
    EXPECT_TRUE(io::split_csv_line(line, &f) && f.size() == 4) << line;
    out.push_back({std::stoll(f[0]), f[1], f[2], f[3]});
  }
  return out;
}

// The "score" column of a `score --scores` CSV for one set.
std::vector<std::string> score_column(const std::string& path, const std::string& set) {
  std::istringstream in(test::read_bytes(path));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> out;
  std::vector<std::string> f;
  while (std::getline(in, line)) {
    io::split_csv_line(line, &f);
    if (f[0] == set) out.push_back(f[3]);
  }
  return out;
}

void write_detect_mixture(const std::string& path, std::int64_t dim, double shift, std::int64_t n,
                          std::uint64_t seed, const std::string& backbone_sha = "") {
  data::MixtureSpec spec;
  spec.dim = dim;
  spec.shift = shift;
  const data::FeatureMatrix m = data::sample_mixture(spec, n, seed);
  io::FeatureFileContents c;
  c.rows = m.rows;
  c.dim = m.dim;
  c.features = m.values.data();
  for (std::int64_t i = 0; i < n; ++i) c.sources.push_back("sample" + std::to_string(i) + ".png");
  if (!backbone_sha.empty()) {
    c.metadata["backbone"] = nlohmann::json{{"path", "b.pt"}, {"sha256", backbone_sha}}.dump();
  }
  io::write_feature_file(path, c);
}

class Detect : public ::testing::Test {
 protected:
  void SetUp() override {
    write_detect_mixture(dir_.path("train.safetensors"), 16, 0, 4000, 1, "aaaa");
    write_detect_mixture(dir_.path("test.safetensors"), 16, 0, 1000, 2, "aaaa");
    write_detect_mixture(dir_.path("ood.safetensors"), 16, 1.5, 1000, 3, "aaaa");
    TrainOptions t;
    t.features = dir_.path("train.safetensors");
    t.out = dir_.path("flow.safetensors");
    t.flow.blocks = 2;
    t.flow.train.lr = 1e-3;
    run_train(t);
    FitOptions f;
    f.detector = "knn";
    f.options.k = 5;
    f.features = t.features;
    f.out = dir_.path("knn.safetensors");
    run_fit(f);
  }
  DetectOptions options(const std::string& model, const std::string& features) const {
    DetectOptions o;
    o.model = dir_.path(model);
    o.features = dir_.path(features);
    o.out = dir_.path("verdicts.csv");
    return o;
  }
  test::TempDir dir_;
};

TEST_F(Detect, ScoresEqualScoreCommandsAndVerdictsFollowTheCalibratedThreshold) {
  for (const std::string model : {"flow.safetensors", "knn.safetensors"}) {
    SCOPED_TRACE(model);
    ScoreOptions s;
    s.models = {dir_.path(model)};
    s.id = dir_.path("test.safetensors");
    s.ood = {"ood=" + dir_.path("ood.safetensors")};
    s.scores = dir_.path("scores.csv");
    ASSERT_EQ(run_score(s), 0);
    const std::vector<std::string> expected = score_column(s.scores, "ood");

    DetectSummary summary;
    ASSERT_EQ(run_detect(options(model, "ood.safetensors"), &summary), 0);
    const std::vector<Verdict> verdicts = read_csv_verdicts(dir_.path("verdicts.csv"));
    ASSERT_EQ(verdicts.size(), expected.size());
    std::optional<metrics::Calibration> calibration;
    if (model == "knn.safetensors") {
      calibration = detect::load_model(dir_.path(model)).calibration;
      EXPECT_EQ(summary.threshold, calibration->at(0.95).threshold);
    }
    std::int64_t flagged = 0;
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      EXPECT_EQ(verdicts[i].index, static_cast<std::int64_t>(i));
      EXPECT_EQ(verdicts[i].source, "sample" + std::to_string(i) + ".png");
      ASSERT_EQ(verdicts[i].score, expected[i]) << "row " << i;
      const bool in = std::stod(verdicts[i].score) >= summary.threshold;
      EXPECT_EQ(verdicts[i].verdict, in ? "in" : "out") << "row " << i;
      flagged += !in;
    }
    EXPECT_EQ(summary.flagged, flagged);
    EXPECT_GT(flagged, 100);  // a shifted set: many are flagged, so the check above has teeth
  }
}

TEST_F(Detect, TprAndExplicitThresholdsAndTheFailOnOodExitCode) {
  DetectOptions o = options("flow.safetensors", "test.safetensors");
  DetectSummary at95, at99, given;
  run_detect(o, &at95);
  o.tpr = 0.99;
  run_detect(o, &at99);
  EXPECT_LT(at99.threshold, at95.threshold);
  EXPECT_LT(at99.flagged, at95.flagged);
  o.has_threshold = true;
  o.threshold = -1e30;
  o.fail_on_ood = true;
  EXPECT_EQ(run_detect(o, &given), 0);  // nothing flagged
  EXPECT_EQ(given.flagged, 0);
  o.threshold = 1e30;
  EXPECT_EQ(run_detect(o, &given), kExitGateFailed);
  EXPECT_EQ(given.flagged, 1000);

  // JSON Lines: the same verdicts, one object per line.
  o = options("flow.safetensors", "test.safetensors");
  o.format = "jsonl";
  o.out = dir_.path("verdicts.jsonl");
  run_detect(o);
  std::istringstream lines(test::read_bytes(o.out));
  std::string line;
  std::int64_t n = 0, out = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["index"], n++);
    const bool in = j["score"].get<double>() >= at95.threshold;
    EXPECT_EQ(j["verdict"], in ? "in" : "out");
    out += !in;
  }
  EXPECT_EQ(n, 1000);
  EXPECT_EQ(out, at95.flagged);
}

TEST_F(Detect, RefusesAnotherDimensionAnotherBackboneAndNoCalibration) {
  write_detect_mixture(dir_.path("d8.safetensors"), 8, 0, 50, 4);
  for (const std::string model : {"flow.safetensors", "knn.safetensors"}) {
    test::expect_error([&] { run_detect(options(model, "d8.safetensors")); },
                       {"d8.safetensors", "dimension 8", model, "dimension 16"});
  }
  EXPECT_FALSE(test::file_exists(dir_.path("verdicts.csv")));

  // Features made by another backbone than the model's training features.
  write_detect_mixture(dir_.path("other.safetensors"), 16, 0, 50, 5, "bbbb");
  DetectOptions o = options("knn.safetensors", "other.safetensors");
  test::expect_error([&] { run_detect(o); }, {"other.safetensors", "--allow-backbone-mismatch"});
  o.allow_backbone_mismatch = true;
  EXPECT_EQ(run_detect(o), 0);

  TrainOptions t;
  t.features = dir_.path("train.safetensors");
  t.out = dir_.path("uncalibrated.safetensors");
  t.flow.blocks = 1;
  t.val_fraction = 0;
  run_train(t);
  o = options("uncalibrated.safetensors", "test.safetensors");
  test::expect_error([&] { run_detect(o); }, {"uncalibrated.safetensors", "--threshold"});
  o.has_threshold = true;
  o.threshold = 0;
  EXPECT_EQ(run_detect(o), 0);
  o.images = dir_.path("somewhere");
  EXPECT_THROW(run_detect(o), UsageError);

  // Features that oodflow extract did not write record no backbone to run on images.
  o.features.clear();
  o.images = dir_.path("train.safetensors");
  test::expect_error([&] { run_detect(o); },
                     {"uncalibrated.safetensors", "records no backbone", "--features"});
}

TEST_F(Detect, RowsWithNanFeaturesGetAnInvalidVerdictAndFailTheGate) {
  data::MixtureSpec spec;
  spec.dim = 16;
  data::FeatureMatrix m = data::sample_mixture(spec, 10, 6);
  m.values[3 * 16 + 5] = NAN;
  m.values[7 * 16] = INFINITY;
  test::write_features(dir_.path("bad.safetensors"), m.values, m.rows, m.dim);  // no backbone
  for (const std::string model : {"flow.safetensors", "knn.safetensors"}) {
    DetectOptions o = options(model, "bad.safetensors");
    o.has_threshold = true;
    o.threshold = -1e30;  // every finite score is in
    o.fail_on_ood = true;
    DetectSummary summary;
    EXPECT_EQ(run_detect(o, &summary), kExitGateFailed) << model;
    EXPECT_EQ(summary.invalid, 2);
    EXPECT_EQ(summary.flagged, 0);
    const auto verdicts = read_csv_verdicts(o.out);
    ASSERT_EQ(verdicts.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(verdicts[i].verdict, i == 3 || i == 7 ? "invalid" : "in") << i;
      EXPECT_EQ(verdicts[i].score.empty(), i == 3 || i == 7) << i;
    }
  }
  // The valid rows keep the scores they get without the invalid ones around.
  DetectOptions o = options("knn.safetensors", "bad.safetensors");
  o.has_threshold = true;
  run_detect(o);
  const auto with_bad = read_csv_verdicts(o.out);
  data::FeatureMatrix clean = data::sample_mixture(data::MixtureSpec{16}, 10, 6);
  test::write_features(dir_.path("clean.safetensors"), clean.values, clean.rows, clean.dim);
  run_detect(options("knn.safetensors", "clean.safetensors"));
  const auto without = read_csv_verdicts(dir_.path("verdicts.csv"));
  for (std::size_t i : {0u, 4u, 9u}) {  // a smaller matrix product: equal up to rounding
    EXPECT_NEAR(std::stod(with_bad[i].score), std::stod(without[i].score), 1e-6) << i;
  }

  o = options("knn.safetensors", "clean.safetensors");
  o.backbone = dir_.path("flow.safetensors");
  EXPECT_THROW(run_detect(o), UsageError);  // --backbone applies to --images only
}

// Images through the backbone recorded in the model: the committed tiny backbone and images.
TEST(DetectImages, JudgesImagesLikeTheirExtractedFeaturesAndChecksTheBackbone) {
  const std::string base = test::data_path("extract/");
  test::TempDir dir;
  fs::copy(base + "images", dir.path("images"), fs::copy_options::recursive);
  ExtractOptions e;
  e.model = base + "tiny_backbone.pt";
  e.data = dir.path("images");
  e.out = dir.path("features.safetensors");
  e.preprocessing.crop = 20;
  e.preprocessing.mean = {0.5, 0.4, 0.3};
  e.preprocessing.std = {0.25, 0.2, 0.3};
  run_extract(e);
  FitOptions f;
  f.detector = "energy";
  f.features = e.out;
  f.out = dir.path("energy.safetensors");
  f.val_fraction = 0.25;
  run_fit(f);

  DetectOptions features;
  features.model = f.out;
  features.features = e.out;
  features.out = dir.path("from_features.csv");
  run_detect(features);
  // An unreadable image among them keeps its place in the output.
  test::write_bytes(dir.path("images/cat/b_rgb.png"), "not a png");
  DetectOptions images;
  images.model = f.out;
  images.images = dir.path("images");
  images.out = dir.path("from_images.csv");
  DetectSummary summary;
  run_detect(images, &summary);
  EXPECT_EQ(summary.unreadable, 1);

  const auto expected = read_csv_verdicts(features.out);
  const auto got = read_csv_verdicts(images.out);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].index, static_cast<std::int64_t>(i));
    EXPECT_EQ(got[i].source, expected[i].source);
    if (got[i].source.find("b_rgb.png") != std::string::npos) {
      EXPECT_EQ(got[i].verdict, "unreadable");
      EXPECT_EQ(got[i].score, "");
    } else {
      // The images go through the backbone in other batches (one image fewer): BLAS blocks a
      // batch of 7 differently from one of 8, which moves the last bits on some CPUs
      // (AVX-512). A mixed-up image would be off in the first digits.
      EXPECT_NEAR(std::stod(got[i].score), std::stod(expected[i].score),
                  1e-6 * std::abs(std::stod(expected[i].score)))
          << got[i].source;
      EXPECT_EQ(got[i].verdict, expected[i].verdict);
    }
  }

  // The same network saved again is another file: refused unless allowed, then identical.
  torch::jit::load(base + "tiny_backbone.pt").save(dir.path("resaved.pt"));
  ASSERT_NE(test::read_bytes(dir.path("resaved.pt")), test::read_bytes(base + "tiny_backbone.pt"));
  images.backbone = dir.path("resaved.pt");
  images.out = dir.path("resaved.csv");
  test::expect_error([&] { run_detect(images); }, {"resaved.pt", "--allow-backbone-mismatch"});
  EXPECT_FALSE(test::file_exists(images.out));
  images.allow_backbone_mismatch = true;
  run_detect(images);
  EXPECT_EQ(test::read_bytes(images.out), test::read_bytes(dir.path("from_images.csv")));
}

}  // namespace
}  // namespace oodflow::pipeline
