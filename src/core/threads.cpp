#include "oodflow/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "oodflow/core/library_environment.h"

namespace oodflow {
namespace {

// OpenBLAS is reached through the libblas.so.3 alternative, so it is looked up at run time:
// linking against it directly would tie the binary to one BLAS.
using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();

template <typename Fn>
Fn blas_symbol(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_DEFAULT, name));
}

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
  const char* set_by_us = std::getenv(kSetByOodflowVariable);
  spdlog::debug(
      "threads: LibTorch {}, OpenBLAS {} ({} kernels), OMP_WAIT_POLICY={}{}{}", torch_threads(),
      blas_threads(), blas_core(), policy != nullptr ? policy : "(unset)",
      set_by_us != nullptr ? "; set by oodflow: " : "", set_by_us != nullptr ? set_by_us : "");
}

void reexec_with_tuned_libraries(char** argv, bool runs_backbone, bool uses_blas) {
  const auto settings = tuned_library_environment(runs_backbone, uses_blas, blas_core());
  if (settings.empty()) return;
  // The real path, not /proc/self/exe itself: the process keeps its name in ps and top.
  const std::string self = executable_path();
  if (!self.empty()) exec_with_environment(self.c_str(), argv, settings);
  // Here only when that failed: go on as started.
}

std::string blas_core() {
  return openblas_core_name(RTLD_DEFAULT);
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
