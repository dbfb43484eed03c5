#include "oodflow/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

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

constexpr const char* kReexecMarker = "OODFLOW_SET_OMP_WAIT_POLICY";

bool openmp_waits_passively() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy != nullptr && ::strcasecmp(policy, "passive") == 0;
}

}  // namespace

void set_compute_threads(int threads, Workload workload) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads <= 0 && workload == Workload::kBackbone) threads = cores;
  if (threads > 0) {
    at::set_num_threads(threads);
    set_blas_threads(threads);
  } else {
    at::set_num_threads(openmp_waits_passively() ? cores : 1);
    set_blas_threads(cores);
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  spdlog::debug("threads: LibTorch {}, OpenBLAS {}, OMP_WAIT_POLICY={}{}", torch_threads(),
                blas_threads(), policy != nullptr ? policy : "(unset)",
                std::getenv(kReexecMarker) != nullptr ? " (set by oodflow)" : "");
}

void reexec_with_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("OODFLOW_NO_REEXEC") != nullptr) {
    return;
  }
  if (::setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  ::setenv(kReexecMarker, "1", 1);  // for the log line: the policy was oodflow's choice
  ::execv("/proc/self/exe", argv);
  ::unsetenv("OMP_WAIT_POLICY");  // exec failed: go on as started, the policy unchanged
  ::unsetenv(kReexecMarker);
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
