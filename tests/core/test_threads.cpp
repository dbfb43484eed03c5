#include "oodflow/core/threads.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace oodflow {
namespace {

// The CPU's feature flags as the kernel reports them: an oracle independent of the
// compiler's __builtin_cpu_supports, which the code under test uses.
std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(Threads, OpenBlasKernelsAreForcedOnlyAfterAFallbackToPrescott) {
  EXPECT_EQ(openblas_core_override("Haswell"), "");
  EXPECT_EQ(openblas_core_override("SkylakeX"), "");
  EXPECT_EQ(openblas_core_override("Zen"), "");
  EXPECT_EQ(openblas_core_override(""), "");

  const std::set<std::string> flags = cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags on this system";
  auto has = [&](const char* f) { return flags.count(f) > 0; };
  std::string expected;
  if (has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq") && has("avx512cd")) {
    expected = "SkylakeX";
  } else if (has("avx2") && has("fma")) {
    expected = "Haswell";
  }
  EXPECT_EQ(openblas_core_override("Prescott"), expected);
}

TEST(Threads, ReportsTheBlasInUse) {
  // The tests link the system's libblas.so.3, which scripts/install_deps.sh points at OpenBLAS.
  EXPECT_FALSE(blas_core().empty());
  set_compute_threads(2);
  EXPECT_EQ(blas_threads(), 2);
  EXPECT_EQ(torch_threads(), 1);
  set_compute_threads(2, Workload::kBackbone);
  EXPECT_EQ(torch_threads(), 2);
  set_compute_threads(1);
}

}  // namespace
}  // namespace oodflow
