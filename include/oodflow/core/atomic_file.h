// Crash-safe output files. Every file oodflow writes goes through AtomicFile: the bytes go to
// a temporary file next to the destination, which is flushed to disk and renamed over the
// final path only on commit(). An interrupted command therefore leaves either the previous
// complete file or nothing under the final name, never a half-written one. A temporary
// left by a killed writer (it cannot clean up after SIGKILL) is removed by the next writer of
// the same path on the same host.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace oodflow {

class AtomicFile {
 public:
  /// Creates the temporary file; throws Error naming `path` if its folder is missing or not
  /// writable.
  explicit AtomicFile(std::string path);
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends bytes; throws Error naming the destination on a failed write (e.g. disk full).
  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  /// Flushes to disk and renames into place.
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Throws the error that writing `path` would give (missing folder, no permission), before
/// hours of work are spent on producing it. Leaves nothing behind.
void check_writable(const std::string& path);

/// A scratch file next to `path` named like this process's temporaries of it, so that the
/// next writer of `path` removes it if this process is killed before it does.
std::string scratch_path_for(const std::string& path, const std::string& tag);

/// Writes `contents` to `path` atomically.
void write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace oodflow
