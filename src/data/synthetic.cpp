#include "oodflow/data/synthetic.h"

#include <cmath>

#include "oodflow/core/error.h"

namespace oodflow::data {

double NormalSampler::uniform() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

double NormalSampler::next() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  spare_ = radius * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return radius * std::cos(2 * M_PI * u2);
}

FeatureMatrix sample_mixture(const MixtureSpec& spec, std::int64_t n, std::uint64_t sample_seed) {
  OODFLOW_CHECK(spec.dim >= 1 && spec.components >= 1 && n >= 0, "invalid mixture specification");
  const auto d = static_cast<std::size_t>(spec.dim);
  const auto k = static_cast<std::size_t>(spec.components);
  NormalSampler world(spec.model_seed);
  std::vector<double> means(k * d);
  std::vector<double> scales(k * d);
  std::vector<double> shift(d);
  for (auto& m : means) m = world.next();
  for (auto& s : scales) s = 0.3 + 0.7 * world.uniform();
  for (auto& v : shift) v = world.next();

  FeatureMatrix out;
  out.rows = n;
  out.dim = spec.dim;
  out.values.resize(static_cast<std::size_t>(n) * d);
  out.labels.resize(static_cast<std::size_t>(n));
  NormalSampler noise(sample_seed);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto c =
        std::min(k - 1, static_cast<std::size_t>(noise.uniform() * static_cast<double>(k)));
    out.labels[i] = static_cast<std::int64_t>(c);
    for (std::size_t j = 0; j < d; ++j) {
      out.values[i * d + j] = static_cast<float>(means[c * d + j] + spec.shift * shift[j] +
                                                 scales[c * d + j] * noise.next());
    }
  }
  return out;
}

}  // namespace oodflow::data
