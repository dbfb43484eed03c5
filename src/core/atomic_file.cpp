#include "oodflow/core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "oodflow/core/error.h"

namespace oodflow {
namespace {

// "<dir>/" (or "") and the file name of `path`.
std::pair<std::string, std::string> split_path(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "host";
  std::string host = name;
  for (char& c : host) {
    if (c == '/' || c == '-') c = '_';
  }
  return host;
}

// ".<name>.tmp-<host>-": the temporaries of one destination written on this host.
std::string temp_prefix(const std::string& base) {
  return "." + base + ".tmp-" + host_name() + "-";
}

std::string temp_name_for(const std::string& path) {
  // Unique per process and per call, so two writers of the same path never share a
  // temporary file; the last rename wins and both leave a complete file.
  static std::atomic<unsigned> counter{0};
  const auto [dir, base] = split_path(path);
  return dir + temp_prefix(base) + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

// Temporaries left by writers of `path` on this host that were killed before they could
// remove them (SIGKILL, power loss): their process no longer exists. A writer on another
// host of a shared file system is never touched: its process ids mean nothing here.
void remove_stale_temporaries(const std::string& path) {
  const auto [dir, base] = split_path(path);
  const std::string prefix = temp_prefix(base);
  DIR* listing = ::opendir(dir.empty() ? "." : dir.c_str());
  if (listing == nullptr) return;
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    char* end = nullptr;
    const long pid = std::strtol(rest.c_str(), &end, 10);
    if (pid <= 0 || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(dir + name);
  }
  ::closedir(listing);
  for (const auto& file : stale) ::unlink(file.c_str());
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
  remove_stale_temporaries(path_);
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

std::string scratch_path_for(const std::string& path, const std::string& tag) {
  const auto [dir, base] = split_path(path);
  return dir + temp_prefix(base) + std::to_string(::getpid()) + "-" + tag;
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
