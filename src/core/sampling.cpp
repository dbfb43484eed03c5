#include "oodflow/core/sampling.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "oodflow/core/error.h"

namespace oodflow {
namespace {

// Distinguishes the split's random stream from the epochs' for the same seed.
constexpr std::uint32_t kEpochStream = 0x6f6f6466u;
constexpr std::uint32_t kHoldoutStream = 0x686f6c64u;

std::vector<std::int64_t> fisher_yates(std::int64_t n, std::seed_seq& seq) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seq);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(uniform_below(rng, static_cast<std::uint64_t>(i) + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace

std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t r;
  do {
    r = rng();
  } while (r >= limit);
  return r % bound;
}

std::vector<std::int64_t> shuffled_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch), kEpochStream};
  return fisher_yates(n, seq);
}

HoldoutSplit split_holdout(std::int64_t n, double fraction, std::uint64_t seed) {
  OODFLOW_CHECK(fraction >= 0 && fraction < 1,
                "--val-fraction must be in [0, 1), got " << fraction);
  HoldoutSplit split;
  const auto held = static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(n)));
  if (fraction == 0) {
    split.train.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) split.train[i] = i;
    return split;
  }
  OODFLOW_CHECK(held >= 1 && held < n,
                "--val-fraction " << fraction << " of " << n << " samples holds out " << held
                                  << " of them; at least one must be held out and one left "
                                  << "to fit on (or pass --val-fraction 0: no calibration)");
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    kHoldoutStream};
  std::vector<std::int64_t> order = fisher_yates(n, seq);
  split.held_out.assign(order.begin(), order.begin() + held);
  split.train.assign(order.begin() + held, order.end());
  std::sort(split.held_out.begin(), split.held_out.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

}  // namespace oodflow
