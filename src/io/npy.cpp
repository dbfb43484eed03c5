#include "oodflow/io/npy.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

#include "oodflow/core/error.h"
#include "py_literal.h"
#include "text.h"

namespace oodflow::io {
namespace {

using detail::PyValue;
using detail::quoted_text;
using Kind = PyValue::Kind;

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
// numpy 1.24 refuses longer headers unless allow_pickle (ast.literal_eval is not safe on them).
constexpr std::size_t kMaxHeaderChars = 10000;
constexpr std::size_t kMaxDims = 32;  // numpy's NPY_MAXDIMS

struct NpyDescr {
  const char* text;
  DType dtype;
};
// What serialize_npy writes.
constexpr NpyDescr kWriteDescrs[] = {{"<f4", DType::F32}, {"<f8", DType::F64}, {"<f2", DType::F16},
                                     {"<i8", DType::I64}, {"<i4", DType::I32}, {"|u1", DType::U8}};

// An element type as a header describes it: 'b' bool, 'i' signed, 'u' unsigned, 'f' float.
struct ElementType {
  char kind = 'f';
  int size = 4;
  bool big_endian = false;
};

struct TypeCode {
  const char* text;
  char kind;
  int size;
};
// numpy's one-character type codes and type names that are real numbers, with the C sizes of
// 64-bit Linux (long is 8 bytes); names take no byte-order character.
constexpr TypeCode kTypeCodes[] = {{"?", 'b', 1}, {"b", 'i', 1}, {"B", 'u', 1}, {"h", 'i', 2},
                                   {"H", 'u', 2}, {"i", 'i', 4}, {"I", 'u', 4}, {"l", 'i', 8},
                                   {"L", 'u', 8}, {"q", 'i', 8}, {"Q", 'u', 8}, {"p", 'i', 8},
                                   {"P", 'u', 8}, {"e", 'f', 2}, {"f", 'f', 4}, {"d", 'f', 8}};
constexpr TypeCode kTypeNames[] = {
    {"bool", 'b', 1},     {"bool8", 'b', 1},   {"bool_", 'b', 1},     {"byte", 'i', 1},
    {"int8", 'i', 1},     {"ubyte", 'u', 1},   {"uint8", 'u', 1},     {"short", 'i', 2},
    {"int16", 'i', 2},    {"ushort", 'u', 2},  {"uint16", 'u', 2},    {"intc", 'i', 4},
    {"int32", 'i', 4},    {"uintc", 'u', 4},   {"uint32", 'u', 4},    {"int", 'i', 8},
    {"int_", 'i', 8},     {"int0", 'i', 8},    {"intp", 'i', 8},      {"long", 'i', 8},
    {"longlong", 'i', 8}, {"int64", 'i', 8},   {"uint", 'u', 8},      {"uint0", 'u', 8},
    {"uintp", 'u', 8},    {"ulong", 'u', 8},   {"ulonglong", 'u', 8}, {"uint64", 'u', 8},
    {"half", 'f', 2},     {"float16", 'f', 2}, {"single", 'f', 4},    {"float32", 'f', 4},
    {"double", 'f', 8},   {"float", 'f', 8},   {"float_", 'f', 8},    {"float64", 'f', 8}};

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// What a descriptor numpy reads as something other than real numbers holds, or null when it is
// not one of those (numpy would not read it at all).
const char* non_real_kind(std::string_view t) {
  const auto one_of = [&](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), t) != names.end();
  };
  // A kind letter alone or with a size, as "S" or "S12".
  const auto sized = [&](std::string_view kinds) {
    return kinds.find(t[0]) != std::string_view::npos && (t.size() == 1 || all_digits(t.substr(1)));
  };
  // A date kind with an optional unit, as "M8" or "m8[ns]".
  const auto dated = [&](std::string_view name) {
    return t.substr(0, name.size()) == name &&
           (t.size() == name.size() || (t[name.size()] == '[' && t.back() == ']'));
  };
  if (one_of({"F", "D", "G", "c8", "c16", "c32", "complex", "complex_", "complex64", "complex128",
              "complex256", "cfloat", "cdouble", "clongdouble", "clongfloat", "csingle",
              "singlecomplex", "longcomplex"})) {
    return "complex numbers";
  }
  if (one_of({"g", "f16", "longdouble", "longfloat", "float128"})) return "long doubles";
  if (t == "c" || sized("SaU") ||
      one_of({"str", "str_", "bytes", "bytes_", "unicode", "unicode_", "string_"})) {
    return "strings";
  }
  if (sized("V") || one_of({"void", "void0"})) return "raw bytes (void)";
  if (dated("M8") || dated("m8") || dated("M") || dated("m") || dated("datetime64") ||
      dated("timedelta64")) {
    return "dates or time spans";
  }
  return nullptr;
}

