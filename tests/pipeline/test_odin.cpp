// ODIN end to end: `extract --odin` against the authors' algorithm run by Python on the
// committed fixture, the odin detector in fit/score/detect, shards, and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "oodflow/detect/detector.h"
#include "oodflow/extract/aux_scores.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/npy.h"
#include "oodflow/io/safetensors.h"
#include "oodflow/pipeline/detect_command.h"
#include "oodflow/pipeline/extract_command.h"
#include "oodflow/pipeline/fit_command.h"
#include "oodflow/pipeline/merge_command.h"
#include "oodflow/pipeline/model.h"
#include "oodflow/pipeline/model_records.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

std::vector<double> odin_of(const io::FeatureFile& f) {
  std::vector<double> out(static_cast<std::size_t>(f.rows()));
  f.read_aux("odin", 0, f.rows(), out.data());
  return out;
}

ExtractOptions fixture_options(const test::TempDir& dir, const std::string& out,
                               const std::string& odin) {
  const std::string base = test::data_path("extract/");
  ExtractOptions o;
  o.model = base + "tiny_backbone.pt";
  o.data = base + "images";
  o.out = dir.path(out);
  o.preprocessing.crop = 20;
  o.preprocessing.mean = {0.5, 0.4, 0.3};
  o.preprocessing.std = {0.25, 0.2, 0.3};
  o.batch_size = 3;  // several batches, one partial
  if (!odin.empty()) o.aux_scores["odin"] = odin;
  return o;
}

TEST(OdinExtract, ScoresEqualTheAuthorsAlgorithmRunByPython) {
  test::TempDir dir;
  const io::NpyFile expected_file(test::data_path("extract/expected_odin.npy"));
  ASSERT_EQ(expected_file.array().shape, (std::vector<std::int64_t>{2, 8}));
  std::vector<double> expected(16);
  io::convert_to_double(expected_file.array().dtype, expected_file.array().data, 16,
                        expected.data());
  // The paper's setting (given as the bare flag gives it) and a strong perturbation.
  const std::vector<std::pair<std::string, double>> settings = {{kOdinDefaults, 1e-9},
                                                                {"T=10,eps=0.05", 1e-7}};
  for (std::size_t s = 0; s < settings.size(); ++s) {
    const ExtractOptions o =
        fixture_options(dir, "odin" + std::to_string(s) + ".safetensors", settings[s].first);
    run_extract(o);
    const io::FeatureFile f = io::FeatureFile::open(o.out);
    ASSERT_EQ(f.aux_score_names(), std::vector<std::string>{"odin"});
    const std::vector<double> got = odin_of(f);
    ASSERT_EQ(got.size(), 8u);
    for (std::size_t i = 0; i < 8; ++i) {
      EXPECT_NEAR(got[i], expected[s * 8 + i], settings[s].second)
          << settings[s].first << " image " << i;
    }
    const auto record = nlohmann::json::parse(f.aux_settings("odin"));
    EXPECT_EQ(record["temperature"], s == 0 ? 1000.0 : 10.0);
    EXPECT_EQ(record["epsilon"], s == 0 ? 0.0014 : 0.05);
    EXPECT_EQ(record["std"], nlohmann::json({0.25, 0.2, 0.3}));
  }
  // At T = 10 the oracle's scores are well above the max softmax of the unperturbed logits
  // (Python's, committed): the comparison above sees the perturbation, not only the logits.
  const io::NpyFile logits_file(test::data_path("extract/expected_logits.npy"));
  std::vector<float> logits(40);
  io::convert_to_float(logits_file.array().dtype, logits_file.array().data, 40, logits.data());
  for (std::size_t i = 0; i < 8; ++i) {
    const float* z = logits.data() + 5 * i;
    const double top = *std::max_element(z, z + 5);
    double sum = 0;
    for (int c = 0; c < 5; ++c) sum += std::exp((z[c] - top) / 10.0);
    EXPECT_GT(expected[8 + i] - 1 / sum, 1e-4) << "image " << i;
  }
}

