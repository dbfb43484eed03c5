#include "oodflow/core/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "test_util.h"

namespace oodflow {
namespace {

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(Sampling, ShuffleIsASeededPermutation) {
  const auto a = shuffled_order(1000, 5, 0);
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, iota(1000));
  EXPECT_EQ(a, shuffled_order(1000, 5, 0));
  EXPECT_NE(a, shuffled_order(1000, 6, 0));
  EXPECT_NE(a, shuffled_order(1000, 5, 1));
  EXPECT_NE(a, iota(1000));
}

TEST(Sampling, HoldoutPartitionsTheRowsBySeed) {
  const HoldoutSplit s = split_holdout(1000, 0.1, 3);
  ASSERT_EQ(s.held_out.size(), 100u);
  ASSERT_EQ(s.train.size(), 900u);
  EXPECT_TRUE(std::is_sorted(s.held_out.begin(), s.held_out.end()));
  EXPECT_TRUE(std::is_sorted(s.train.begin(), s.train.end()));
  std::vector<std::int64_t> all = s.train;
  all.insert(all.end(), s.held_out.begin(), s.held_out.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota(1000));
  EXPECT_EQ(s.held_out, split_holdout(1000, 0.1, 3).held_out);
  EXPECT_NE(s.held_out, split_holdout(1000, 0.1, 4).held_out);
  // Spread over the whole range, not a block at one end.
  EXPECT_LT(s.held_out.front(), 100);
  EXPECT_GT(s.held_out.back(), 900);
}

TEST(Sampling, HoldoutSizeIsTheRoundedFraction) {
  EXPECT_EQ(split_holdout(10, 0.25, 0).held_out.size(), 3u);  // 2.5 rounds away from zero
  EXPECT_EQ(split_holdout(7, 0.5, 0).held_out.size(), 4u);
  const HoldoutSplit none = split_holdout(5, 0.0, 0);
  EXPECT_TRUE(none.held_out.empty());
  EXPECT_EQ(none.train, iota(5));
}

TEST(Sampling, HoldoutRejectsFractionsThatLeaveAPartEmpty) {
  test::expect_error([] { split_holdout(4, 0.1, 0); }, {"--val-fraction 0.1", "4 samples"});
  test::expect_error([] { split_holdout(4, 1.0, 0); }, {"--val-fraction", "[0, 1)"});
  test::expect_error([] { split_holdout(1, 0.5, 0); }, {"--val-fraction"});
}

}  // namespace
}  // namespace oodflow
