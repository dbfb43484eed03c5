#include "oodflow/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <spdlog/spdlog.h>
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
  // Also read only at start, so set in the same re-execution: glibc's heap on transparent
  // huge pages (madvise), which halved a first training step's page-fault time when measured
  // by hand (docs/speed.md#training; not re-measured in this form).
  const bool tunables = std::getenv("GLIBC_TUNABLES") == nullptr;
  if (tunables) ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
  // The real path, not /proc/self/exe itself: the process keeps its name in ps and top.
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length > 0) {
    self[length] = '\0';
    ::execv(self, argv);
  }
  ::unsetenv("OMP_WAIT_POLICY");  // exec failed: go on as started, the policy unchanged
  ::unsetenv(kReexecMarker);
  if (tunables) ::unsetenv("GLIBC_TUNABLES");
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
