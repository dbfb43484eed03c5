// IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a
// 4-byte magic (two zero bytes, an element-type code, the number of dimensions), one
// big-endian uint32 per dimension, then the C-order data. Plain or gzip-compressed; oodflow
// reads the unsigned-byte type, the one these datasets use. Every dimension is checked against
// the real data size, with overflow-safe products, before the data is exposed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace oodflow::io {

/// A parsed IDX array of unsigned bytes; `data` points into the caller's buffer.
struct IdxView {
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;
  std::size_t nbytes = 0;
};

/// Parses and validates `size` bytes; `source` names the file in error messages.
IdxView parse_idx(const std::uint8_t* data, std::size_t size, const std::string& source);

/// True when the bytes start with the gzip magic.
bool is_gzip(const std::uint8_t* data, std::size_t size);

/// Decompresses gzip data (one or more members), at most `max_bytes` of output; throws Error
/// naming `source` when it is corrupt or truncated.
std::string gunzip(const std::uint8_t* data, std::size_t size, const std::string& source,
                   std::size_t max_bytes);
/// Reads a whole file, decompressing it when it is gzip (at most `max_bytes` after
/// decompression, so that a small hostile file cannot claim unbounded memory).
std::string read_file_maybe_gzip(const std::string& path,
                                 std::size_t max_bytes = std::size_t{16} << 30);

}  // namespace oodflow::io
