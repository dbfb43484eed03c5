#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "oodflow/core/error.h"
#include "oodflow/io/npy.h"
#include "oodflow/pipeline/metrics_command.h"
#include "oodflow/pipeline/score_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

TEST(MetricsCommand, EvaluatesCsvAndNpyScoresWithGates) {
  test::TempDir dir;
  // The "small_mixed" case of the scikit-learn fixture.
  test::write_bytes(dir.path("id.csv"), "logp\n0.9\n0.8\n0.7\n0.3\n");
  const std::vector<double> ood = {0.75, 0.2, 0.1};
  test::write_bytes(dir.path("ood.npy"), io::serialize_npy(io::DType::F64, {3}, ood.data()));
  MetricsOptions o;
  o.id = dir.path("id.csv");
  o.ood = {"near=" + dir.path("ood.npy")};
  o.column = "logp";
  o.out = dir.path("report.json");
  EXPECT_EQ(run_metrics(o), 0);
  const auto report = nlohmann::json::parse(test::read_bytes(dir.path("report.json")));
  EXPECT_NEAR(report["detectors"][0]["ood"][0]["auroc"].get<double>(), 0.8333333333333334, 1e-12);
  EXPECT_NEAR(report["detectors"][0]["ood"][0]["fpr95"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(report["detectors"][0]["ood"][0]["aupr_in"].get<double>(), 0.8875, 1e-12);
  EXPECT_EQ(report["detectors"][0]["detector"]["kind"], "precomputed scores");
  EXPECT_TRUE(report["gates"]["passed"].get<bool>());

  o.fail_under = "fpr95=0.2";
  EXPECT_EQ(run_metrics(o), kExitGateFailed);
  const auto failed = nlohmann::json::parse(test::read_bytes(dir.path("report.json")));
  EXPECT_FALSE(failed["gates"]["passed"].get<bool>());
}

TEST(MetricsCommand, SetColumnBehindAByteOrderMarkSplitsTheSets) {
  test::TempDir dir;
  // As Excel saves "CSV UTF-8": the byte-order mark must not hide the `set` column.
  test::write_bytes(dir.path("s.csv"), "\xef\xbb\xbfset,score\r\nid,1\r\nid,2\r\nood,0\r\n");
  MetricsOptions o;
  o.id = dir.path("s.csv");
  o.ood = {"ood=" + dir.path("s.csv")};
  o.out = dir.path("report.json");
  EXPECT_EQ(run_metrics(o), 0);
  const auto report = nlohmann::json::parse(test::read_bytes(dir.path("report.json")));
  // ID {1, 2} vs OOD {0}: both pairs ranked right, AUROC 2/2.
  EXPECT_EQ(report["id"]["count"], 2);
  EXPECT_EQ(report["detectors"][0]["ood"][0]["count"], 1);
  EXPECT_EQ(report["detectors"][0]["ood"][0]["auroc"].get<double>(), 1.0);
}

TEST(MetricsCommand, IdAndOodThatAreTheSameRowsOfOneFileAreAnError) {
  test::TempDir dir;
  test::write_bytes(dir.path("s.csv"), "score\n1\n2\n0\n");
  const std::vector<double> v = {1, 2, 0};
  test::write_bytes(dir.path("s.npy"), io::serialize_npy(io::DType::F64, {3}, v.data()));
  std::filesystem::create_symlink(dir.path("s.csv"), dir.path("link.csv"));
  MetricsOptions o;
  for (const auto& [id, ood] : {std::pair{dir.path("s.csv"), dir.path("s.csv")},
                                std::pair{dir.path("s.csv"), dir.path("./link.csv")},
                                std::pair{dir.path("s.npy"), dir.path("s.npy")}}) {
    o.id = id;
    o.ood = {"near=" + ood};
    test::expect_error([&] { run_metrics(o); }, {"same rows", "near"});
  }
  // A copy is another file: the user asked for it.
  test::write_bytes(dir.path("copy.csv"), test::read_bytes(dir.path("s.csv")));
  o.id = dir.path("s.csv");
  o.ood = {"near=" + dir.path("copy.csv")};
  EXPECT_EQ(run_metrics(o), 0);
}

TEST(MetricsCommand, RejectsDuplicateNamesAndMissingFiles) {
  test::TempDir dir;
  test::write_bytes(dir.path("s.txt"), "1\n2\n");
  MetricsOptions o;
  o.id = dir.path("s.txt");
  o.ood = {"a=" + dir.path("s.txt"), "a=" + dir.path("s.txt")};
  EXPECT_THROW(run_metrics(o), Error);
  o.ood = {"b=" + dir.path("missing.txt")};
  EXPECT_THROW(run_metrics(o), Error);
}

}  // namespace
}  // namespace oodflow::pipeline
