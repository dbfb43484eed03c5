// Auxiliary scores are carried by name through merge and inspect, whichever they are: ODIN's
// and a made-up "gradnorm" that no code knows.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oodflow/inspect/feature_stats.h"
#include "oodflow/inspect/stats_report.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/merge_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

constexpr const char* kOdin = R"({"temperature":1000.0,"epsilon":0.0014,"std":[0.5]})";
constexpr const char* kGradnorm = R"({"p":2,"description":"L2 norm of the input gradient"})";

// A feature file of odin.size() rows with the scores given (gradnorm left out when empty).
std::string write_scored(const test::TempDir& dir, const std::string& name,
                         const std::vector<double>& odin, const std::vector<double>& gradnorm,
                         const std::string& gradnorm_settings = kGradnorm) {
  std::vector<float> x;
  for (std::size_t i = 0; i < odin.size(); ++i) {
    x.push_back(static_cast<float>(i + 1));
    x.push_back(static_cast<float>(2 * i + 3));
  }
  io::FeatureFileContents c;
  c.rows = static_cast<std::int64_t>(odin.size());
  c.dim = 2;
  c.features = x.data();
  c.aux.push_back({"odin", kOdin, odin.data(), {}});
  if (!gradnorm.empty()) c.aux.push_back({"gradnorm", gradnorm_settings, gradnorm.data(), {}});
  io::write_feature_file(dir.path(name), c);
  return dir.path(name);
}

std::vector<double> aux_of(const io::FeatureFile& f, const std::string& name) {
  std::vector<double> out(static_cast<std::size_t>(f.rows()));
  f.read_aux(name, 0, f.rows(), out.data());
  return out;
}

TEST(AuxScores, MergeConcatenatesEveryScoreAndRefusesOtherSettings) {
  test::TempDir dir;
  const std::string a = write_scored(dir, "a.safetensors", {0.5, 0.25}, {1.5, 2.5});
  // Other wording of the same settings: one set.
  const std::string b =
      write_scored(dir, "b.safetensors", {0.125}, {3.5}, R"({"description":"other words","p":2})");
  run_merge({{a, b}, dir.path("ab.safetensors")});
  const io::FeatureFile merged = io::FeatureFile::open(dir.path("ab.safetensors"));
  EXPECT_EQ(merged.rows(), 3);
  EXPECT_EQ(merged.aux_score_names(), (std::vector<std::string>{"odin", "gradnorm"}));
  EXPECT_EQ(aux_of(merged, "odin"), (std::vector<double>{0.5, 0.25, 0.125}));
  EXPECT_EQ(aux_of(merged, "gradnorm"), (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(merged.aux_settings("odin"), kOdin);
  EXPECT_EQ(merged.aux_settings("gradnorm"), kGradnorm);

  const std::string other = write_scored(dir, "p1.safetensors", {0.75}, {4.5}, R"({"p":1})");
  test::expect_error(
      [&] {
        run_merge({{a, other}, dir.path("x.safetensors")});
      },
      {"p1.safetensors", "a.safetensors", "differ in auxiliary score 'gradnorm'", R"({"p":1})",
       R"({"p":2})"});
  const std::string odin_only = write_scored(dir, "odin_only.safetensors", {0.75}, {});
  for (const auto& inputs : {std::vector<std::string>{a, odin_only}, {odin_only, a}}) {
    test::expect_error(
        [&] {
          run_merge({inputs, dir.path("x.safetensors")});
        },
        {"odin_only.safetensors", "a.safetensors", "differ in auxiliary score 'gradnorm'"});
  }
}

TEST(AuxScores, InspectListsEveryScoreWithItsSettings) {
  test::TempDir dir;
  const io::FeatureFile f =
      io::FeatureFile::open(write_scored(dir, "f.safetensors", {0.5, 0.25, 1}, {1, 2, 3}));
  const inspect::FeatureStats stats = inspect::inspect_features(f, nullptr, {});
  using Named = std::pair<std::string, std::string>;
  EXPECT_EQ(stats.aux_scores, (std::vector<Named>{{"odin", kOdin}, {"gradnorm", kGradnorm}}));

  const auto j = nlohmann::json::parse(inspect::stats_json(stats));
  EXPECT_EQ(j["format_version"], 2);
  EXPECT_EQ(j["aux_scores"]["odin"], nlohmann::json::parse(kOdin));
  EXPECT_EQ(j["aux_scores"]["gradnorm"], nlohmann::json::parse(kGradnorm));
  EXPECT_EQ(j["aux_scores"].size(), 2u);
  const std::string table = inspect::stats_table(stats);
  EXPECT_NE(table.find(R"(aux score odin)"), std::string::npos) << table;
  EXPECT_NE(table.find(R"({"epsilon":0.0014,"std":[0.5],"temperature":1000.0})"), std::string::npos)
      << table;
  EXPECT_NE(table.find(R"(aux score gradnorm)"), std::string::npos) << table;
  EXPECT_NE(table.find(R"({"p":2})"), std::string::npos) << table;

  std::vector<float> x = {1, 2, 3, 5};
  test::write_features(dir.path("plain.safetensors"), x, 2, 2);
  const inspect::FeatureStats plain =
      inspect::inspect_features(io::FeatureFile::open(dir.path("plain.safetensors")), nullptr, {});
  EXPECT_TRUE(plain.aux_scores.empty());
  EXPECT_EQ(nlohmann::json::parse(inspect::stats_json(plain))["aux_scores"],
            nlohmann::json::object());
  EXPECT_EQ(inspect::stats_table(plain).find("aux score"), std::string::npos);
}

}  // namespace
}  // namespace oodflow::pipeline
