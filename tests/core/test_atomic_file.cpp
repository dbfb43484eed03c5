#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

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
  if (::geteuid() != 0) {                           // root writes into read-only folders anyway
    ::mkdir(dir.path("ro").c_str(), 0555);
    EXPECT_THROW(AtomicFile f(dir.path("ro/out.json")), Error);
    ::rmdir(dir.path("ro").c_str());
  }
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

}  // namespace
}  // namespace oodflow
