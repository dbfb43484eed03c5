// Seeded sampling of rows: the shuffled order of a training epoch and the held-out split used
// for calibration. Both are driven by mt19937_64 through std::seed_seq and an explicit
// rejection sampler, which the standard specifies exactly, so the same seed picks the same
// rows on every platform and compiler (std::uniform_int_distribution is not so specified).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace oodflow {

/// Uniform integer in [0, bound) without modulo bias, exactly specified (unlike
/// std::uniform_int_distribution), so a seed draws the same numbers on every library.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound);

/// 0..n-1 in the order of a Fisher-Yates shuffle seeded by (seed, epoch).
std::vector<std::int64_t> shuffled_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

/// Rows 0..n-1 split into a held-out part of round(fraction * n) rows chosen at random by
/// `seed` and the rest; both sorted ascending.
struct HoldoutSplit {
  std::vector<std::int64_t> train;
  std::vector<std::int64_t> held_out;
};

/// Throws Error (naming --val-fraction) when 0 < fraction but either part would be empty;
/// fraction 0 holds nothing out.
HoldoutSplit split_holdout(std::int64_t n, double fraction, std::uint64_t seed);

}  // namespace oodflow
