// Synthetic feature sets with a known structure: a Gaussian mixture as in-distribution data
// and the same mixture with shifted means as OOD data. Used by the tests, the benchmark and
// `oodflow synth`, so that the whole pipeline runs without any dataset. Random numbers come
// from mt19937_64 and a hand-written Box-Muller transform (std::normal_distribution is not
// specified exactly), so a seed gives the same bytes on every platform.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace oodflow::data {

/// Standard normal draws, reproducible across standard libraries.
class NormalSampler {
 public:
  explicit NormalSampler(std::uint64_t seed) : rng_(seed) {}
  double next();
  /// Uniform in [0, 1).
  double uniform();

 private:
  std::mt19937_64 rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

struct MixtureSpec {
  std::int64_t dim = 64;
  std::int64_t components = 4;
  /// Seed of the mixture's means and scales (the "world").
  std::uint64_t model_seed = 1;
  /// OOD shift: every mean moves by shift * v, v ~ N(0, I) fixed by the model seed.
  double shift = 0;
};

struct FeatureMatrix {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::vector<float> values;         ///< [rows, dim]
  std::vector<std::int64_t> labels;  ///< mixture component of each row
};

/// `n` samples of the mixture: component c uniformly, then x = mu_c + sigma_c * z with means
/// mu_c ~ N(0, I) and per-dimension scales sigma_c in [0.3, 1).
FeatureMatrix sample_mixture(const MixtureSpec& spec, std::int64_t n, std::uint64_t sample_seed);

}  // namespace oodflow::data