TEST(OdinExtract, OneStdForEveryChannelIsThePerChannelStd) {
  test::TempDir dir;
  ExtractOptions one = fixture_options(dir, "one.safetensors", kOdinDefaults);
  one.preprocessing.std = {0.25};
  run_extract(one);
  ExtractOptions three = fixture_options(dir, "three.safetensors", kOdinDefaults);
  three.preprocessing.std = {0.25, 0.25, 0.25};
  run_extract(three);
  const io::FeatureFile a = io::FeatureFile::open(one.out);
  const io::FeatureFile b = io::FeatureFile::open(three.out);
  EXPECT_EQ(odin_of(a), odin_of(b));
  EXPECT_EQ(a.aux_settings("odin"), b.aux_settings("odin"));
  EXPECT_EQ(nlohmann::json::parse(a.aux_settings("odin"))["std"],
            nlohmann::json({0.25, 0.25, 0.25}));
  // And it differs from another std: the division is applied.
  ExtractOptions other = fixture_options(dir, "other.safetensors", kOdinDefaults);
  other.preprocessing.std = {0.25, 0.25, 0.5};
  run_extract(other);
  EXPECT_NE(odin_of(io::FeatureFile::open(other.out)), odin_of(a));
}

TEST(OdinExtract, FeaturesAreThoseOfAPlainExtractionAndShardsMergeWithTheirScores) {
  test::TempDir dir;
  const ExtractOptions plain = fixture_options(dir, "plain.safetensors", "");
  run_extract(plain);
  const ExtractOptions odin = fixture_options(dir, "odin.safetensors", kOdinDefaults);
  run_extract(odin);
  const io::FeatureFile p = io::FeatureFile::open(plain.out);
  const io::FeatureFile f = io::FeatureFile::open(odin.out);
  EXPECT_FALSE(p.has_aux("odin"));
  EXPECT_TRUE(p.aux_score_names().empty());
  std::vector<float> a(static_cast<std::size_t>(p.rows() * p.dim()));
  std::vector<float> b(a.size());
  p.read_rows(0, p.rows(), a.data());
  f.read_rows(0, f.rows(), b.data());
  EXPECT_EQ(a, b);

  std::vector<std::string> shards;
  for (int i = 0; i < 2; ++i) {
    ExtractOptions o =
        fixture_options(dir, "s" + std::to_string(i) + ".safetensors", kOdinDefaults);
    o.shard = std::to_string(i) + "/2";
    run_extract(o);
    shards.push_back(o.out);
  }
  run_merge({shards, dir.path("merged.safetensors")});
  const io::FeatureFile merged = io::FeatureFile::open(dir.path("merged.safetensors"));
  EXPECT_EQ(odin_of(merged), odin_of(f));
  EXPECT_EQ(merged.metadata(), f.metadata());
  // Files with and without ODIN scores (or with other settings) are not one set.
  test::expect_error(
      [&] {
        run_merge({{plain.out, odin.out}, dir.path("mixed.safetensors")});
      },
      {"plain.safetensors", "odin.safetensors", "differ in auxiliary score 'odin'"});
  run_merge({{odin.out, odin.out}, dir.path("twice.safetensors")});
  const io::FeatureFile twice = io::FeatureFile::open(dir.path("twice.safetensors"));
  std::vector<double> expected = odin_of(f);
  expected.insert(expected.end(), expected.begin(), expected.end());
  EXPECT_EQ(odin_of(twice), expected);
  EXPECT_EQ(twice.aux_settings("odin"), f.aux_settings("odin"));
}

