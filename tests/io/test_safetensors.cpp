#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/io/safetensors.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

std::string make_header_file(const std::string& header_json, const std::string& body) {
  std::string out(8, '\0');
  const std::uint64_t n = header_json.size();
  std::memcpy(out.data(), &n, 8);
  return out + header_json + body;
}

SafetensorsView parse(const std::string& bytes) {
  return parse_safetensors(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                           "x.safetensors");
}

TEST(Safetensors, RoundTripsTensorsAndMetadata) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> b = {7, -8};
  const std::string bytes = serialize_safetensors(
      {{"b", DType::I64, {2}, b.data()}, {"a", DType::F32, {2, 3}, a.data()}}, {{"k", "v"}});
  // The header is padded so that the data starts 8-byte aligned.
  std::uint64_t header_size;
  std::memcpy(&header_size, bytes.data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
  const SafetensorsView view = parse(bytes);
  ASSERT_EQ(view.tensors.size(), 2u);
  EXPECT_EQ(view.metadata.at("k"), "v");
  const TensorView& ta = view.tensors.at("a");
  EXPECT_EQ(ta.shape, (std::vector<std::int64_t>{2, 3}));
  std::vector<float> back(6);
  convert_to_float(ta.dtype, ta.data, 6, back.data());
  EXPECT_EQ(back, a);
  std::int64_t b1;
  std::memcpy(&b1, view.tensors.at("b").data + 8, 8);
  EXPECT_EQ(b1, -8);
}

TEST(Safetensors, ReadsHalfAndBfloat16) {
  // 1.0, -2.0, 0.5 and a subnormal (2^-24) in IEEE half; 1.0 and -3.0 in bfloat16.
  const std::uint16_t half[] = {0x3c00, 0xc000, 0x3800, 0x0001};
  const std::uint16_t bf16[] = {0x3f80, 0xc040};
  const std::string bytes =
      serialize_safetensors({{"h", DType::F16, {4}, half}, {"b", DType::BF16, {2}, bf16}}, {});
  const SafetensorsView view = parse(bytes);
  float h[4];
  float b[2];
  convert_to_float(DType::F16, view.tensors.at("h").data, 4, h);
  convert_to_float(DType::BF16, view.tensors.at("b").data, 2, b);
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 0.5f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -3.0f);
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
}

void expect_error_containing(const std::string& bytes, const std::string& needle) {
  test::expect_error([&] { parse(bytes); }, {"x.safetensors", needle});
}

TEST(Safetensors, RejectsCorruptHeaders) {
  expect_error_containing("abc", "only 3 bytes");
  expect_error_containing(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}",
                          "header length");
  expect_error_containing(make_header_file("{not json", ""), "not a JSON object");
  expect_error_containing(make_header_file("[1,2]", ""), "must begin with '{'");
  expect_error_containing(make_header_file(R"({"t":{"dtype":"F32","shape":[2]}})", ""),
                          "lacks dtype");
  expect_error_containing(
      make_header_file(R"({"t":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", "abcd"),
      "unsupported dtype");
  expect_error_containing(
      make_header_file(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"),
      "invalid shape");
  expect_error_containing(
      make_header_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd"),
      "truncated");
  expect_error_containing(
      make_header_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd"),
      "needs 8");
  expect_error_containing(
      make_header_file(
          R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})",
          "abcd"),
      "too large");
  // A zero extent makes the product 0: a huge one beside it must still be refused.
  expect_error_containing(
      make_header_file(
          R"({"t":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", ""),
      "too large");
  expect_error_containing(make_header_file(R"({"__metadata__":{"k":1}})", ""), "not a string");
}

