#include <gtest/gtest.h>

#include <cstring>

#include "oodflow/core/error.h"
#include "oodflow/io/npy.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

TensorView parse(const std::string& bytes) {
  return parse_npy(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "x.npy");
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
  const TensorView t = parse(bytes);
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
  const TensorView t64 = parse(f8);
  float out[2];
  convert_to_float(t64.dtype, t64.data, 2, out);
  EXPECT_EQ(out[0], 0.25f);
  EXPECT_EQ(out[1], -1.5f);
  const std::string f2 =
      npy_with_header("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                      std::string(reinterpret_cast<const char*>(h), 4), 2);
  const TensorView t16 = parse(f2);
  EXPECT_EQ(t16.shape, (std::vector<std::int64_t>{2}));
  convert_to_float(t16.dtype, t16.data, 2, out);
  EXPECT_EQ(out[1], -2.0f);
}

void expect_error(const std::string& bytes, const std::string& needle) {
  test::expect_error([&] { parse(bytes); }, {"x.npy", needle});
}

TEST(Npy, RejectsBadFiles) {
  const std::string four(16, '\0');
  expect_error("GIF89a....", "bad magic");
  expect_error(npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four),
               "little-endian");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four),
               "Fortran");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four),
               "truncated");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", four),
               "unexpected bytes");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False}", four), "shape");
  expect_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", four),
               "corrupt");
  const std::string good = serialize_npy(DType::F32, {4}, four.data());
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(parse(good.substr(0, n)), Error) << "truncated to " << n;
  }
}

}  // namespace
}  // namespace oodflow::io
