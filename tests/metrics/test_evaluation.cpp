#include <gtest/gtest.h>

#include "oodflow/core/error.h"
#include "oodflow/metrics/evaluation.h"

namespace oodflow::metrics {
namespace {

TEST(Gates, ParsesAndChecksBothDirections) {
  const auto gates = parse_gates("auroc=0.9,fpr95=0.3");
  ASSERT_EQ(gates.size(), 2u);
  const Evaluation e = evaluate({"id", "", {3, 4, 5, 6}, {}},
                                {{"far", "", {0, 1, 2}, {}}, {"near", "", {4.5, 5.5, 6.5}, {}}});
  const auto checks = check_gates(e, gates);
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_TRUE(checks[0].passed);   // far auroc = 1
  EXPECT_TRUE(checks[1].passed);   // far fpr95 = 0
  EXPECT_FALSE(checks[2].passed);  // near auroc < 0.9
  EXPECT_FALSE(checks[3].passed);  // near fpr95 = 1 > 0.3
  EXPECT_EQ(checks[3].value, 1.0);
}

TEST(Gates, RejectsBadSpecifications) {
  EXPECT_THROW(parse_gates("auroc"), Error);
  EXPECT_THROW(parse_gates("accuracy=0.9"), Error);
  EXPECT_THROW(parse_gates("auroc=high"), Error);
  EXPECT_THROW(parse_gates("auroc=1.5"), Error);
  EXPECT_TRUE(parse_gates("").empty());
}

}  // namespace
}  // namespace oodflow::metrics
