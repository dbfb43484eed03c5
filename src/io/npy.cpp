#include "oodflow/io/npy.h"

#include <cctype>
#include <cstring>

#include "oodflow/core/error.h"

namespace oodflow::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

struct NpyDescr {
  const char* text;
  DType dtype;
};
// Only little-endian (or byte-order-free) descriptors: the data is used in place.
constexpr NpyDescr kDescrs[] = {{"<f4", DType::F32}, {"<f8", DType::F64}, {"<f2", DType::F16},
                                {"<i8", DType::I64}, {"<i4", DType::I32}, {"|u1", DType::U8}};

// Extracts the value text after 'key': in the header dict, up to the matching delimiter.
std::string dict_value(const std::string& header, const std::string& key,
                       const std::string& source) {
  const std::string quoted = "'" + key + "'";
  auto pos = header.find(quoted);
  OODFLOW_CHECK(pos != std::string::npos,
                "'" << source << "' has a corrupt .npy header: no '" << key << "' entry");
  pos = header.find(':', pos + quoted.size());
  OODFLOW_CHECK(pos != std::string::npos, "'" << source << "' has a corrupt .npy header");
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  OODFLOW_CHECK(pos < header.size(), "'" << source << "' has a corrupt .npy header");
  if (header[pos] == '(') {
    const auto end = header.find(')', pos);
    OODFLOW_CHECK(end != std::string::npos, "'" << source << "' has a corrupt .npy shape");
    return header.substr(pos, end - pos + 1);
  }
  if (header[pos] == '\'') {
    const auto end = header.find('\'', pos + 1);
    OODFLOW_CHECK(end != std::string::npos, "'" << source << "' has a corrupt .npy header");
    return header.substr(pos + 1, end - pos - 1);
  }
  auto end = pos;
  while (end < header.size() && std::isalnum(static_cast<unsigned char>(header[end]))) ++end;
  return header.substr(pos, end - pos);
}

std::vector<std::int64_t> parse_shape(const std::string& text, const std::string& source) {
  std::vector<std::int64_t> shape;
  std::size_t i = 1;  // past '('
  while (i < text.size()) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      std::uint64_t value = 0;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        OODFLOW_CHECK(value < (1ull << 50), "'" << source << "' has an absurd .npy shape " << text);
        value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
        ++i;
      }
      shape.push_back(static_cast<std::int64_t>(value));
    } else if (c == ',' || c == ' ' || c == ')') {
      ++i;
    } else {
      OODFLOW_FAIL("'" << source << "' has a corrupt .npy shape " << text);
    }
  }
  return shape;
}

}  // namespace

bool is_npy(const void* data, std::size_t size) {
  return size >= kMagicSize && std::memcmp(data, kMagic, kMagicSize) == 0;
}

TensorView parse_npy(const std::uint8_t* data, std::size_t size, const std::string& source) {
  OODFLOW_CHECK(size >= 10 && std::memcmp(data, kMagic, kMagicSize) == 0,
                "'" << source << "' is not a .npy file (bad magic)");
  const int major = data[6];
  std::size_t header_len = 0;
  std::size_t prefix = 0;
  if (major == 1) {
    header_len = data[8] | (static_cast<std::size_t>(data[9]) << 8);
    prefix = 10;
  } else {
    OODFLOW_CHECK(major == 2 || major == 3,
                  "'" << source << "' has unsupported .npy version " << major);
    OODFLOW_CHECK(size >= 12, "'" << source << "' is truncated inside its .npy header");
    header_len = data[8] | (static_cast<std::size_t>(data[9]) << 8) |
                 (static_cast<std::size_t>(data[10]) << 16) |
                 (static_cast<std::size_t>(data[11]) << 24);
    prefix = 12;
  }
  OODFLOW_CHECK(header_len <= size - prefix, "'" << source << "' is truncated: .npy header of "
                                                 << header_len
                                                 << " bytes runs past the end of the file");
  const std::string header(reinterpret_cast<const char*>(data + prefix), header_len);

  TensorView view;
  const std::string descr = dict_value(header, "descr", source);
  bool known = false;
  for (const auto& d : kDescrs) {
    if (descr == d.text || (descr.size() == 3 && descr[0] == '=' &&
                            descr.substr(1) == std::string(d.text).substr(1))) {
      view.dtype = d.dtype;
      known = true;
    }
  }
  OODFLOW_CHECK(known, "'" << source << "' has .npy dtype '" << descr
                           << "'; oodflow reads little-endian float16/32/64 and int32/64");
  OODFLOW_CHECK(dict_value(header, "fortran_order", source) == "False",
                "'" << source << "' is in Fortran order; save it with np.ascontiguousarray");
  view.shape = parse_shape(dict_value(header, "shape", source), source);

  std::uint64_t nbytes = dtype_size(view.dtype);
  for (auto e : view.shape) {
    OODFLOW_CHECK(!__builtin_mul_overflow(nbytes, static_cast<std::uint64_t>(e), &nbytes),
                  "'" << source << "' has a .npy shape too large");
  }
  const std::size_t body = size - prefix - header_len;
  OODFLOW_CHECK(nbytes <= body, "'" << source << "' is truncated: its shape needs " << nbytes
                                    << " data bytes but the file has " << body);
  OODFLOW_CHECK(nbytes == body, "'" << source << "' has " << body - nbytes
                                    << " unexpected bytes after the .npy data (corrupt)");
  view.data = data + prefix + header_len;
  view.nbytes = static_cast<std::size_t>(nbytes);
  return view;
}

NpyFile::NpyFile(const std::string& path)
    : file_(std::make_shared<MappedFile>(path)),
      array_(parse_npy(file_->data(), file_->size(), path)) {}

std::string serialize_npy(DType dtype, const std::vector<std::int64_t>& shape, const void* data) {
  const char* descr = nullptr;
  for (const auto& d : kDescrs) {
    if (d.dtype == dtype) descr = d.text;
  }
  OODFLOW_CHECK(descr != nullptr, ".npy cannot store dtype " << dtype_name(dtype));
  std::string shape_text = "(";
  std::uint64_t numel = 1;
  for (auto e : shape) {
    shape_text += std::to_string(e) + ",";
    numel *= static_cast<std::uint64_t>(e);
  }
  if (shape.size() > 1) shape_text.pop_back();
  shape_text += ")";
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Pad so that magic + length + header + newline is a multiple of 64 bytes.
  const std::size_t total = kMagicSize + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<const char*>(data), numel * dtype_size(dtype));
  return out;
}

}  // namespace oodflow::io
