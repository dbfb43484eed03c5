// What the benchmark programs share: wall clocks and this machine's float32 GEMM peak,
// measured in the same process with the same threads, so that every figure can be given as a
// ratio to it (the machines here are shared and noisy; absolute numbers drift).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

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

/// "512,2048" -> {512, 2048}.
inline std::vector<std::int64_t> parse_list(const char* text) {
  std::vector<std::int64_t> out;
  for (const char* p = text; *p;) {
    out.push_back(std::strtoll(p, const_cast<char**>(&p), 10));
    if (*p == ',') ++p;
  }
  return out;
}

}  // namespace oodflow::bench
