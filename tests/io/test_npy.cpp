#include <gtest/gtest.h>

#include <cstring>

#include "oodflow/core/error.h"
#include "oodflow/io/npy.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

NpyArray parse_bytes(const std::string& bytes) {
  return parse_npy(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "x.npy");
}

// The array of a .npy file, read as oodflow reads files (memory-mapped).
struct Loaded {
  DType dtype;
  std::vector<std::int64_t> shape;
  std::vector<double> values;
};
Loaded load(const std::string& bytes) {
  test::TempDir dir;
  test::write_bytes(dir.path("x.npy"), bytes);
  const NpyFile file(dir.path("x.npy"));
  const TensorView& t = file.array();
  Loaded out{t.dtype, t.shape, std::vector<double>(static_cast<std::size_t>(t.numel()))};
  convert_to_double(t.dtype, t.data, out.values.size(), out.values.data());
  return out;
}

std::string bytes_of(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// A .npy file with a hand-written header, as NumPy writes them.
std::string npy_with_header(const std::string& dict, const std::string& body, int version = 1) {
  std::string header = dict;
  const std::size_t prefix = version == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(version));
  out.push_back('\0');
  const std::uint32_t n = static_cast<std::uint32_t>(header.size());
  out.append(reinterpret_cast<const char*>(&n), version == 1 ? 2 : 4);
  return out + header + body;
}

TEST(Npy, RoundTripsFloat32) {
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  const std::string bytes = serialize_npy(DType::F32, {3, 2}, v.data());  // the view's buffer
  const NpyArray parsed = parse_bytes(bytes);
  const TensorView& t = parsed.view;
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.shape, (std::vector<std::int64_t>{3, 2}));
  std::vector<float> back(6);
  convert_to_float(t.dtype, t.data, 6, back.data());
  EXPECT_EQ(back, v);
}

TEST(Npy, ReadsNumpyWrittenHeadersOfAllFloatTypesAndVersions) {
  const double d[] = {0.25, -1.5};
  const std::uint16_t h[] = {0x3c00, 0xc000};
  const std::string f8 =
      npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                      std::string(reinterpret_cast<const char*>(d), 16));
  const TensorView t64 = parse_bytes(f8).view;
  float out[2];
  convert_to_float(t64.dtype, t64.data, 2, out);
  EXPECT_EQ(out[0], 0.25f);
  EXPECT_EQ(out[1], -1.5f);
  const std::string f2 =
      npy_with_header("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                      std::string(reinterpret_cast<const char*>(h), 4), 2);
  const TensorView t16 = parse_bytes(f2).view;
  EXPECT_EQ(t16.shape, (std::vector<std::int64_t>{2}));
  convert_to_float(t16.dtype, t16.data, 2, out);
  EXPECT_EQ(out[1], -2.0f);
}

void expect_error(const std::string& bytes, const std::string& needle) {
  test::expect_error([&] { parse_bytes(bytes); }, {"x.npy", needle});
}

TEST(Npy, RejectsBadFiles) {
  const std::string four(16, '\0');
  expect_error("GIF89a....", "bad magic");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four),
               "truncated");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False}", four), "shape");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", four),
               "not a Python literal");
  const std::string good = serialize_npy(DType::F32, {4}, four.data());
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(parse_bytes(good.substr(0, n)), Error) << "truncated to " << n;
  }
}

// What numpy.load(f, allow_pickle=False) of numpy 1.24 does with each header (its
// lib/format.py: ast.literal_eval of the dict, Python 2's `L` dropped for versions 1.0 and 2.0
// only, exactly three keys, at most 10000 characters, versions 1.0, 2.0 and 3.0 only).
TEST(Npy, ReadsHeadersAsNumpyEvaluatesThem) {
  const std::string f4 = bytes_of(
      {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40});  // 1, 2, 3, 4
  const std::vector<double> v = {1, 2, 3, 4};
  for (const auto& [header, version] : std::vector<std::pair<std::string, int>>{
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (4L,), }", 1},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }", 2},
           {"{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"<f4\"}", 1},
           {"{ 'descr' :'<f4' ,'fortran_order':False,'shape':( 4 , ) , }", 3},
           {"{'descr': '<f4', # a comment\n 'fortran_order': False, 'shape': (2, 2)}", 1},
           {"{'descr': u'<' 'f4', 'fortran_order': False, 'shape': (0x4,)}", 3},
           {"{'shape': '\xc3\xa9', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", 3}}) {
    SCOPED_TRACE(header);
    const Loaded a = load(npy_with_header(header, f4, version));
    EXPECT_EQ(a.values, v);
    EXPECT_EQ(a.dtype, DType::F32);
  }
  EXPECT_EQ(load(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L)}", f4))
                .shape,
            (std::vector<std::int64_t>{2, 2}));
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4L,)}", f4, 3),
               "not a Python literal");
  std::string minor =
      npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4);
  minor[7] = 1;
  expect_error(minor, "version 1.1");
  const std::string padded =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}" + std::string(10000, ' ');
  expect_error(npy_with_header(padded, f4, 2), "characters");
  expect_error(
      npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", f4),
      "exactly 'descr', 'fortran_order' and 'shape'");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}", f4),
               "fortran_order");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': [4]}", f4),
               "shape [4] is not valid");
}

