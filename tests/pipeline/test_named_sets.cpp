// --ood NAME=FILE and FILE, with paths that hold '=' (Hydra and sweep folders).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "oodflow/pipeline/metrics_command.h"
#include "oodflow/pipeline/named_sets.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

TEST(NamedSets, AValueThatIsAnExistingFileIsThatFileEvenWithAnEqualsSign) {
  test::TempDir dir;
  const std::string folder = dir.path("sweep/lr=0.1");
  std::filesystem::create_directories(folder);
  const std::string file = folder + "/feats.csv";
  test::write_bytes(file, "score\n1\n");
  EXPECT_EQ(parse_named_set(file), (std::pair<std::string, std::string>{"feats", file}));
  EXPECT_EQ(parse_named_set("near=" + file),
            (std::pair<std::string, std::string>{"near", file}));  // split at the first '='
  EXPECT_EQ(parse_named_set("mnist=m.npy"),
            (std::pair<std::string, std::string>{"mnist", "m.npy"}));
  EXPECT_EQ(parse_named_set("dir/m.npy"), (std::pair<std::string, std::string>{"m", "dir/m.npy"}));
  // A missing file whose '=' would make a name with a '/' is a path with a typo.
  test::expect_error([&] { parse_named_set(dir.path("sweep/lr=0.2/feats.csv")); },
                     {"no such file", "lr=0.2/feats.csv"});
}

TEST(NamedSets, MetricsReadsAnOodSetFromASweepFolder) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path("run/lr=0.1"));
  test::write_bytes(dir.path("id.csv"), "score\n3\n4\n");
  const std::string ood = dir.path("run/lr=0.1/ood.csv");
  test::write_bytes(ood, "score\n1\n3.5\n");
  MetricsOptions o;
  o.id = dir.path("id.csv");
  o.ood = {ood};
  o.out = dir.path("report.json");
  EXPECT_EQ(run_metrics(o), 0);
  // 4 pairs: (3,1) (4,1) (4,3.5) won, (3,3.5) lost: AUROC 3/4.
  const auto report = nlohmann::json::parse(test::read_bytes(o.out));
  EXPECT_EQ(report["detectors"][0]["ood"][0]["name"], "ood");
  EXPECT_EQ(report["detectors"][0]["ood"][0]["file"], ood);
  EXPECT_EQ(report["detectors"][0]["ood"][0]["auroc"], 0.75);
}

}  // namespace
}  // namespace oodflow::pipeline
