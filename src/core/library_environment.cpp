#include "oodflow/core/library_environment.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

namespace oodflow {

std::vector<EnvironmentSetting> tuned_library_environment(bool openmp_computes, bool uses_blas,
                                                          const std::string& blas_core) {
  std::vector<EnvironmentSetting> settings;
  if (std::getenv("OODFLOW_NO_REEXEC") != nullptr) return settings;
  if (openmp_computes && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    settings.push_back({"OMP_WAIT_POLICY", "PASSIVE"});
  }
  if (uses_blas && std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    std::string core = openblas_core_override(blas_core);
    if (!core.empty()) settings.push_back({"OPENBLAS_CORETYPE", std::move(core)});
  }
  return settings;
}

void exec_with_environment(const char* program, char** argv,
                           const std::vector<EnvironmentSetting>& settings) {
  std::string names;
  for (const auto& [name, value] : settings) {
    ::setenv(name.c_str(), value.c_str(), 1);
    names += (names.empty() ? "" : ", ") + name;
  }
  if (!names.empty()) ::setenv(kSetByOodflowVariable, names.c_str(), 1);
  ::execv(program, argv);
  const int error = errno;
  for (const auto& setting : settings) ::unsetenv(setting.name.c_str());
  if (!names.empty()) ::unsetenv(kSetByOodflowVariable);
  errno = error;
}

std::string executable_path() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : std::string();
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

std::string system_blas_core() {
  // Loading OpenBLAS takes milliseconds (its threads start and stop); LibTorch takes about
  // half a second, which is what the launcher saves by asking before LibTorch loads.
  void* blas = ::dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL);
  if (blas == nullptr) return "";
  using CoreNameFn = char* (*)();
  auto name = reinterpret_cast<CoreNameFn>(::dlsym(blas, "openblas_get_corename"));
  const char* core = name != nullptr ? name() : nullptr;
  std::string result = core != nullptr ? core : "";
  ::dlclose(blas);
  return result;
}

}  // namespace oodflow
