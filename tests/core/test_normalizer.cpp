#include <gtest/gtest.h>

#include <cmath>

#include "oodflow/core/error.h"
#include "oodflow/core/normalizer.h"

namespace oodflow {
namespace {

TEST(Normalizer, L2MakesUnitRows) {
  std::vector<float> rows = {3, 4, 0, -2};
  Normalizer(Normalization::kL2).apply(rows.data(), 2, 2, "f");
  EXPECT_FLOAT_EQ(rows[0], 0.6f);
  EXPECT_FLOAT_EQ(rows[1], 0.8f);
  EXPECT_FLOAT_EQ(rows[2], 0.0f);
  EXPECT_FLOAT_EQ(rows[3], -1.0f);
}

TEST(Normalizer, StandardizeUsesFittedMoments) {
  MomentAccumulator acc(2);
  const std::vector<float> data = {1, 10, 3, 10};  // dim 1: mean 2 std 1; dim 2 constant
  acc.add(data.data(), 2);
  const Normalizer n = acc.finish();
  EXPECT_FLOAT_EQ(n.mean()[0], 2.0f);
  EXPECT_FLOAT_EQ(n.std()[0], 1.0f);
  EXPECT_GT(n.std()[1], 0.0f);  // floored, not zero
  std::vector<float> row = {4, 10};
  n.apply(row.data(), 1, 2, "f");
  EXPECT_FLOAT_EQ(row[0], 2.0f);
  EXPECT_FLOAT_EQ(row[1], 0.0f);
}

std::string error_of(const std::vector<float>& values, Normalization kind,
                     const std::int64_t* index = nullptr) {
  std::vector<float> rows = values;
  try {
    Normalizer(kind).apply(rows.data(), 2, 2, "feats.npy", 10, index);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Normalizer, NamesFileAndSampleOfBadRows) {
  const std::string zero = error_of({1, 1, 0, 0}, Normalization::kL2);
  EXPECT_NE(zero.find("'feats.npy' sample 11"), std::string::npos) << zero;
  EXPECT_NE(zero.find("zero norm"), std::string::npos) << zero;
  const std::string nan = error_of({1, NAN, 0, 0}, Normalization::kNone);
  EXPECT_NE(nan.find("sample 10: feature 1 is nan"), std::string::npos) << nan;
  const std::int64_t index[] = {42, 7};
  const std::string inf = error_of({1, 1, INFINITY, 0}, Normalization::kL2, index);
  EXPECT_NE(inf.find("sample 7: feature 0 is inf"), std::string::npos) << inf;
  EXPECT_THROW(parse_normalization("l1"), Error);
}

}  // namespace
}  // namespace oodflow