TEST(OdinDetector, ScoresAreTheStoredOnesInScoreAndDetect) {
  test::TempDir dir;
  const ExtractOptions o = fixture_options(dir, "odin.safetensors", kOdinDefaults);
  run_extract(o);
  FitOptions fit;
  fit.detector = "odin";
  fit.features = o.out;
  fit.out = dir.path("odin_detector.safetensors");
  fit.val_fraction = 0.5;
  run_fit(fit);

  const Model model = load_model(fit.out, "cpu");
  EXPECT_EQ(model.label, "odin");
  EXPECT_EQ(model.dim, 0);
  const io::FeatureFile f = io::FeatureFile::open(o.out);
  const std::vector<double> stored = odin_of(f);
  EXPECT_EQ(model.detector->score(detect::FeatureSet::load(f)), stored);
  // The model records the settings detect recomputes the scores with.
  const auto extraction = nlohmann::json::parse(model.metadata.at(kExtractionKey));
  EXPECT_EQ(extraction["aux_scores"],
            nlohmann::json::parse(R"({"odin":)" + f.aux_settings("odin") + "}"));
  // The held-out calibration scores are stored scores of those rows.
  ASSERT_TRUE(model.calibration.has_value());
  for (std::size_t i = 0; i < model.calibration->rows.size(); ++i) {
    EXPECT_EQ(model.calibration->scores[i],
              stored[static_cast<std::size_t>(model.calibration->rows[i])]);
  }

  // detect on the images recomputes ODIN with the recorded settings.
  DetectOptions d;
  d.model = fit.out;
  d.images = o.data;
  d.out = dir.path("verdicts.jsonl");
  d.format = "jsonl";
  d.threshold = 0;
  d.has_threshold = true;
  run_detect(d);
  std::ifstream verdicts(d.out);
  std::string line;
  std::size_t n = 0;
  while (std::getline(verdicts, line)) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_LT(n, stored.size());
    // Other batches than extraction's: the last float bits of the logits may move (BLAS
    // blocking on AVX-512), about 1e-10 here; a mixed-up image is off by 1e-6 or more.
    EXPECT_NEAR(j["score"].get<double>(), stored[n], 1e-9) << line;
    ++n;
  }
  EXPECT_EQ(n, stored.size());
}

TEST(OdinDetector, SetsWithoutScoresOrWithOtherSettingsAreRefused) {
  test::TempDir dir;
  const ExtractOptions odin = fixture_options(dir, "odin.safetensors", kOdinDefaults);
  run_extract(odin);
  const ExtractOptions plain = fixture_options(dir, "plain.safetensors", "");
  run_extract(plain);
  const ExtractOptions other = fixture_options(dir, "other.safetensors", "T=100");
  run_extract(other);

  FitOptions fit;
  fit.detector = "odin";
  fit.features = plain.out;
  fit.out = dir.path("d.safetensors");
  test::expect_error([&] { run_fit(fit); },
                     {"plain.safetensors", "has no 'odin' scores", "extract", "--odin"});
  fit.features = odin.out;
  run_fit(fit);
  const Model model = load_model(fit.out, "cpu");
  test::expect_error(
      [&] { model.detector->score(detect::FeatureSet::load(io::FeatureFile::open(plain.out))); },
      {"plain.safetensors", "has no 'odin' scores"});
  test::expect_error(
      [&] { model.detector->score(detect::FeatureSet::load(io::FeatureFile::open(other.out))); },
      {"other.safetensors", "\"temperature\":100.0", "\"temperature\":1000.0", "same --odin"});
  for (const char* bad : {"T=1000,eps", "T= 1000", "T=0x10", "T=1,T=2", "t=5", "T=5;eps=1"}) {
    test::expect_error([&] { extract::parse_odin(bad, {}); }, {"--odin must be T=", bad});
  }
  test::expect_error([&] { extract::parse_odin("T=-1", {}); }, {"--odin T=-1", "must be > 0"});
  EXPECT_EQ(extract::parse_odin("eps=0.5", {}).temperature, 1000);
  EXPECT_EQ(extract::parse_odin("temperature=7,epsilon=0", {}).temperature, 7);
  EXPECT_EQ(extract::parse_odin("true", {}).epsilon, 0.0014);  // a config file's "odin": true

  // A detector file whose settings lack T is named.
  io::write_safetensors(dir.path("bad.safetensors"), {},
                        {{"format", detect::kDetectorFormat},
                         {"format_version", "1"},
                         {"detector", "odin"},
                         {"settings", R"({"epsilon":0.0014})"}});
  test::expect_error([&] { detect::load_model(dir.path("bad.safetensors")); },
                     {"bad.safetensors", "malformed odin settings"});
}

