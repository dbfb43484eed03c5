#include <gtest/gtest.h>
#include <sys/stat.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "oodflow/io/safetensors.h"

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "test_util.h"

namespace oodflow {
namespace {

TEST(AtomicFile, CommitReplacesAndAbandonLeavesOldFile) {
  test::TempDir dir;
  const std::string path = dir.path("out.txt");
  write_file_atomically(path, "first");
  EXPECT_EQ(test::read_bytes(path), "first");
  {
    AtomicFile f(path);
    f.write("partial second");
    // Destroyed without commit, as when an exception unwinds.
  }
  EXPECT_EQ(test::read_bytes(path), "first");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.txt"});  // no stray temporary
  write_file_atomically(path, "second");
  EXPECT_EQ(test::read_bytes(path), "second");
}

TEST(AtomicFile, ClearErrorsForUnwritableDestinations) {
  test::TempDir dir;
  try {
    AtomicFile f(dir.path("no/such/dir/out.json"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir/out.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(AtomicFile f(dir.path("")), Error);  // a directory
  // A read-only folder: AReadOnlyFolderIsAClearErrorAndLeavesNothing (also as root).
}

// A pipe (like /dev/null or /dev/stdout) is written in place, never replaced by a file.
TEST(AtomicFile, WritesIntoAPipeInsteadOfReplacingIt) {
  test::TempDir dir;
  const std::string fifo = dir.path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = test::read_bytes(fifo); });
  check_writable(fifo);  // must neither block nor end the reader's input
  write_file_atomically(fifo, "verdicts\n");
  reader.join();
  EXPECT_EQ(received, "verdicts\n");
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(dir.files(), std::vector<std::string>{"pipe"});
}

// Runs `fn` in a child process and returns how it ended (as waitpid reports it).
int in_child(const std::function<void()>& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      fn();
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(AtomicFile, AWriterKilledMidFileLeavesTheOldFileAndTheNextWriterCleansUp) {
  test::TempDir dir;
  const std::string path = dir.path("report.json");
  write_file_atomically(path, "old complete report");
  const int status = in_child([&] {
    AtomicFile f(path);
    f.write("{\"half of a new");
    ::raise(SIGKILL);  // no destructor, no cleanup: as kill -9 in the middle of writing
  });
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(test::read_bytes(path), "old complete report");
  EXPECT_EQ(dir.files().size(), 2u);  // the killed writer's temporary is still there
  write_file_atomically(path, "new complete report");
  EXPECT_EQ(test::read_bytes(path), "new complete report");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"report.json"});
}

TEST(AtomicFile, AFeatureFileKilledHalfWayIsAbsentNotPartial) {
  test::TempDir dir;
  const std::string path = dir.path("features.safetensors");
  const int status = in_child([&] {
    io::TensorSpec big{"features", io::DType::F32, {1 << 20, 4}, nullptr, {}};
    big.stream = [](const std::function<void(const void*, std::size_t)>& sink) {
      const std::vector<float> chunk(1 << 20, 1.0f);
      sink(chunk.data(), chunk.size() * sizeof(float));  // a quarter of the data
      ::raise(SIGKILL);
    };
    io::write_safetensors(path, {big}, {});
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(test::file_exists(path));
  write_file_atomically(path, "x");  // the next run of the command
  EXPECT_EQ(dir.files(), std::vector<std::string>{"features.safetensors"});
}

TEST(AtomicFile, ConcurrentWritersLeaveOneCompleteFile) {
  test::TempDir dir;
  const std::string path = dir.path("flow.safetensors");
  std::vector<pid_t> writers;
  for (char c : {'a', 'b', 'c', 'd'}) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string contents(4 << 20, c);
      for (int i = 0; i < 5; ++i) write_file_atomically(path, contents);
      ::_exit(0);
    }
    writers.push_back(pid);
  }
  for (pid_t pid : writers) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const std::string result = test::read_bytes(path);
  ASSERT_EQ(result.size(), 4u << 20);
  EXPECT_EQ(std::count(result.begin(), result.end(), result.front()),
            static_cast<std::ptrdiff_t>(result.size()));  // one writer's bytes, whole
  EXPECT_EQ(dir.files(), std::vector<std::string>{"flow.safetensors"});
}

TEST(AtomicFile, AFullDiskIsAClearError) {
  test::expect_error([] { write_file_atomically("/dev/full", std::string(1 << 16, 'x')); },
                     {"/dev/full", "No space left on device"});
}

// Permissions do not stop root, so the write is tried as user nobody in a child process.
TEST(AtomicFile, AReadOnlyFolderIsAClearErrorAndLeavesNothing) {
  test::TempDir dir;
  const std::string folder = dir.path("ro");
  ASSERT_EQ(::mkdir(folder.c_str(), 0555), 0);
  ::chmod(dir.path("").c_str(), 0755);
  const int status = in_child([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(4);
    try {
      check_writable(folder + "/out.json");
    } catch (const Error& e) {
      ::_exit(std::string(e.what()).find("Permission denied") != std::string::npos ? 0 : 5);
    }
    ::_exit(6);  // no error
  });
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "4: cannot drop root, 5: another error, 6: no error";
  ::rmdir(folder.c_str());
}

}  // namespace
}  // namespace oodflow
