// oodflow's entry point: sets the environment that libgomp and OpenBLAS read when they load
// (oodflow/core/library_environment.h), then runs the command line in oodflow-engine, the
// program next to it. It links no LibTorch: the engine re-executing itself for the same
// settings costs a second LibTorch load, about half a second per command (docs/threads.md).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "oodflow/core/library_environment.h"

int main(int /*argc*/, char** argv) {
  const std::string self = oodflow::executable_path();
  const std::string engine = self.substr(0, self.rfind('/') + 1) + "oodflow-engine";
  // Which command runs is known only once the engine has parsed the arguments (a --config file
  // can name a backbone), so idle OpenMP threads sleep for every command: where LibTorch's pool
  // has one thread (every command that runs no backbone), there are none to sleep.
  oodflow::exec_with_environment(
      engine.c_str(), argv,
      oodflow::tuned_library_environment(/*openmp_computes=*/true, /*uses_blas=*/true,
                                         oodflow::system_blas_core()));
  std::fprintf(stderr, "error: cannot run '%s': %s\n", engine.c_str(), std::strerror(errno));
  return 1;
}
