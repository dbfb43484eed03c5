// oodflow's entry point: sets the environment that libgomp and OpenBLAS read when they load
// (oodflow/core/library_environment.h), then runs the command line in oodflow-engine, the
// program next to it. It links no LibTorch: the engine re-executing itself for the same
// settings would load LibTorch a second time (docs/design.md, docs/threads.md).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "oodflow/core/library_environment.h"

int main(int /*argc*/, char** argv) {
  const std::string self = oodflow::executable_path();
  if (self.empty()) {
    std::fprintf(stderr, "error: cannot find oodflow's own path (/proc/self/exe): %s\n",
                 std::strerror(errno));
    return 1;
  }
  const std::string engine = self.substr(0, self.rfind('/') + 1) + "oodflow-engine";
  oodflow::forget_empty_library_variables();
  // Which command runs is known only once the engine has parsed the arguments (a --config file
  // can name a backbone), so idle OpenMP threads sleep for every command. OpenMP computes in a
  // backbone (extract, detect --images) and in faiss's IVF search; elsewhere LibTorch's pool
  // has one thread and no idle threads to put to sleep.
  oodflow::exec_with_environment(
      engine.c_str(), argv,
      oodflow::tuned_library_environment(/*openmp_computes=*/true, /*uses_blas=*/true,
                                         oodflow::system_blas_core()));
  std::fprintf(stderr, "error: cannot run '%s': %s (oodflow-engine must be next to oodflow)\n",
               engine.c_str(), std::strerror(errno));
  return 1;
}
