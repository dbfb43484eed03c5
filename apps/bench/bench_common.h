// What the benchmark programs share: wall clocks, the thread line, and this machine's float32
// GEMM peak, measured in the same process with the same threads, so that every figure can be
// given as a ratio to it (the machines here are shared and noisy; absolute numbers drift).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "oodflow/core/threads.h"

namespace oodflow::bench {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Best of five square float32 matrix products of size n: the practical GEMM peak, GFLOP/s.
inline double gemm_peak_gflops(std::int64_t n) {
  const torch::Tensor a = torch::randn({n, n});
  const torch::Tensor b = torch::randn({n, n});
  torch::Tensor c = torch::mm(a, b);  // warm-up
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    best = std::max(best, 2.0 * n * n * n / seconds_since(t0) / 1e9);
  }
  return best;
}

/// Prints the thread settings in force and the OpenBLAS kernels, the first line of every
/// benchmark's output (a figure means little without them).
inline void print_threads() {
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  std::printf("threads: torch %d, openblas %d (%s kernels), OMP_WAIT_POLICY=%s\n",
              oodflow::torch_threads(), oodflow::blas_threads(), oodflow::blas_core().c_str(),
              wait != nullptr ? wait : "(unset)");
}

}  // namespace oodflow::bench