[[noreturn]] void refuse_descr(const std::string& descr, const std::string& source) {
  const std::string_view t = std::string_view(descr).substr(
      descr.size() > 1 && std::string_view("<>=|").find(descr[0]) != std::string_view::npos);
  OODFLOW_CHECK(t.empty() || (t != "O" && t != "object" && t != "object_" && t != "O8"),
                "'" << source << "' holds Python objects (dtype " << quoted_text(descr)
                    << "): Object arrays cannot be loaded when allow_pickle=False");
  const char* what = t.empty() ? nullptr : non_real_kind(t);
  OODFLOW_CHECK(what == nullptr, "'" << source << "' holds dtype " << quoted_text(descr) << " ("
                                     << what << "); numpy loads it, but oodflow reads real "
                                     << "numbers only (bool, int, uint, float16/32/64)");
  OODFLOW_FAIL("'" << source << "' has a .npy header whose descr " << quoted_text(descr)
                   << " is not a valid dtype descriptor");
}

// A dtype string as numpy.dtype() reads it, for the real number types.
ElementType parse_descr_string(const std::string& descr, const std::string& source) {
  std::string_view t = descr;
  ElementType type;
  if (t.size() > 1 && std::string_view("<>=|").find(t[0]) != std::string_view::npos) {
    type.big_endian = t[0] == '>';
    t.remove_prefix(1);
    for (const TypeCode& code : kTypeNames) {
      if (t == code.text) refuse_descr(descr, source);  // numpy refuses "<float64"
    }
  } else {
    for (const TypeCode& code : kTypeNames) {
      if (t == code.text) return {code.kind, code.size, false};
    }
  }
  // A leading repeat count or a comma makes numpy read a record description ("1f8", "f8,").
  OODFLOW_CHECK(!(all_digits(t.substr(0, 1)) || t.substr(0, 2) == "()" ||
                  descr.find(',') != std::string::npos),
                "'" << source << "' has the dtype string " << quoted_text(descr)
                    << ", a repeat count or field list, which oodflow does not read; write the "
                    << "plain type such as '<f8'");
  for (const TypeCode& code : kTypeCodes) {
    if (t == code.text) return {code.kind, code.size, type.big_endian};
  }
  if (t.size() > 1 && std::string_view("biuf").find(t[0]) != std::string_view::npos &&
      all_digits(t.substr(1)) && t.size() < 8) {
    const int size = std::stoi(std::string(t.substr(1)));
    const bool ok = t[0] == 'b'   ? size == 1
                    : t[0] == 'f' ? size == 2 || size == 4 || size == 8
                                  : size == 1 || size == 2 || size == 4 || size == 8;
    if (ok) return {t[0], size, type.big_endian};
  }
  refuse_descr(descr, source);
}

