// `extract` and `merge` in-process: against the same TorchScript model run by Python on the
// same images (committed fixture), skipped and strict bad images, sharding, and workers.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "oodflow/io/feature_file.h"
#include "oodflow/io/npy.h"
#include "oodflow/pipeline/extract_command.h"
#include "oodflow/pipeline/merge_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {
namespace fs = std::filesystem;

std::vector<float> all_rows(const io::FeatureFile& f) {
  std::vector<float> out(static_cast<std::size_t>(f.rows() * f.dim()));
  f.read_rows(0, f.rows(), out.data());
  return out;
}

std::vector<float> all_logits(const io::FeatureFile& f) {
  std::vector<float> out(static_cast<std::size_t>(f.rows() * f.logits_dim()));
  if (!out.empty()) f.read_logits(0, f.rows(), out.data());
  return out;
}

std::vector<float> npy_floats(const std::string& path) {
  const io::NpyFile f(path);
  std::vector<float> out(static_cast<std::size_t>(f.array().numel()));
  io::convert_to_float(f.array().dtype, f.array().data, out.size(), out.data());
  return out;
}

// Per-channel mean and max as features, their sums as two logits; NaN when asked to
// (an input pixel above 100 makes log(-1)).
std::string save_stats_module(const std::string& path) {
  torch::jit::Module m("Stats");
  m.register_parameter("w", torch::ones({1}), false);
  m.define(R"(
def forward(self, x):
    f = torch.cat([x.mean(dim=[2, 3]), x.amax(dim=[2, 3])], 1) * self.w
    bad = torch.log(torch.where(x.amax(dim=[1, 2, 3]) > 100.0, -1.0, 1.0))
    f = f + bad.unsqueeze(1)
    return {'features': f, 'logits': torch.stack([f.sum(1), -f.sum(1)], 1)}
)");
  m.save(path);
  return path;
}

// Eleven 5x6 PNG images in two classes with distinct content.
void write_images(const std::string& root, int count = 11) {
  for (int i = 0; i < count; ++i) {
    const std::string dir = root + (i % 3 == 0 ? "/b" : "/a");
    fs::create_directories(dir);
    cv::Mat m(5, 6, CV_8UC3);
    cv::RNG rng(static_cast<std::uint64_t>(i) + 1);
    rng.fill(m, cv::RNG::UNIFORM, 0, 256);
    ASSERT_TRUE(cv::imwrite(dir + "/img" + std::to_string(10 + i) + ".png", m));
  }
}

class Extract : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = save_stats_module(dir_.path("stats.pt"));
    write_images(dir_.path("images"));
  }
  ExtractOptions options(const std::string& out) const {
    ExtractOptions o;
    o.model = model_;
    o.data = dir_.path("images");
    o.out = dir_.path(out);
    o.batch_size = 4;
    return o;
  }
  std::string model_;
  test::TempDir dir_;
};

TEST(ExtractFixture, FeaturesEqualTheSameModelRunByPython) {
  const std::string base = test::data_path("extract/");
  test::TempDir dir;
  ExtractOptions o;
  o.model = base + "tiny_backbone.pt";
  o.data = base + "images";
  o.out = dir.path("features.safetensors");
  o.preprocessing.crop = 20;
  o.preprocessing.mean = {0.5, 0.4, 0.3};
  o.preprocessing.std = {0.25, 0.2, 0.3};
  o.batch_size = 3;  // several batches, one partial
  run_extract(o);

  const io::FeatureFile f = io::FeatureFile::open(o.out);
  const std::vector<float> expected = npy_floats(base + "expected_features.npy");
  const std::vector<float> expected_logits = npy_floats(base + "expected_logits.npy");
  ASSERT_EQ(f.rows() * f.dim(), static_cast<std::int64_t>(expected.size()));
  const std::vector<float> features = all_rows(f);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(features[i], expected[i], 1e-4) << "feature value " << i;
  }
  const std::vector<float> logits = all_logits(f);
  ASSERT_EQ(logits.size(), expected_logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) ASSERT_NEAR(logits[i], expected_logits[i], 1e-4);

  const io::NpyFile labels(base + "expected_labels.npy");
  std::vector<double> expected_labels(static_cast<std::size_t>(labels.array().numel()));
  io::convert_to_double(labels.array().dtype, labels.array().data, expected_labels.size(),
                        expected_labels.data());
  const auto got_labels = f.labels();
  ASSERT_EQ(got_labels.size(), expected_labels.size());
  for (std::size_t i = 0; i < got_labels.size(); ++i) EXPECT_EQ(got_labels[i], expected_labels[i]);

  std::ifstream names(base + "expected_sources.txt");
  const auto sources = f.sources();
  std::string line;
  for (std::size_t i = 0; std::getline(names, line); ++i) {
    ASSERT_LT(i, sources.size());
    EXPECT_EQ(sources[i], base + "images/" + line);
  }
  const auto backbone = nlohmann::json::parse(f.metadata().at("backbone"));
  EXPECT_EQ(backbone["output"], "dict");
  EXPECT_EQ(backbone["sha256"].get<std::string>().size(), 64u);
}