// detect --images computes the scores a model reads with the settings of its extraction
// record: this version's aux_scores, or the score's own key in a model made before them.
TEST(OdinExtract, ScoresForDetectAreConfiguredFromTheModelsExtractionRecord) {
  const std::string odin = extract::odin_json({10, 0.05, {0.5, 0.25, 0.125}});
  extract::ExtractSettings s;
  extract::request_aux_scores({"odin"}, R"({"backbone":{},"aux_scores":{"odin":)" + odin + "}}", &s,
                              "m.safetensors");
  ASSERT_EQ(s.aux_scores.size(), 1u);
  EXPECT_EQ(s.aux_scores[0].name, "odin");
  EXPECT_EQ(s.aux_scores[0].settings, odin);
  const extract::OdinSettings back = extract::odin_from_json(s.aux_scores[0].settings, "x");
  EXPECT_EQ(back.temperature, 10);
  EXPECT_EQ(back.epsilon, 0.05);
  EXPECT_EQ(back.std, (std::vector<double>{0.5, 0.25, 0.125}));
  // Asked twice, computed once.
  extract::request_aux_scores({"odin"}, R"({"aux_scores":{"odin":)" + odin + "}}", &s, "m");
  EXPECT_EQ(s.aux_scores.size(), 1u);

  extract::ExtractSettings legacy;
  extract::request_aux_scores(
      {"odin"},
      R"({"odin":{"temperature":10.0,"epsilon":0.05,"std":[0.5,0.25,0.125],"perturbation":"x"}})",
      &legacy, "old.safetensors");
  ASSERT_EQ(legacy.aux_scores.size(), 1u);
  EXPECT_EQ(legacy.aux_scores[0].settings, odin);

  extract::ExtractSettings none;
  extract::request_aux_scores({}, "{}", &none, "m.safetensors");
  EXPECT_TRUE(none.aux_scores.empty());
  test::expect_error(
      [&] { extract::request_aux_scores({"odin"}, R"({"backbone":{}})", &none, "plain.model"); },
      {"plain.model", "no settings of the auxiliary score 'odin'", "--odin"});
  test::expect_error(
      [&] {
        extract::request_aux_scores(
            {"odin"}, R"({"aux_scores":{"odin":{"temperature":-1,"epsilon":0,"std":[]}}})", &none,
            "bad.model");
      },
      {"bad.model", "must be > 0"});
  test::expect_error([&] { extract::request_aux_scores({"gradnorm"}, "{}", &none, "m"); },
                     {"unknown extraction-time score 'gradnorm'", "odin"});
}

// A version-1 feature file (ODIN scores as tensor `odin`, settings under metadata `odin`) and
// this version's records of the same settings are one set for the odin detector.
TEST(OdinDetector, VersionOneFilesCompareWithThisVersionsRecords) {
  const io::FeatureFile v1 = io::FeatureFile::open(std::string(OODFLOW_FUZZ_CORPUS_DIR) +
                                                   "/feature_file/odin.safetensors");
  const std::string current = extract::odin_json({1000, 0.0014, {0.25}});
  EXPECT_EQ(io::aux_settings_key(v1.aux_settings("odin")), io::aux_settings_key(current));
  detect::FeatureSet train;
  train.rows = 2;
  train.source = "train";
  train.aux = {{"odin", current, {0.5, 0.75}}};
  const auto detector = detect::make_detector("odin");
  detector->fit(train, detect::FitContext{});
  std::vector<double> stored(8);
  v1.read_aux("odin", 0, 8, stored.data());
  EXPECT_EQ(detector->score(detect::FeatureSet::load(v1)), stored);
}

}  // namespace
}  // namespace oodflow::pipeline