// `descr` may also be (descr, 1) or (descr, ()): numpy reads those as descr itself.
ElementType parse_descr(const PyValue& descr, const std::string& source) {
  if (descr.kind == Kind::kStr) return parse_descr_string(descr.text, source);
  OODFLOW_CHECK(descr.kind != Kind::kList,
                "'" << source << "' holds a structured dtype " << detail::py_repr(descr)
                    << "; numpy loads it, but oodflow reads plain arrays of real numbers only");
  if (descr.kind == Kind::kTuple && descr.items.size() >= 2) {
    const PyValue& count = descr.items[1];
    const bool one = count.kind == Kind::kInt && !count.negative && count.magnitude == 1;
    const bool empty = count.kind == Kind::kTuple && count.items.empty();
    OODFLOW_CHECK(one || empty, "'" << source << "' holds a subarray dtype "
                                    << detail::py_repr(descr)
                                    << ", which oodflow does not read; save the full shape");
    return parse_descr(descr.items[0], source);
  }
  OODFLOW_FAIL("'" << source << "' has a .npy header whose descr " << detail::py_repr(descr)
                   << " is not a valid dtype descriptor");
}

std::vector<std::int64_t> parse_shape(const PyValue& value, const std::string& source) {
  bool ok = value.kind == Kind::kTuple;
  for (const PyValue& e : value.items) ok = ok && e.kind == Kind::kInt && !e.negative;
  // numpy takes a negative extent as "infer it from the data" (reading the whole file); no
  // writer produces one, and a shape is a size.
  OODFLOW_CHECK(ok, "'" << source << "' has a .npy header whose shape " << detail::py_repr(value)
                        << " is not valid (a tuple of non-negative integers)");
  OODFLOW_CHECK(value.items.size() <= kMaxDims, "'" << source << "' has a .npy shape of "
                                                    << value.items.size()
                                                    << " dimensions; numpy allows at most 32");
  std::vector<std::int64_t> shape;
  for (const PyValue& e : value.items) {
    OODFLOW_CHECK(!e.huge && e.magnitude <= static_cast<std::uint64_t>(INT64_MAX),
                  "'" << source << "' has a .npy shape with an extent beyond 2^63-1");
    shape.push_back(static_cast<std::int64_t>(e.magnitude));
  }
  return shape;
}

struct Header {
  ElementType type;
  bool fortran = false;
  std::vector<std::int64_t> shape;
};

// The header dict: exactly descr, fortran_order and shape (a repeated key keeps its last value,
// as in any Python dict literal).
Header parse_header_dict(const PyValue& dict, const std::string& source) {
  OODFLOW_CHECK(dict.kind == Kind::kDict, "'" << source << "' has a .npy header that is not a "
                                              << "dictionary but " << detail::py_repr(dict));
  std::map<std::string, const PyValue*> entries;
  bool only_str_keys = true;
  for (std::size_t i = 0; i < dict.items.size(); i += 2) {
    only_str_keys = only_str_keys && dict.items[i].kind == Kind::kStr;
    entries[dict.items[i].kind == Kind::kStr ? dict.items[i].text : ""] = &dict.items[i + 1];
  }
  std::string keys;
  for (const auto& [key, value] : entries) keys += (keys.empty() ? "" : ", ") + quoted_text(key);
  OODFLOW_CHECK(only_str_keys && entries.size() == 3 && entries.count("descr") &&
                    entries.count("fortran_order") && entries.count("shape"),
                "'" << source << "' has a .npy header with the keys [" << keys
                    << "]; it needs exactly 'descr', 'fortran_order' and 'shape'");
  Header h;
  const PyValue& fortran = *entries["fortran_order"];
  OODFLOW_CHECK(fortran.kind == Kind::kBool, "'" << source << "' has a .npy header whose "
                                                 << "fortran_order " << detail::py_repr(fortran)
                                                 << " is not True or False");
  h.fortran = fortran.truth;
  h.shape = parse_shape(*entries["shape"], source);
  h.type = parse_descr(*entries["descr"], source);
  return h;
}