TEST_F(Extract, WritesFeaturesLogitsLabelsSourcesAndMetadata) {
  const extract::ExtractionSummary x = run_extract(options("f.safetensors"));
  EXPECT_EQ(x.rows, 11);
  const io::FeatureFile f = io::FeatureFile::open(dir_.path("f.safetensors"));
  ASSERT_EQ(f.rows(), 11);
  ASSERT_EQ(f.dim(), 6);
  ASSERT_EQ(f.logits_dim(), 2);
  // Row 0 is a/img11.png (class a = 0): its features are its channel means and maxima.
  const auto sources = f.sources();
  EXPECT_EQ(sources[0], dir_.path("images") + "/a/img11.png");
  const cv::Mat bgr = cv::imread(sources[0], cv::IMREAD_COLOR);
  const cv::Scalar mean = cv::mean(bgr);
  const std::vector<float> rows = all_rows(f);
  EXPECT_NEAR(rows[0], mean[2] / 255, 1e-6);  // R
  EXPECT_NEAR(rows[2], mean[0] / 255, 1e-6);  // B
  EXPECT_EQ(f.labels().front(), 0);
  EXPECT_EQ(f.labels().back(), 1);
  for (const char* key : {"backbone", "preprocessing", "source", "input_shape", "skipped"}) {
    EXPECT_TRUE(f.metadata().count(key)) << key;
  }
  EXPECT_EQ(nlohmann::json::parse(f.metadata().at("input_shape")), nlohmann::json({3, 5, 6}));
}

TEST_F(Extract, WorkersDoNotChangeTheFileAndItIsDeterministic) {
  ExtractOptions inline_decode = options("w0.safetensors");
  inline_decode.workers = 0;
  run_extract(inline_decode);
  ExtractOptions many = options("w3.safetensors");
  many.workers = 3;
  run_extract(many);
  EXPECT_EQ(test::read_bytes(dir_.path("w0.safetensors")),
            test::read_bytes(dir_.path("w3.safetensors")));
}

TEST_F(Extract, CorruptImagesAreSkippedAndListedOrStopStrictMode) {
  test::write_bytes(dir_.path("images/a/img99.png"), "corrupt");
  const extract::ExtractionSummary x = run_extract(options("f.safetensors"));
  EXPECT_EQ(x.rows, 11);
  ASSERT_EQ(x.skipped.size(), 1u);
  const io::FeatureFile f = io::FeatureFile::open(dir_.path("f.safetensors"));
  const auto skipped = nlohmann::json::parse(f.metadata().at("skipped"));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0]["source"], dir_.path("images/a/img99.png"));
  for (const auto& s : f.sources()) EXPECT_EQ(s.find("img99"), std::string::npos);

  ExtractOptions strict = options("strict.safetensors");
  strict.strict = true;
  test::expect_error([&] { run_extract(strict); }, {"img99.png", "--strict"});
  EXPECT_FALSE(test::file_exists(strict.out));
}

