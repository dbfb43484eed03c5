// Every committed fuzz input (seeds and the regression inputs of past findings) through its
// parser in the normal build: a result or an oodflow::Error, nothing else.
#include <gtest/gtest.h>

#include <filesystem>

#include "../fuzz/fuzz_targets.h"
#include "oodflow/core/error.h"
#include "oodflow/io/score_file.h"
#include "test_util.h"

namespace oodflow::fuzz {
namespace {

TEST(FuzzCorpus, EveryCommittedInputGivesAResultOrAnError) {
  std::size_t inputs = 0;
  for (const Target& target : targets()) {
    const std::filesystem::path dir = std::filesystem::path(OODFLOW_FUZZ_CORPUS_DIR) / target.name;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string bytes = test::read_bytes(entry.path().string());
      SCOPED_TRACE(entry.path().string());
      try {
        target.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      }
      ++inputs;
    }
  }
  EXPECT_GE(inputs, 25u);
}

TEST(FuzzCorpus, ScoresWithASetColumnPastTheRowAreAnError) {
  // Found in review: a row shorter than the header's `set` column was read past its end.
  const std::string csv = "score,set\n1\n";
  io::ScoreFileQuery query;
  query.set = "id";
  test::expect_error(
      [&] {
        io::parse_scores(reinterpret_cast<const std::uint8_t*>(csv.data()), csv.size(), "s.csv",
                         query);
      },
      {"s.csv", "line 2", "1 fields"});
}

}  // namespace
}  // namespace oodflow::fuzz
