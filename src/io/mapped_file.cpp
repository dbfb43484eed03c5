#include "oodflow/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "oodflow/core/error.h"

namespace oodflow::io {

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  OODFLOW_CHECK(fd >= 0, "cannot open '" << path_ << "': " << std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    OODFLOW_FAIL("cannot open '" << path_ << "': "
                                 << (S_ISDIR(st.st_mode) ? "it is a directory"
                                                         : std::strerror(err ? err : EINVAL)));
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) {
    ::close(fd);
    OODFLOW_FAIL("'" << path_ << "' is empty");
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  if (map == MAP_FAILED) ::close(fd);
  OODFLOW_CHECK(map != MAP_FAILED, "cannot map '" << path_ << "': " << std::strerror(err));
  data_ = static_cast<const std::uint8_t*>(map);
  fd_ = fd;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::read_at(std::size_t offset, std::size_t bytes, void* out) const {
  OODFLOW_CHECK(offset <= size_ && bytes <= size_ - offset,
                "internal: bytes [" << offset << ", " << offset + bytes << ") outside '" << path_
                                    << "' (" << size_ << " bytes)");
  auto* dst = static_cast<std::uint8_t*>(out);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd_, dst, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    OODFLOW_CHECK(got > 0, "cannot read '"
                               << path_ << "' at byte " << offset << ": "
                               << (got < 0 ? std::strerror(errno) : "the file was truncated"));
    dst += got;
    offset += static_cast<std::size_t>(got);
    bytes -= static_cast<std::size_t>(got);
  }
}

void MappedFile::note_read(std::size_t bytes) const {
  read_since_drop_ += bytes;
  if (read_since_drop_ >= kResidentBudget) drop_pages();
}

void MappedFile::drop_pages() const {
  read_since_drop_ = 0;
  if (size_ == 0) return;
  // Advice only: a failure changes nothing but memory use.
  ::madvise(const_cast<std::uint8_t*>(data_), size_, MADV_DONTNEED);
}

}  // namespace oodflow::io
