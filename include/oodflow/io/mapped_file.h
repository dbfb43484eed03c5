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

 private:
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace oodflow::io
