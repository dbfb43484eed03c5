// The elementwise core of oodflow::flow::Adam, in a translation unit of its own: it is
// compiled with -fno-math-errno (so that sqrt vectorises) and for several instruction sets.
#pragma once

#include <cstdint>

namespace oodflow::flow::detail {

/// The float32 constants of one Adam step, rounded as LibTorch 1.13's kernels round them.
struct AdamConstants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float sqrt_bias_correction2, eps, negative_step_size;
};

/// For i in [0, n): m = fma(1-b1, g, m*b1); v = fma((1-b2)*g, g, v*b2);
/// p += (-step * m) / (sqrt(v) / sqrt(bc2) + eps). Each operation rounds to float32 where
/// LibTorch's eight tensor operations do, so p, m and v are bit-identical to theirs.
void adam_update(float* p, const float* g, float* m, float* v, std::int64_t n,
                 const AdamConstants& c);

}  // namespace oodflow::flow::detail
