#include <gtest/gtest.h>

#include <cmath>

#include "oodflow/core/error.h"
#include "oodflow/io/csv.h"
#include "oodflow/io/npy.h"
#include "oodflow/io/score_file.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

TEST(ScoreFile, ReadsCsvColumnsSetsAndNonFinite) {
  test::TempDir dir;
  test::write_bytes(dir.path("s.csv"),
                    "set,index,source,score\n"
                    "id,0,\"a,b.png\",1.5\n"
                    "id,1,,nan\n"
                    "ood,0,,-inf\n"
                    "ood,1,,2e3\n");
  const auto id = read_scores(dir.path("s.csv"), {"score", "id"});
  ASSERT_EQ(id.size(), 2u);
  EXPECT_EQ(id[0], 1.5);
  EXPECT_TRUE(std::isnan(id[1]));
  const auto ood = read_scores(dir.path("s.csv"), {"score", "ood"});
  EXPECT_EQ(ood, (std::vector<double>{-INFINITY, 2000}));
  EXPECT_THROW(read_scores(dir.path("s.csv"), {"score", "other"}), Error);
  EXPECT_THROW(read_scores(dir.path("s.csv"), {"logp", ""}), Error);
}

TEST(ScoreFile, ReadsHeaderlessColumnAndNpy) {
  test::TempDir dir;
  test::write_bytes(dir.path("plain.txt"), "1\n2.5\n\n-3\n");
  EXPECT_EQ(read_scores(dir.path("plain.txt"), {}), (std::vector<double>{1, 2.5, -3}));
  const std::vector<float> v = {0.5f, 1.5f};
  test::write_bytes(dir.path("s.npy"), serialize_npy(DType::F32, {2, 1}, v.data()));
  EXPECT_EQ(read_scores(dir.path("s.npy"), {}), (std::vector<double>{0.5, 1.5}));
}

TEST(ScoreFile, NamesFileAndLineOnBadInput) {
  test::TempDir dir;
  test::write_bytes(dir.path("bad.csv"), "score\n1\nabc\n");
  try {
    read_scores(dir.path("bad.csv"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv' line 3"), std::string::npos) << e.what();
  }
  test::write_bytes(dir.path("empty.csv"), "score\n");
  EXPECT_THROW(read_scores(dir.path("empty.csv"), {}), Error);
  EXPECT_THROW(read_scores(dir.path("missing.csv"), {}), Error);
}

TEST(Csv, QuotesAndSplitsRoundTrip) {
  std::vector<std::string> fields;
  const std::string line = csv_field("plain") + "," + csv_field("a,\"b\"") + "," + csv_field("");
  ASSERT_TRUE(split_csv_line(line, &fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"plain", "a,\"b\"", ""}));
  EXPECT_FALSE(split_csv_line("\"open", &fields));
  for (double v : {0.1, static_cast<double>(0.1f), -372.0591735839844, 1e-300}) {
    EXPECT_EQ(std::strtod(format_score(v).c_str(), nullptr), v);
  }
  EXPECT_EQ(format_score(-INFINITY), "-inf");
}

}  // namespace
}  // namespace oodflow::io