TEST_F(Extract, ShardsMergedEqualTheUnshardedExtractionRowForRow) {
  run_extract(options("all.safetensors"));
  std::vector<std::string> shards;
  for (int i = 2; i >= 0; --i) {  // given out of order on purpose
    ExtractOptions o = options("shard" + std::to_string(i) + ".safetensors");
    o.shard = std::to_string(i) + "/3";
    run_extract(o);
    shards.push_back(o.out);
  }
  // 11 images in batches of 4 make 3 batches, one per shard.
  EXPECT_EQ(io::FeatureFile::open(shards.back()).rows(), 4);
  EXPECT_EQ(io::FeatureFile::open(shards.front()).rows(), 3);
  test::expect_error(
      [&] {
        run_merge({{shards[0], shards[1]}, dir_.path("part.safetensors")});
      },
      {"missing shard(s) 0 of 3", "2 of the 3"});
  test::expect_error(
      [&] {
        run_merge({{shards[0], shards[1], shards[1]}, dir_.path("twice.safetensors")});
      },
      {"shard 1 is given twice"});
  // A shard of another split (another --batch-size) would overlap or leave gaps.
  ExtractOptions other = options("other1.safetensors");
  other.shard = "1/3";
  other.batch_size = 3;
  run_extract(other);
  test::expect_error(
      [&] {
        run_merge({{shards[0], other.out, shards[2]}, dir_.path("mixed.safetensors")});
      },
      {"other1.safetensors", "--batch-size 3", "--batch-size 4"});
  run_merge({shards, dir_.path("merged.safetensors")});
  const io::FeatureFile all = io::FeatureFile::open(dir_.path("all.safetensors"));
  const io::FeatureFile merged = io::FeatureFile::open(dir_.path("merged.safetensors"));
  EXPECT_EQ(all_rows(merged), all_rows(all));
  EXPECT_EQ(all_logits(merged), all_logits(all));
  EXPECT_EQ(merged.labels(), all.labels());
  EXPECT_EQ(merged.sources(), all.sources());
  EXPECT_EQ(merged.metadata(), all.metadata());
}

TEST_F(Extract, ShardsOfSeveralBatchesEachTileTheSource) {
  run_extract(options("all.safetensors"));  // 11 images, batch 2: 6 batches in 4 shards
  std::vector<std::string> shards;
  std::int64_t rows = 0;
  for (int i = 0; i < 4; ++i) {
    ExtractOptions o = options("s" + std::to_string(i) + ".safetensors");
    o.batch_size = 2;
    o.shard = std::to_string(i) + "/4";
    run_extract(o);
    rows += io::FeatureFile::open(o.out).rows();
    shards.push_back(o.out);
  }
  EXPECT_EQ(rows, 11);
  run_merge({shards, dir_.path("merged.safetensors")});
  const io::FeatureFile merged = io::FeatureFile::open(dir_.path("merged.safetensors"));
  const io::FeatureFile all = io::FeatureFile::open(dir_.path("all.safetensors"));
  EXPECT_EQ(all_rows(merged), all_rows(all));
  EXPECT_EQ(merged.sources(), all.sources());
}

// The IDX fixture (5 images of 4x3, pixel (i, r, c) = 50 i + 3 r + c) through the grey
// preset's one-channel path, with its labels file.
TEST_F(Extract, IdxAndNpySourcesThroughTheGreyPath) {
  const std::string idx = test::data_path("extract/idx/");
  ExtractOptions o = options("idx.safetensors");
  o.data = idx + "tiny-images-idx3-ubyte.gz";
  o.labels = idx + "tiny-labels-idx1-ubyte";
  o.preprocessing.channels = 1;
  o.preprocessing.mean = {0.5};
  o.preprocessing.std = {0.25};
  run_extract(o);
  const io::FeatureFile f = io::FeatureFile::open(o.out);
  ASSERT_EQ(f.rows(), 5);
  ASSERT_EQ(f.dim(), 2);  // one channel: mean and max
  EXPECT_EQ(f.labels(), (std::vector<std::int64_t>{3, 1, 4, 1, 5}));
  const std::vector<float> rows = all_rows(f);
  for (int i = 0; i < 5; ++i) {
    const double mean = 50.0 * i + 3 * 1.5 + 1;  // means of r in 0..3 and c in 0..2
    const double max = 50.0 * i + 9 + 2;
    EXPECT_NEAR(rows[2 * i], (mean / 255 - 0.5) / 0.25, 1e-5) << i;
    EXPECT_NEAR(rows[2 * i + 1], (max / 255 - 0.5) / 0.25, 1e-5) << i;
  }
  EXPECT_EQ(f.sources()[4], idx + "tiny-images-idx3-ubyte.gz#4");

  // The same pixels as a .npy [N, H, W] uint8 array give the same features.
  std::vector<std::uint8_t> pixels(5 * 4 * 3);
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 12; ++k)
      pixels[12 * i + k] = static_cast<std::uint8_t>(50 * i + 3 * (k / 3) + k % 3);
  }
  test::write_bytes(dir_.path("imgs.npy"),
                    io::serialize_npy(io::DType::U8, {5, 4, 3}, pixels.data()));
  ExtractOptions n = o;
  n.data = dir_.path("imgs.npy");
  n.out = dir_.path("npy.safetensors");
  run_extract(n);
  EXPECT_EQ(all_rows(io::FeatureFile::open(n.out)), rows);
}

