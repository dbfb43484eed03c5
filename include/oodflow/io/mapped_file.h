// Read-only memory map of a whole file. Feature files can be larger than RAM: the kernel pages
// in only the rows a batch touches, so training streams shuffled batches without loading the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace oodflow::io {

class MappedFile {
 public:
  /// Maps `path`; throws Error "cannot open '<path>': <reason>" on failure.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  /// Copies `bytes` bytes at `offset` into `out` through the page cache (pread), without
  /// mapping them into this process: for scattered rows. A fault on the map maps the whole
  /// page-cache folio around the byte touched, which recent kernels make large (Linux 6.18 on
  /// ext4: about 1.1 MB resident per random 8 KiB row, measured), so random rows read through
  /// the map would grow resident memory to the file's size between drops. Throws Error naming
  /// the file on a read error or a short file.
  void read_at(std::size_t offset, std::size_t bytes, void* out) const;

  /// Counts `bytes` as read; every `kResidentBudget` bytes, drops the pages read so far from
  /// this process's memory (madvise MADV_DONTNEED: clean file pages, re-read from the page
  /// cache or disk if touched again). Keeps a pass over a file larger than memory at flat
  /// resident memory instead of growing to the file's size.
  void note_read(std::size_t bytes) const;
  /// Drops every page of the map from this process's memory now, as note_read does at its
  /// budget (for a pass over many files, whose budgets would add up).
  void drop_pages() const;
  static constexpr std::size_t kResidentBudget = std::size_t{256} << 20;

 private:
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;  // kept open for read_at
  mutable std::size_t read_since_drop_ = 0;
};

}  // namespace oodflow::io
