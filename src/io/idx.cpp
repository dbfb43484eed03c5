#include "oodflow/io/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "oodflow/core/error.h"
#include "oodflow/io/mapped_file.h"

namespace oodflow::io {
namespace {

constexpr std::uint8_t kUnsignedByte = 0x08;
constexpr std::size_t kMaxDims = 8;

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

}  // namespace

IdxView parse_idx(const std::uint8_t* data, std::size_t size, const std::string& source) {
  OODFLOW_CHECK(size >= 4 && data[0] == 0 && data[1] == 0,
                "'" << source << "' is not an IDX file (bad magic)");
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

std::string read_file_maybe_gzip(const std::string& path, std::size_t max_bytes) {
  const MappedFile file(path);
  if (!is_gzip(file.data(), file.size())) {
    OODFLOW_CHECK(file.size() <= max_bytes,
                  "'" << path << "' is larger than " << max_bytes << " bytes");
    return std::string(reinterpret_cast<const char*>(file.data()), file.size());
  }
  std::unique_ptr<gzFile_s, GzCloser> gz(gzopen(path.c_str(), "rb"));
  OODFLOW_CHECK(gz != nullptr, "cannot open '" << path << "': " << std::strerror(errno));
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const int n = gzread(gz.get(), buffer, sizeof buffer);
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(gz.get(), &code);
      OODFLOW_FAIL("'" << path << "' is a corrupt gzip file: " << message);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
    OODFLOW_CHECK(out.size() <= max_bytes,
                  "'" << path << "' decompresses to more than " << max_bytes << " bytes");
  }
  // gzread stops quietly at a truncated stream; gzeof/gzerror tell a clean end from a cut one.
  int code = 0;
  gzerror(gz.get(), &code);
  OODFLOW_CHECK(code == Z_OK || code == Z_STREAM_END,
                "'" << path << "' is a truncated or corrupt gzip file");
  return out;
}

}  // namespace oodflow::io
