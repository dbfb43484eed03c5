#include "oodflow/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "oodflow/core/error.h"

namespace oodflow {
namespace {

std::string temp_name_for(const std::string& path) {
  // Unique per process and per call, so two writers of the same path never share a
  // temporary file; the last rename wins and both leave a complete file.
  static std::atomic<unsigned> counter{0};
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + base + ".tmp-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

// A device or a pipe (/dev/null, /dev/stdout, a FIFO) is not a file to replace: renaming
// over it would destroy it (as root, /dev/null itself), so it is written in place.
bool is_special_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  OODFLOW_CHECK(!path_.empty(), "output path is empty");
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    OODFLOW_CHECK(!S_ISDIR(st.st_mode), "cannot write '" << path_ << "': it is a directory");
  }
  if (is_special_file(path_)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    OODFLOW_CHECK(fd_ >= 0, "cannot open '" << path_ << "': " << std::strerror(errno));
    return;
  }
  temp_path_ = temp_name_for(path_);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  OODFLOW_CHECK(fd_ >= 0, "cannot create '" << path_ << "': " << std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  OODFLOW_CHECK(fd_ >= 0 && !committed_, "internal: write to closed file '" << path_ << "'");
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    OODFLOW_CHECK(n > 0, "cannot write '" << path_ << "': " << std::strerror(errno));
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  OODFLOW_CHECK(fd_ >= 0 && !committed_, "internal: commit of closed file '" << path_ << "'");
  if (temp_path_.empty()) {  // written in place
    const int rc = ::close(fd_);
    fd_ = -1;
    OODFLOW_CHECK(rc == 0, "cannot write '" << path_ << "': " << std::strerror(errno));
    committed_ = true;
    return;
  }
  // Without fsync a crash after rename could leave the new name pointing at empty data.
  OODFLOW_CHECK(::fsync(fd_) == 0, "cannot write '" << path_ << "': " << std::strerror(errno));
  const int rc = ::close(fd_);
  fd_ = -1;
  OODFLOW_CHECK(rc == 0, "cannot write '" << path_ << "': " << std::strerror(errno));
  OODFLOW_CHECK(::rename(temp_path_.c_str(), path_.c_str()) == 0,
                "cannot move output into place at '" << path_ << "': " << std::strerror(errno));
  committed_ = true;
}

void check_writable(const std::string& path) {
  if (is_special_file(path)) {
    // Opening a FIFO would wait for a reader and closing it would end the reader's input.
    OODFLOW_CHECK(::access(path.c_str(), W_OK) == 0,
                  "cannot write '" << path << "': " << std::strerror(errno));
    return;
  }
  AtomicFile probe(path);
}

void write_file_atomically(const std::string& path, std::string_view contents) {
  AtomicFile file(path);
  file.write(contents);
  file.commit();
}

}  // namespace oodflow
