#include "oodflow/core/threads.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace oodflow {
namespace {

// The CPU's feature flags as the kernel reports them: an oracle independent of the
// compiler's __builtin_cpu_supports, which the code under test uses.
std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(Threads, OpenBlasKernelsAreForcedOnlyAfterAFallbackToPrescott) {
  EXPECT_EQ(openblas_core_override("Haswell"), "");
  EXPECT_EQ(openblas_core_override("SkylakeX"), "");
  EXPECT_EQ(openblas_core_override("Zen"), "");
  EXPECT_EQ(openblas_core_override(""), "");

  const std::set<std::string> flags = cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags on this system";
  auto has = [&](const char* f) { return flags.count(f) > 0; };
  std::string expected;
  if (has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq") && has("avx512cd")) {
    expected = "SkylakeX";
  } else if (has("avx2") && has("fma")) {
    expected = "Haswell";
  }
  EXPECT_EQ(openblas_core_override("Prescott"), expected);
}

// Sets (or unsets) an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::vector<std::string> names_of(const std::vector<EnvironmentSetting>& settings) {
  std::vector<std::string> names;
  for (const auto& s : settings) names.push_back(s.name + "=" + s.value);
  return names;
}

TEST(LibraryEnvironment, SetsOnlyWhatTheUserLeftUnset) {
  ScopedEnv no_opt_out("OODFLOW_NO_REEXEC", nullptr);
  ScopedEnv policy("OMP_WAIT_POLICY", nullptr);
  ScopedEnv kernels("OPENBLAS_CORETYPE", nullptr);
  const std::string forced = openblas_core_override("Prescott");
  std::vector<std::string> expected = {"OMP_WAIT_POLICY=PASSIVE"};
  if (!forced.empty()) expected.push_back("OPENBLAS_CORETYPE=" + forced);
  EXPECT_EQ(names_of(tuned_library_environment(true, true, "Prescott")), expected);
  EXPECT_EQ(names_of(tuned_library_environment(true, true, "Haswell")),
            std::vector<std::string>{"OMP_WAIT_POLICY=PASSIVE"});
  EXPECT_TRUE(tuned_library_environment(false, false, "Prescott").empty());
  {
    ScopedEnv user_policy("OMP_WAIT_POLICY", "active");
    ScopedEnv user_kernels("OPENBLAS_CORETYPE", "Prescott");
    EXPECT_TRUE(tuned_library_environment(true, true, "Prescott").empty());
  }
  {
    // Empty counts as unset (OpenBLAS picks kernels of its own with an empty value).
    ScopedEnv empty_policy("OMP_WAIT_POLICY", "");
    ScopedEnv empty_kernels("OPENBLAS_CORETYPE", "");
    ScopedEnv empty_opt_out("OODFLOW_NO_REEXEC", "");
    EXPECT_EQ(names_of(tuned_library_environment(true, true, "Prescott")), expected);
  }
  ScopedEnv opt_out("OODFLOW_NO_REEXEC", "1");
  EXPECT_TRUE(tuned_library_environment(true, true, "Prescott").empty());
}

TEST(LibraryEnvironment, AFailedExecLeavesTheEnvironmentAsItWas) {
  ScopedEnv policy("OMP_WAIT_POLICY", nullptr);
  ScopedEnv kernels("OPENBLAS_CORETYPE", "Haswell");
  ScopedEnv marker(kSetByOodflowVariable, "earlier");
  char program[] = "/nonexistent/oodflow-engine";
  char* argv[] = {program, nullptr};
  exec_with_environment(program, argv,
                        {{"OMP_WAIT_POLICY", "PASSIVE"}, {"OPENBLAS_CORETYPE", "SkylakeX"}});
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(std::getenv("OMP_WAIT_POLICY"), nullptr);
  ASSERT_NE(std::getenv("OPENBLAS_CORETYPE"), nullptr);
  EXPECT_STREQ(std::getenv("OPENBLAS_CORETYPE"), "Haswell");
  ASSERT_NE(std::getenv(kSetByOodflowVariable), nullptr);
  EXPECT_STREQ(std::getenv(kSetByOodflowVariable), "earlier");
}

TEST(LibraryEnvironment, AStartForgetsEmptyAndInheritedVariables) {
  ScopedEnv policy("OMP_WAIT_POLICY", "");
  ScopedEnv kernels("OPENBLAS_CORETYPE", "");
  ScopedEnv opt_out("OODFLOW_NO_REEXEC", "");
  ScopedEnv marker(kSetByOodflowVariable, "OMP_WAIT_POLICY");
  forget_empty_library_variables();
  for (const char* name :
       {"OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "OODFLOW_NO_REEXEC", kSetByOodflowVariable}) {
    EXPECT_EQ(std::getenv(name), nullptr) << name;
  }
  ScopedEnv user_policy("OMP_WAIT_POLICY", "active");
  forget_empty_library_variables();
  ASSERT_NE(std::getenv("OMP_WAIT_POLICY"), nullptr);
  EXPECT_STREQ(std::getenv("OMP_WAIT_POLICY"), "active");
}

TEST(LibraryEnvironment, ReadsTheKernelsOfTheSystemBlas) {
  // A smoke test: this process has loaded libblas.so.3 already, so the loader returns that copy
  // and both report its kernels. What a fresh load picks is checked by the CLI test, through
  // the launcher (tests/cli/pipeline.cmake).
  EXPECT_EQ(system_blas_core(), blas_core());
  EXPECT_FALSE(system_blas_core().empty());
}

TEST(Threads, ReportsTheBlasInUse) {
  // The tests link the system's libblas.so.3, which scripts/install_deps.sh points at OpenBLAS.
  EXPECT_FALSE(blas_core().empty());
  set_compute_threads(2);
  EXPECT_EQ(blas_threads(), 2);
  EXPECT_EQ(torch_threads(), 1);
  set_compute_threads(2, Workload::kBackbone);
  EXPECT_EQ(torch_threads(), 2);
  set_compute_threads(1);
}

}  // namespace
}  // namespace oodflow
