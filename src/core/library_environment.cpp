#include "oodflow/core/library_environment.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace oodflow {
namespace {

// An empty value counts as unset: libgomp ignores it, and OpenBLAS's own choice with it is
// not the CPU's (it picked Cooperlake on this project's machine).
bool user_set(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0';
}

std::optional<std::string> current_value(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

void put_back(const char* name, const std::optional<std::string>& value) {
  if (value) {
    ::setenv(name, value->c_str(), 1);
  } else {
    ::unsetenv(name);
  }
}

}  // namespace

void forget_empty_library_variables() {
  for (const char* name : {"OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "OODFLOW_NO_REEXEC"}) {
    if (!user_set(name)) ::unsetenv(name);
  }
  ::unsetenv(kSetByOodflowVariable);  // inherited: not set for this process
}

std::vector<EnvironmentSetting> tuned_library_environment(bool openmp_computes, bool uses_blas,
                                                          const std::string& blas_core) {
  std::vector<EnvironmentSetting> settings;
  if (user_set("OODFLOW_NO_REEXEC")) return settings;
  if (openmp_computes && !user_set("OMP_WAIT_POLICY")) {
    settings.push_back({"OMP_WAIT_POLICY", "PASSIVE"});
  }
  if (uses_blas && !user_set("OPENBLAS_CORETYPE")) {
    std::string core = openblas_core_override(blas_core);
    if (!core.empty()) settings.push_back({"OPENBLAS_CORETYPE", std::move(core)});
  }
  return settings;
}

void exec_with_environment(const char* program, char** argv,
                           const std::vector<EnvironmentSetting>& settings) {
  std::vector<std::pair<std::string, std::optional<std::string>>> before;
  before.emplace_back(kSetByOodflowVariable, current_value(kSetByOodflowVariable));
  std::string names;
  for (const auto& [name, value] : settings) {
    before.emplace_back(name, current_value(name.c_str()));
    ::setenv(name.c_str(), value.c_str(), 1);
    names += (names.empty() ? "" : ", ") + name;
  }
  if (!names.empty()) ::setenv(kSetByOodflowVariable, names.c_str(), 1);
  ::execv(program, argv);
  const int error = errno;
  for (auto it = before.rbegin(); it != before.rend(); ++it)
    put_back(it->first.c_str(), it->second);
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

std::string openblas_core_name(void* library) {
  using CoreNameFn = char* (*)();
  auto name = reinterpret_cast<CoreNameFn>(::dlsym(library, "openblas_get_corename"));
  const char* core = name != nullptr ? name() : nullptr;
  return core != nullptr ? core : "";
}

std::string system_blas_core() {
  // Loading OpenBLAS alone is a small part of a LibTorch load (0.3-0.4 s here), which is what
  // the launcher saves by asking before LibTorch loads.
  void* blas = ::dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL);
  if (blas == nullptr) return "";
  std::string core = openblas_core_name(blas);
  ::dlclose(blas);
  return core;
}

}  // namespace oodflow
