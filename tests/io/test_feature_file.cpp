#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/npy.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

TEST(FeatureFile, SafetensorsRoundTripWithLabelsLogitsAndSources) {
  test::TempDir dir;
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> y = {0, 3};
  const std::vector<float> logits = {0.1f, 0.9f, 0.7f, 0.3f};
  FeatureFileContents c;
  c.rows = 2;
  c.dim = 3;
  c.features = x.data();
  c.labels = y.data();
  c.logits = logits.data();
  c.classes = 2;
  c.sources = {"a/b.png", "c,d.png"};
  c.metadata = {{"backbone", "resnet.pt"}};
  write_feature_file(dir.path("f.safetensors"), c);

  const FeatureFile f = FeatureFile::open(dir.path("f.safetensors"));
  EXPECT_EQ(f.rows(), 2);
  EXPECT_EQ(f.dim(), 3);
  EXPECT_EQ(f.labels(), y);
  EXPECT_TRUE(f.has_logits());
  EXPECT_EQ(f.sources(), c.sources);
  EXPECT_EQ(f.metadata().at("backbone"), "resnet.pt");
  EXPECT_EQ(f.metadata().at("format"), kFeatureFormat);
  EXPECT_EQ(f.metadata().at("count"), "2");
  std::vector<float> rows(6);
  f.read_rows(0, 2, rows.data());
  EXPECT_EQ(rows, x);
  const std::int64_t index[] = {1, 0};
  f.gather_rows(index, 2, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(f.sha256().size(), 64u);
}

TEST(FeatureFile, ReadsNpyMatrices) {
  test::TempDir dir;
  const std::vector<double> x = {1, 2, 3, 4};
  test::write_bytes(dir.path("f.npy"), serialize_npy(DType::F64, {2, 2}, x.data()));
  const FeatureFile f = FeatureFile::open(dir.path("f.npy"));
  EXPECT_EQ(f.rows(), 2);
  EXPECT_FALSE(f.has_labels());
  EXPECT_TRUE(f.sources().empty());
  std::vector<float> rows(4);
  f.read_rows(1, 1, rows.data());
  EXPECT_EQ(rows[0], 3.0f);
  EXPECT_EQ(rows[1], 4.0f);
}

// numpy.save of np.asfortranarray(x.astype('>f4')) for x = [[1, 2, 3], [4, 5, 6]]: the
// features are converted once and owned by the FeatureFile (and its copies).
TEST(FeatureFile, ReadsBigEndianFortranOrderNpyMatrices) {
  test::TempDir dir;
  std::string header = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes =
      std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  for (float v : {1.0f, 4.0f, 2.0f, 5.0f, 3.0f, 6.0f}) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int k = 3; k >= 0; --k) bytes.push_back(static_cast<char>(bits >> (8 * k)));
  }
  test::write_bytes(dir.path("f.npy"), bytes);
  std::optional<FeatureFile> copy;
  {
    const FeatureFile f = FeatureFile::open(dir.path("f.npy"));
    EXPECT_EQ(f.rows(), 2);
    EXPECT_EQ(f.dim(), 3);
    copy = f;
  }
  std::vector<float> rows(6);
  copy->read_rows(0, 2, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

void expect_open_error(const std::string& path, const std::string& needle) {
  test::expect_error([&] { FeatureFile::open(path); }, {path, needle});
}

TEST(FeatureFile, ClearErrorsForUnusableFiles) {
  test::TempDir dir;
  expect_open_error(dir.path("missing.npy"), "No such file");
  test::write_bytes(dir.path("empty.npy"), "");
  expect_open_error(dir.path("empty.npy"), "is empty");
  const std::vector<float> v(4, 1.0f);
  test::write_bytes(dir.path("vector.npy"), serialize_npy(DType::F32, {4}, v.data()));
  expect_open_error(dir.path("vector.npy"), "2-D");
  test::write_bytes(dir.path("norows.npy"), serialize_npy(DType::F32, {0, 4}, v.data()));
  expect_open_error(dir.path("norows.npy"), "no samples");
  const std::vector<std::int64_t> ints(4, 1);
  test::write_bytes(dir.path("ints.npy"), serialize_npy(DType::I64, {2, 2}, ints.data()));
  EXPECT_EQ(FeatureFile::open(dir.path("ints.npy")).dim(), 2);  // integers are read as floats
  write_safetensors(dir.path("nofeat.safetensors"), {{"other", DType::F32, {2, 2}, v.data()}}, {});
  expect_open_error(dir.path("nofeat.safetensors"), "no 'features' tensor");
  write_safetensors(
      dir.path("badlabels.safetensors"),
      {{"features", DType::F32, {2, 2}, v.data()}, {"labels", DType::I64, {3}, ints.data()}}, {});
  expect_open_error(dir.path("badlabels.safetensors"), "labels");
}

}  // namespace
}  // namespace oodflow::io
