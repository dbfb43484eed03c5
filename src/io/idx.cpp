#include "oodflow/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "oodflow/core/error.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/mapped_file.h"

namespace oodflow::io {
namespace {

constexpr std::uint8_t kUnsignedByte = 0x08;
constexpr std::size_t kMaxDims = 8;

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace

IdxView parse_idx(const std::uint8_t* data, std::size_t size, const std::string& source) {
  OODFLOW_CHECK(size >= 4 && data[0] == 0 && data[1] == 0,
                "'" << source << "' is not an IDX file: it " << describe_file_start(data, size));
  OODFLOW_CHECK(data[2] == kUnsignedByte,
                "'" << source << "' holds IDX element type 0x" << std::hex << int{data[2]}
                    << "; oodflow reads unsigned-byte (0x08) IDX files such as MNIST's");
  const std::size_t ndims = data[3];
  OODFLOW_CHECK(ndims >= 1 && ndims <= kMaxDims,
                "'" << source << "' claims " << ndims << " IDX dimensions (corrupt header)");
  const std::size_t header = 4 + 4 * ndims;
  OODFLOW_CHECK(size >= header, "'" << source << "' is truncated inside its IDX header");
  IdxView view;
  std::uint64_t nbytes = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    const std::uint32_t extent = big_endian_u32(data + 4 + 4 * d);
    OODFLOW_CHECK(!__builtin_mul_overflow(nbytes, std::uint64_t{extent}, &nbytes),
                  "'" << source << "' has an IDX shape too large (corrupt header)");
    view.shape.push_back(static_cast<std::int64_t>(extent));
  }
  const std::size_t body = size - header;
  OODFLOW_CHECK(nbytes <= body, "'" << source << "' is truncated: its IDX shape needs " << nbytes
                                    << " data bytes but the file has " << body);
  OODFLOW_CHECK(nbytes == body, "'" << source << "' has " << body - nbytes
                                    << " unexpected bytes after the IDX data (corrupt)");
  view.data = data + header;
  view.nbytes = static_cast<std::size_t>(nbytes);
  return view;
}

bool is_gzip(const std::uint8_t* data, std::size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

std::string gunzip(const std::uint8_t* data, std::size_t size, const std::string& source,
                   std::size_t max_bytes) {
  z_stream z{};
  // 16 + MAX_WBITS: a gzip wrapper, not zlib's own.
  OODFLOW_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, "zlib: cannot start inflating");
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&z, inflateEnd);
  std::string out;
  std::uint8_t buffer[1 << 16];
  std::size_t fed = 0;  // bytes of `data` handed to zlib so far
  for (;;) {
    if (z.avail_in == 0 && fed < size) {
      const std::size_t chunk = std::min<std::size_t>(size - fed, 1u << 30);
      z.next_in = const_cast<Bytef*>(data + fed);
      z.avail_in = static_cast<uInt>(chunk);
      fed += chunk;
    }
    z.next_out = buffer;
    z.avail_out = sizeof buffer;
    const int rc = inflate(&z, Z_NO_FLUSH);
    out.append(reinterpret_cast<const char*>(buffer), sizeof buffer - z.avail_out);
    OODFLOW_CHECK(out.size() <= max_bytes,
                  "'" << source << "' decompresses to more than " << max_bytes << " bytes");
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (gzip's rule: they decompress to the concatenation).
      const std::size_t next = fed - z.avail_in;
      if (next == size || !is_gzip(data + next, size - next)) break;
      OODFLOW_CHECK(inflateReset(&z) == Z_OK, "zlib: cannot reset");
      continue;
    }
    const bool input_left = z.avail_in > 0 || fed < size;
    OODFLOW_CHECK(rc == Z_OK || (rc == Z_BUF_ERROR && input_left),
                  "'" << source << "' is a " << (rc == Z_BUF_ERROR ? "truncated" : "corrupt")
                      << " gzip file"
                      << (z.msg != nullptr ? std::string(": ") + z.msg : std::string()));
  }
  return out;
}

std::string read_file_maybe_gzip(const std::string& path, std::size_t max_bytes) {
  const MappedFile file(path);
  check_kind_matches_name(path, file.data(), file.size());
  if (!is_gzip(file.data(), file.size())) {
    OODFLOW_CHECK(file.size() <= max_bytes,
                  "'" << path << "' is larger than " << max_bytes << " bytes");
    return std::string(reinterpret_cast<const char*>(file.data()), file.size());
  }
  return gunzip(file.data(), file.size(), path, max_bytes);
}

}  // namespace oodflow::io