TEST_F(Extract, TruncatedFilesAreSkippedNotGreyFilled) {
  cv::Mat photo(64, 64, CV_8UC3);
  cv::randu(photo, 0, 256);
  std::vector<std::uint8_t> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", photo, jpeg));
  test::write_bytes(dir_.path("images/a/cut.jpg"),
                    std::string(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2)));
  std::vector<std::uint8_t> png;
  ASSERT_TRUE(cv::imencode(".png", photo, png));
  // Cut inside the image data: PIL reads a PNG that lacks only its IEND chunk and checksums.
  test::write_bytes(dir_.path("images/a/cut.png"),
                    std::string(png.begin(), png.begin() + static_cast<long>(png.size() / 2)));
  const extract::ExtractionSummary x = run_extract(options("f.safetensors"));
  ASSERT_EQ(x.skipped.size(), 2u);
  EXPECT_NE(x.skipped[0].reason.find("truncated JPEG"), std::string::npos) << x.skipped[0].reason;
  EXPECT_NE(x.skipped[1].reason.find("truncated PNG"), std::string::npos) << x.skipped[1].reason;
}

TEST_F(Extract, NonFiniteFeaturesAndBadOptionsAreErrors) {
  // Pixel values above 100 (after normalisation) make the module return NaN.
  ExtractOptions nan = options("nan.safetensors");
  nan.preprocessing.std = {0.001};
  test::expect_error([&] { run_extract(nan); }, {"stats.pt", "non-finite feature", ".png"});
  EXPECT_FALSE(test::file_exists(nan.out));

  ExtractOptions bad = options("x.safetensors");
  bad.shard = "3/3";
  test::expect_error([&] { run_extract(bad); }, {"--shard", "0 <= I < N"});
  bad = options("x.safetensors");
  bad.batch_size = 0;
  test::expect_error([&] { run_extract(bad); }, {"--batch-size"});
  bad = options("x.safetensors");
  bad.labels = dir_.path("labels.npy");
  test::expect_error([&] { run_extract(bad); }, {"--labels", "class folders"});

  // Images of different sizes without a crop cannot form a batch.
  cv::Mat big(9, 9, CV_8UC3, cv::Scalar::all(5));
  ASSERT_TRUE(cv::imwrite(dir_.path("images/b/img99.png"), big));
  test::expect_error([&] { run_extract(options("sizes.safetensors")); },
                     {"img99.png", "9x9", "--crop"});
}

TEST_F(Extract, MergeOfPlainFilesConcatenatesAndChecksDimensions) {
  std::vector<float> a = {1, 2, 3, 4};
  std::vector<float> b = {5, 6};
  test::write_features(dir_.path("a.safetensors"), a, 2, 2);
  test::write_features(dir_.path("b.safetensors"), b, 1, 2);
  test::write_features(dir_.path("c.safetensors"), a, 1, 4);
  EXPECT_EQ(run_merge({{dir_.path("a.safetensors"), dir_.path("b.safetensors")},
                       dir_.path("ab.safetensors")}),
            3);
  EXPECT_EQ(all_rows(io::FeatureFile::open(dir_.path("ab.safetensors"))),
            (std::vector<float>{1, 2, 3, 4, 5, 6}));
  test::expect_error(
      [&] {
        run_merge({{dir_.path("a.safetensors"), dir_.path("c.safetensors")},
                   dir_.path("ac.safetensors")});
      },
      {"c.safetensors", "dimension 4"});
}

}  // namespace
}  // namespace oodflow::pipeline