// The reference implementation sorts the tensors by data_offsets and requires each range to
// start where the previous one ended, the first at 0 and the last at the end of the data: every
// data byte belongs to exactly one tensor (no aliasing tensors, no hidden bytes).
TEST(Safetensors, DataRangesTileTheBufferExactlyOnce) {
  const std::string f4x4(16, '\x01');
  // `logits` declares the very bytes of `features`.
  expect_error_containing(
      make_header_file(R"({"features":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                       R"("logits":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                       f4x4),
      "tensor 'logits'");
  // Half overlap.
  expect_error_containing(
      make_header_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                       std::string(24, '\0')),
      "tensor 'b'");
  // 64 bytes no tensor owns between `a` and `b`.
  expect_error_containing(
      make_header_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"F32","shape":[4],"data_offsets":[80,96]}})",
                       std::string(96, '\0')),
      "tensor 'b'");
  // Unowned bytes before the first tensor and after the last one.
  expect_error_containing(
      make_header_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                       std::string(24, '\0')),
      "tensor 'a'");
  expect_error_containing(
      make_header_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                       std::string(24, '\0')),
      "8 bytes");
  expect_error_containing(make_header_file("{}", "x"), "1 bytes");

  // Header order is free; zero-size tensors own no bytes and may sit anywhere in the tiling.
  const SafetensorsView view =
      parse(make_header_file(R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                             R"("none":{"dtype":"F64","shape":[0,3],"data_offsets":[8,8]},)"
                             R"("a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
                             R"("last":{"dtype":"U8","shape":[0],"data_offsets":[16,16]}})",
                             std::string(16, '\0')));
  EXPECT_EQ(view.tensors.size(), 4u);
  EXPECT_EQ(view.tensors.at("none").nbytes, 0u);
  // What our writer produces (name order, zero-size tensors included) passes.
  const std::vector<float> v = {1, 2};
  EXPECT_NO_THROW(parse(serialize_safetensors(
      {{"z", DType::F32, {0, 4}, v.data()}, {"a", DType::F32, {2}, v.data()}}, {{"k", "v"}})));
}

TEST(Safetensors, HeaderFollowsTheReferenceRules) {
  const std::string ok = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_NO_THROW(parse(make_header_file(ok, "abcd")));
  // The documented format: the header starts with '{' (and only trailing spaces pad it).
  expect_error_containing(make_header_file(" " + ok, "abcd"), "'{'");
  expect_error_containing(make_header_file("\xef\xbb\xbf" + ok, "abcd"), "'{'");
  // A UTF-8 string, JSON, without duplicate keys (which a JSON parser would resolve silently).
  expect_error_containing(make_header_file("{\"t\xff\":1}", ""), "UTF-8");
  expect_error_containing(
      make_header_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                       "abcd"),
      "duplicate key 't'");
  expect_error_containing(
      make_header_file(R"({"t":{"dtype":"F64","dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                       "abcd"),
      "duplicate key 'dtype'");
  // The reference caps the header at 100,000,000 bytes before reading it.
  std::string huge(8, '\0');
  const std::uint64_t n = 100000001;
  std::memcpy(huge.data(), &n, 8);
  expect_error_containing(huge + "{}", "100000000");
  // __metadata__ maps strings to strings (null means none); names outside the format are
  // named as such.
  EXPECT_TRUE(parse(make_header_file(R"({"__metadata__":null})", "")).metadata.empty());
  expect_error_containing(make_header_file(R"({"__metadata__":{"k":["v"]}})", ""), "not a string");
  expect_error_containing(
      make_header_file(R"({"t":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}})", "abcd"), "I8");
  // Tensor names are echoed on one line, whatever they hold.
  expect_error_containing(
      make_header_file(R"({"a\nb":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})",
                       std::string(8, '\0')),
      "a\\nb");
}

TEST(Safetensors, EveryTruncationIsACleanError) {
  const std::vector<float> a(10, 1.5f);
  const std::string bytes = serialize_safetensors({{"features", DType::F32, {2, 5}, a.data()}},
                                                  {{"format", "oodflow.features"}});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(parse(bytes.substr(0, n)), Error) << "truncated to " << n;
  }
  EXPECT_NO_THROW(parse(bytes));
}

}  // namespace
}  // namespace oodflow::io
