#include "oodflow/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace oodflow {
namespace {

// OpenBLAS is reached through the libblas.so.3 alternative, so it is looked up at run time:
// linking against it directly would tie the binary to one BLAS.
using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();
using CoreNameFn = char* (*)();

template <typename Fn>
Fn blas_symbol(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_DEFAULT, name));
}

constexpr const char* kReexecMarker = "OODFLOW_SET_ENV";

}  // namespace

void set_compute_threads(int threads, Workload workload) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads <= 0) threads = cores;
  // Matrix products run on OpenBLAS's threads: LibTorch's pool gets one thread, since a second
  // pool on the same cores slows them even when its idle threads sleep (measured by
  // scripts/bench_threads.sh, docs/threads.md). A backbone's convolutions run on LibTorch's.
  at::set_num_threads(workload == Workload::kBackbone ? threads : 1);
  set_blas_threads(threads);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* set_by_us = std::getenv(kReexecMarker);
  spdlog::debug(
      "threads: LibTorch {}, OpenBLAS {} ({} kernels), OMP_WAIT_POLICY={}{}{}", torch_threads(),
      blas_threads(), blas_core(), policy != nullptr ? policy : "(unset)",
      set_by_us != nullptr ? "; set by oodflow: " : "", set_by_us != nullptr ? set_by_us : "");
}

void reexec_with_tuned_libraries(char** argv, bool runs_backbone, bool uses_blas) {
  if (std::getenv("OODFLOW_NO_REEXEC") != nullptr) return;
  std::vector<std::pair<const char*, std::string>> wanted;
  if (runs_backbone && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    wanted.emplace_back("OMP_WAIT_POLICY", "PASSIVE");
  }
  if (uses_blas && std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    std::string core = openblas_core_override(blas_core());
    if (!core.empty()) wanted.emplace_back("OPENBLAS_CORETYPE", std::move(core));
  }
  if (wanted.empty()) return;
  std::string names;
  for (const auto& [name, value] : wanted) {
    ::setenv(name, value.c_str(), 1);
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  ::setenv(kReexecMarker, names.c_str(), 1);
  // The real path, not /proc/self/exe itself: the process keeps its name in ps and top.
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length > 0) {
    self[length] = '\0';
    ::execv(self, argv);
  }
  for (const auto& entry : wanted) ::unsetenv(entry.first);  // go on as started
  ::unsetenv(kReexecMarker);
}

std::string openblas_core_override(const std::string& detected_core) {
  if (detected_core != "Prescott") return "";
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512cd")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

std::string blas_core() {
  auto name = blas_symbol<CoreNameFn>("openblas_get_corename");
  const char* core = name != nullptr ? name() : nullptr;
  return core != nullptr ? core : "";
}

void set_blas_threads(int threads) {
  if (auto set = blas_symbol<SetThreadsFn>("openblas_set_num_threads")) set(threads);
}

int torch_threads() {
  return at::get_num_threads();
}

int blas_threads() {
  auto get = blas_symbol<GetThreadsFn>("openblas_get_num_threads");
  return get != nullptr ? get() : -1;
}

}  // namespace oodflow