// Magic, version and header length; returns the header text as UTF-8 and where the data starts.
std::string read_header_text(const std::uint8_t* data, std::size_t size, const std::string& source,
                             int* major, std::size_t* data_offset) {
  OODFLOW_CHECK(is_npy(data, size), "'" << source << "' is not a .npy file (bad magic)");
  OODFLOW_CHECK(size >= 8, "'" << source << "' is truncated before its .npy format version");
  *major = data[6];
  OODFLOW_CHECK((*major == 1 || *major == 2 || *major == 3) && data[7] == 0,
                "'" << source << "' has .npy format version " << *major << "." << int{data[7]}
                    << "; numpy reads only 1.0, 2.0 and 3.0");
  const std::size_t prefix = *major == 1 ? 10 : 12;
  OODFLOW_CHECK(size >= prefix, "'" << source << "' is truncated inside its .npy header length");
  std::size_t header_len = 0;
  for (std::size_t i = prefix; i-- > 8;) header_len = (header_len << 8) | data[i];
  OODFLOW_CHECK(header_len <= size - prefix, "'" << source << "' is truncated: .npy header of "
                                                 << header_len
                                                 << " bytes runs past the end of the file");
  *data_offset = prefix + header_len;
  const std::string_view raw(reinterpret_cast<const char*>(data + prefix), header_len);
  std::string text;
  std::size_t chars = header_len;
  if (*major == 3) {
    OODFLOW_CHECK(detail::is_utf8(raw, &chars),
                  "'" << source << "' has a .npy 3.0 header that is not UTF-8");
    text.assign(raw);
  } else {
    for (char c : raw) detail::append_utf8(static_cast<unsigned char>(c), &text);  // latin1
  }
  OODFLOW_CHECK(chars <= kMaxHeaderChars,
                "'" << source << "' has a .npy header of " << chars << " characters; numpy "
                    << "refuses more than " << kMaxHeaderChars << " without allow_pickle");
  return text;
}

DType stored_dtype(const ElementType& t) {
  switch (t.kind) {
    case 'b':
      return DType::U8;
    case 'f':
      return t.size == 2 ? DType::F16 : t.size == 4 ? DType::F32 : DType::F64;
    case 'i':
      return t.size == 4 ? DType::I32 : DType::I64;
    default:
      return t.size == 1 ? DType::U8 : DType::I64;
  }
}

// True when the file's bytes already are the stored array (a bool needs 0/1 bytes, so never).
bool usable_in_place(const ElementType& t, const Header& h) {
  const bool stored_as_is =
      t.kind == 'f' || (t.kind == 'i' && t.size >= 4) || (t.kind == 'u' && t.size == 1);
  if (!stored_as_is || (t.big_endian && t.size > 1)) return false;
  // Fortran and C order lay out the same bytes when at most one extent exceeds 1.
  int long_axes = 0;
  for (auto e : h.shape) long_axes += e > 1;
  return !h.fortran || long_axes <= 1;
}

// One element at `src` into the stored dtype at `dst`; `index` names it in errors.
void convert_element(const std::uint8_t* src, const ElementType& t, DType out, std::uint8_t* dst,
                     std::uint64_t index, const std::string& source) {
  std::uint64_t bits = 0;
  for (int k = 0; k < t.size; ++k) bits = (bits << 8) | src[t.big_endian ? k : t.size - 1 - k];
  if (t.kind == 'b') {
    bits = bits != 0;  // numpy reads any non-zero byte as True
  } else if (t.kind == 'i' && t.size < 8) {
    const std::uint64_t sign = std::uint64_t{1} << (8 * t.size - 1);
    bits = (bits ^ sign) - sign;  // sign-extend to 64 bits
  } else if (t.kind == 'u' && t.size == 8) {
    OODFLOW_CHECK(bits <= static_cast<std::uint64_t>(INT64_MAX),
                  "'" << source << "': the uint64 value " << bits << " at flat index " << index
                      << " does not fit the int64 oodflow reads integers as");
  }
  for (std::size_t k = 0; k < dtype_size(out); ++k)
    dst[k] = static_cast<std::uint8_t>(bits >> 8 * k);
}

