// The environment that libgomp and OpenBLAS read once, when they are loaded, before main()
// runs: setting it from inside a process that has loaded them is too late. oodflow sets it
// before they load, in its launcher (apps/oodflow/launcher.cpp, which links no LibTorch) or,
// for a program started directly, by re-executing itself (oodflow/core/threads.h).
// No LibTorch here: the launcher links this module alone.
#pragma once

#include <string>
#include <vector>

namespace oodflow {

/// Names the variables oodflow set (comma-separated), for the -v log line.
inline constexpr const char* kSetByOodflowVariable = "OODFLOW_SET_ENV";

/// One environment variable to set before the libraries load.
struct EnvironmentSetting {
  std::string name;
  std::string value;
};

/// The variables oodflow sets for speed (never for results), leaving out any the user set
/// (to a non-empty value), and none at all when OODFLOW_NO_REEXEC is set (non-empty):
/// - OMP_WAIT_POLICY=PASSIVE when `openmp_computes`: idle OpenMP threads sleep instead of
///   spinning on the cores OpenBLAS needs (docs/threads.md).
/// - OPENBLAS_CORETYPE=openblas_core_override(blas_core) when `uses_blas` and OpenBLAS fell
///   back to its generic kernels (docs/threads.md#the-blas-matters-more-than-the-threads).
std::vector<EnvironmentSetting> tuned_library_environment(bool openmp_computes, bool uses_blas,
                                                          const std::string& blas_core);

/// For a program's start (the launcher): unsets OMP_WAIT_POLICY, OPENBLAS_CORETYPE and
/// OODFLOW_NO_REEXEC where they are empty (with an empty OPENBLAS_CORETYPE OpenBLAS picks
/// kernels by a rule of its own, not the CPU's: Cooperlake on this project's machine), and an
/// inherited kSetByOodflowVariable, which would name what another process set.
void forget_empty_library_variables();

/// Sets `settings`, and kSetByOodflowVariable naming them when there are any, then replaces
/// the process by `program` (a path) with `argv`. Returns only when execv failed, with the
/// environment as it was (every variable's earlier value or absence) and errno as execv left
/// it.
void exec_with_environment(const char* program, char** argv,
                           const std::vector<EnvironmentSetting>& settings);

/// The running executable's path with symbolic links resolved (/proc/self/exe), "" if unknown.
std::string executable_path();

/// The OpenBLAS kernels to force on this CPU when OpenBLAS chose `detected_core`: when it
/// fell back to "Prescott" (SSE3; OpenBLAS 0.3.21, Debian 12's, does so on CPUs newer than
/// it knows, such as Emerald Rapids, and runs matrix products 4x slower), "SkylakeX" if the
/// CPU has AVX-512 F, BW, VL, DQ and CD, else "Haswell" if it has AVX2 and FMA; otherwise
/// "" (nothing to change).
std::string openblas_core_override(const std::string& detected_core);

/// The OpenBLAS kernels ("Haswell", "SkylakeX", ...) of the OpenBLAS that `library` (a dlopen
/// handle, or RTLD_DEFAULT for the process's own libraries) reaches, "" when it reaches none.
std::string openblas_core_name(void* library);

/// The OpenBLAS kernels that the system's BLAS (libblas.so.3, the library LibTorch links)
/// chooses when loaded into a process with this environment, found by loading it; "" when it
/// is not OpenBLAS or cannot be loaded. For a process that has not loaded it yet.
std::string system_blas_core();

}  // namespace oodflow