TEST(Npy, ConvertsByteOrdersIntegerWidthsBoolAndFortranOrder) {
  const auto header = [](const std::string& descr, const std::string& shape, bool fortran = false) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
           ", 'shape': " + shape + ", }";
  };
  // 1.5 and -2 as big-endian doubles; -2 and 7 as big-endian int32; 1 and -2 as big-endian half.
  Loaded a = load(npy_with_header(
      header(">f8", "(2,)"), bytes_of({0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_EQ(a.dtype, DType::F64);
  EXPECT_EQ(a.values, (std::vector<double>{1.5, -2}));
  a = load(npy_with_header(header(">i4", "(2,)"), bytes_of({0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 7})));
  EXPECT_EQ(a.dtype, DType::I32);
  EXPECT_EQ(a.values, (std::vector<double>{-2, 7}));
  a = load(npy_with_header(header(">f2", "(2,)"), bytes_of({0x3c, 0, 0xc0, 0})));
  EXPECT_EQ(a.dtype, DType::F16);
  EXPECT_EQ(a.values, (std::vector<double>{1, -2}));
  // Widths oodflow has no dtype for become int64; bool becomes 0/1 bytes (numpy reads any
  // non-zero byte as True).
  a = load(npy_with_header(header("|i1", "(3,)"), bytes_of({0xff, 0x80, 0x7f})));
  EXPECT_EQ(a.dtype, DType::I64);
  EXPECT_EQ(a.values, (std::vector<double>{-1, -128, 127}));
  a = load(npy_with_header(header("<u2", "(2,)"), bytes_of({0xff, 0xff, 0x34, 0x12})));
  EXPECT_EQ(a.values, (std::vector<double>{65535, 0x1234}));
  a = load(npy_with_header(header(">u4", "(1,)"), bytes_of({0xff, 0xff, 0xff, 0xff})));
  EXPECT_EQ(a.values, (std::vector<double>{4294967295.0}));
  a = load(npy_with_header(header("|b1", "(4,)"), bytes_of({0, 2, 0xff, 1})));
  EXPECT_EQ(a.dtype, DType::U8);
  EXPECT_EQ(a.values, (std::vector<double>{0, 1, 1, 1}));
  const std::string u8 = bytes_of({5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80});
  expect_error(npy_with_header(header("<u8", "(2,)"), u8), "index 1");
  a = load(npy_with_header(header("<u8", "(1,)"), u8.substr(0, 8)));
  EXPECT_EQ(a.values, (std::vector<double>{5}));
  // Fortran order: [[1, 2, 3], [4, 5, 6]] is stored column by column; oodflow hands out C order.
  const std::vector<float> columns = {1, 4, 2, 5, 3, 6};
  a = load(npy_with_header(header("<f4", "(2, 3)", true),
                           std::string(reinterpret_cast<const char*>(columns.data()), 24)));
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  // A 3-D one: element (i, j, k) of shape (2, 2, 2) sits at i + 2j + 4k.
  const std::vector<float> f3 = {0, 100, 10, 110, 1, 101, 11, 111};
  a = load(npy_with_header(header("<f4", "(2, 2, 2)", true),
                           std::string(reinterpret_cast<const char*>(f3.data()), 32)));
  EXPECT_EQ(a.values, (std::vector<double>{0, 1, 10, 11, 100, 101, 110, 111}));
}

TEST(Npy, LayoutsUsableInPlaceStayViewsOfTheFile) {
  test::TempDir dir;
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  test::write_bytes(dir.path("c.npy"), serialize_npy(DType::F32, {3, 2}, v.data()));
  const NpyFile c(dir.path("c.npy"));
  EXPECT_EQ(c.array().data + c.array().nbytes, c.file().data() + c.file().size());
  // Fortran order of a single column is C order too.
  test::write_bytes(dir.path("f.npy"),
                    npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (6, 1)}",
                                    std::string(reinterpret_cast<const char*>(v.data()), 24)));
  const NpyFile f(dir.path("f.npy"));
  EXPECT_EQ(f.array().data + f.array().nbytes, f.file().data() + f.file().size());
}

TEST(Npy, IgnoresBytesAfterTheDataAsNumpyDoes) {
  const std::string f4 = bytes_of({0, 0, 0x80, 0x3f});
  const Loaded a =
      load(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", f4 + "junk"));
  EXPECT_EQ(a.values, (std::vector<double>{1}));
}

// numpy loads these, but they are not arrays of real numbers: refused, naming what they hold.
TEST(Npy, RefusesWhatIsNotRealNumbersNamingIt) {
  const auto file = [](const std::string& descr) {
    return npy_with_header("{'descr': " + descr + ", 'fortran_order': False, 'shape': (1,)}",
                           std::string(32, '\0'));
  };
  expect_error(file("'|O'"), "Object arrays cannot be loaded when allow_pickle=False");
  expect_error(file("'<c16'"), "complex");
  expect_error(file("'<U2'"), "strings");
  expect_error(file("'<M8[s]'"), "dates");
  expect_error(file("'<f16'"), "long double");
  expect_error(file("[('a', '<f4'), ('b', '<i4')]"), "structured");
  expect_error(file("('<f4', (2,))"), "subarray");
  expect_error(file("'<q7'"), "not a valid dtype descriptor");
  std::string dims33;
  for (int i = 0; i < 33; ++i) dims33 += "1, ";
  expect_error(
      npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims33 + ")}",
                      std::string(4, '\0')),
      "at most 32");
}

}  // namespace
}  // namespace oodflow::io