// The data in C order, little-endian, in the stored dtype.
std::shared_ptr<const std::vector<std::uint8_t>> convert(const std::uint8_t* src, const Header& h,
                                                         std::uint64_t count,
                                                         const std::string& source) {
  const DType out = stored_dtype(h.type);
  const std::size_t out_size = dtype_size(out);
  auto buffer = std::make_shared<std::vector<std::uint8_t>>(count * out_size);
  // Element strides of the file's layout; the output is walked in C order.
  const std::size_t ndim = h.shape.size();
  std::vector<std::uint64_t> stride(ndim);
  std::uint64_t step = 1;
  for (std::size_t k = 0; k < ndim; ++k) {
    const std::size_t d = h.fortran ? k : ndim - 1 - k;
    stride[d] = step;
    step *= static_cast<std::uint64_t>(h.shape[d]);
  }
  std::vector<std::int64_t> index(ndim, 0);
  std::uint64_t from = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    convert_element(src + from * h.type.size, h.type, out, buffer->data() + i * out_size, from,
                    source);
    for (std::size_t d = ndim; d-- > 0;) {
      if (++index[d] < h.shape[d]) {
        from += stride[d];
        break;
      }
      from -= stride[d] * static_cast<std::uint64_t>(h.shape[d] - 1);
      index[d] = 0;
    }
  }
  return buffer;
}

}  // namespace

bool is_npy(const void* data, std::size_t size) {
  return size >= kMagicSize && std::memcmp(data, kMagic, kMagicSize) == 0;
}

NpyArray parse_npy(const std::uint8_t* data, std::size_t size, const std::string& source) {
  int major = 0;
  std::size_t offset = 0;
  const std::string text = read_header_text(data, size, source, &major, &offset);
  // numpy drops Python 2's `L` integer suffix from 1.0 and 2.0 headers only.
  const PyValue dict = detail::parse_py_literal(
      text, major <= 2, "'" + source + "' has a .npy header that is not a Python literal");
  const Header h = parse_header_dict(dict, source);

  // numpy's limit: the bytes of the array with every zero extent counted as 1 fit an int64.
  std::uint64_t count = 1;
  std::uint64_t bound = static_cast<std::uint64_t>(h.type.size);
  for (auto e : h.shape) {
    const auto extent = static_cast<std::uint64_t>(e);
    OODFLOW_CHECK(!__builtin_mul_overflow(bound, std::max<std::uint64_t>(extent, 1), &bound) &&
                      bound <= static_cast<std::uint64_t>(INT64_MAX),
                  "'" << source << "' has a .npy shape too large for any array");
    count *= extent;
  }
  const std::uint64_t nbytes = count * static_cast<std::uint64_t>(h.type.size);
  const std::size_t body = size - offset;
  OODFLOW_CHECK(nbytes <= body, "'" << source << "' is truncated: its .npy shape and dtype need "
                                    << nbytes << " data bytes but the file has " << body);
  NpyArray array;
  array.view.dtype = stored_dtype(h.type);
  array.view.shape = h.shape;
  array.view.nbytes = static_cast<std::size_t>(count * dtype_size(array.view.dtype));
  if (usable_in_place(h.type, h)) {
    array.view.data = data + offset;
  } else {
    array.converted = convert(data + offset, h, count, source);
    array.view.data = array.converted->data();
  }
  return array;
}

NpyFile::NpyFile(const std::string& path)
    : file_(std::make_shared<MappedFile>(path)),
      array_(parse_npy(file_->data(), file_->size(), path)) {}

std::string serialize_npy(DType dtype, const std::vector<std::int64_t>& shape, const void* data) {
  const char* descr = nullptr;
  for (const auto& d : kWriteDescrs) {
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
