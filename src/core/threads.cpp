#include "oodflow/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

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

}  // namespace

void set_compute_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  if (auto set = blas_symbol<SetThreadsFn>("openblas_set_num_threads")) set(threads);
}

int torch_threads() { return at::get_num_threads(); }

int blas_threads() {
  auto get = blas_symbol<GetThreadsFn>("openblas_get_num_threads");
  return get != nullptr ? get() : -1;
}

}  // namespace oodflow
