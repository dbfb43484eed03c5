// Every kind of image source, written here with known pixels and labels, plus the
// Fashion-MNIST files of Debian's dataset-fashion-mnist package.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "oodflow/extract/image_source.h"
#include "oodflow/io/npy.h"
#include "test_util.h"

namespace oodflow::extract {
namespace {
namespace fs = std::filesystem;

// A grey PNG whose every pixel is `value`, so a loaded image tells which file it was.
void write_png(const std::string& path, int value, int channels = 1) {
  fs::create_directories(fs::path(path).parent_path());
  const cv::Mat m(3, 4, CV_8UC(channels), cv::Scalar::all(value));
  ASSERT_TRUE(cv::imwrite(path, m)) << path;
}

int first_pixel(const cv::Mat& m) {
  return m.ptr<std::uint8_t>(0)[0];
}

std::string idx_bytes(const std::vector<std::uint32_t>& shape,
                      const std::vector<std::uint8_t>& data, std::uint8_t type = 0x08) {
  std::string out = {'\0', '\0', static_cast<char>(type), static_cast<char>(shape.size())};
  for (std::uint32_t e : shape) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((e >> shift) & 0xff));
  }
  return out + std::string(data.begin(), data.end());
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(ImageSource, FolderFollowsImageFolderOrderAndLabels) {
  test::TempDir dir;
  const std::string root = dir.path("set");
  write_png(root + "/dog/b.png", 3);
  write_png(root + "/dog/a.png", 2);
  write_png(root + "/dog/nested/a.png", 4);  // walked after dog/'s own files
  write_png(root + "/cat/z.PNG", 1);         // extensions match case-insensitively
  write_png(root + "/cat/x.bmp", 0);
  test::write_bytes(root + "/cat/notes.txt", "not an image");
  test::write_bytes(root + "/readme.png", "files next to class folders are ignored");
  const auto source = open_image_source(root, SourceFormat::kAuto);
  ASSERT_EQ(source->size(), 5);
  ASSERT_TRUE(source->has_labels());
  const std::vector<std::int64_t> labels = {0, 0, 1, 1, 1};
  for (std::int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(first_pixel(source->load(i)), i) << source->name(i);
    EXPECT_EQ(source->label(i), labels[i]);
  }
  EXPECT_EQ(source->name(0), root + "/cat/x.bmp");
  const auto meta = nlohmann::json::parse(source->describe());
  EXPECT_EQ(meta["classes"], nlohmann::json({"cat", "dog"}));
  EXPECT_EQ(meta["format"], "folder");
}

TEST(ImageSource, FlatFolderHasNoLabelsAndEmptyClassIsAnError) {
  test::TempDir dir;
  write_png(dir.path("flat/b.png"), 1);
  write_png(dir.path("flat/a.jpg"), 0);
  const auto source = open_image_source(dir.path("flat"), SourceFormat::kFolder);
  EXPECT_EQ(source->size(), 2);
  EXPECT_FALSE(source->has_labels());
  EXPECT_EQ(source->name(0), dir.path("flat/a.jpg"));

  fs::create_directories(dir.path("classes/empty"));
  write_png(dir.path("classes/full/a.png"), 0);
  test::expect_error([&] { open_image_source(dir.path("classes"), SourceFormat::kAuto); },
                     {"class folder 'empty'", "no image files"});
  fs::create_directories(dir.path("nothing"));
  test::expect_error([&] { open_image_source(dir.path("nothing"), SourceFormat::kAuto); },
                     {"nothing", "no image files"});
}

TEST(ImageSource, ListFileResolvesRelativePathsAndReadsLabels) {
  test::TempDir dir;
  write_png(dir.path("imgs/a.png"), 7);
  write_png(dir.path("b.png"), 9);
  test::write_bytes(dir.path("list.txt"),
                    "# comment\nimgs/a.png,3\n\n" + dir.path("b.png") + " , 1\n");
  const auto source = open_image_source(dir.path("list.txt"), SourceFormat::kAuto);
  ASSERT_EQ(source->size(), 2);
  EXPECT_EQ(source->label(0), 3);
  EXPECT_EQ(source->label(1), 1);
  EXPECT_EQ(first_pixel(source->load(0)), 7);
  EXPECT_EQ(first_pixel(source->load(1)), 9);

  test::write_bytes(dir.path("nolabels.txt"), "imgs/a.png\nb.png\n");
  EXPECT_FALSE(open_image_source(dir.path("nolabels.txt"), SourceFormat::kList)->has_labels());

  test::write_bytes(dir.path("mixed.txt"), "imgs/a.png,1\nb.png\n");
  test::expect_error([&] { open_image_source(dir.path("mixed.txt"), SourceFormat::kList); },
                     {"mixed.txt", "line 2", "no label"});
  test::write_bytes(dir.path("empty.txt"), "# nothing\n");
  test::expect_error([&] { open_image_source(dir.path("empty.txt"), SourceFormat::kList); },
                     {"empty.txt", "names no images"});
}

TEST(ImageSource, IdxPlainAndGzipWithSiblingOrExplicitLabels) {
  test::TempDir dir;
  std::vector<std::uint8_t> pixels(2 * 3 * 2);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(10 * i);
  const std::string images = idx_bytes({2, 3, 2}, pixels);
  test::write_bytes(dir.path("t-images-idx3-ubyte"), images);
  write_gzip(dir.path("g-images-idx3-ubyte.gz"), images);
  write_gzip(dir.path("g-labels-idx1-ubyte.gz"), idx_bytes({2}, {4, 9}));
  test::write_bytes(dir.path("other-labels"), idx_bytes({2}, {1, 0}));

  const auto plain = open_image_source(dir.path("t-images-idx3-ubyte"), SourceFormat::kAuto);
  EXPECT_FALSE(plain->has_labels());
  const auto gz = open_image_source(dir.path("g-images-idx3-ubyte.gz"), SourceFormat::kAuto);
  ASSERT_TRUE(gz->has_labels());
  EXPECT_EQ(gz->label(0), 4);
  EXPECT_EQ(gz->label(1), 9);
  for (const auto* s : {plain.get(), gz.get()}) {
    ASSERT_EQ(s->size(), 2);
    const cv::Mat second = s->load(1);
    ASSERT_EQ(second.rows, 3);
    ASSERT_EQ(second.cols, 2);
    EXPECT_EQ(second.at<std::uint8_t>(2, 1), 110);
  }
  EXPECT_EQ(gz->name(1), dir.path("g-images-idx3-ubyte.gz") + "#1");
  const auto explicit_labels = open_image_source(dir.path("t-images-idx3-ubyte"),
                                                 SourceFormat::kIdx, dir.path("other-labels"));
  EXPECT_EQ(explicit_labels->label(0), 1);

  test::write_bytes(dir.path("three-labels"), idx_bytes({3}, {1, 2, 3}));
  test::expect_error(
      [&] {
        open_image_source(dir.path("t-images-idx3-ubyte"), SourceFormat::kIdx,
                          dir.path("three-labels"));
      },
      {"three-labels", "3 labels for 2 images"});
}

TEST(ImageSource, CorruptIdxAndGzipAreErrorsNamingTheFile) {
  test::TempDir dir;
  const std::string images = idx_bytes({2, 3, 2}, std::vector<std::uint8_t>(12, 1));
  test::write_bytes(dir.path("short-idx"), images.substr(0, images.size() - 1));
  test::expect_error([&] { open_image_source(dir.path("short-idx"), SourceFormat::kIdx); },
                     {"short-idx", "truncated"});
  test::write_bytes(dir.path("huge-idx"), idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {}));
  test::expect_error([&] { open_image_source(dir.path("huge-idx"), SourceFormat::kIdx); },
                     {"huge-idx"});
  test::write_bytes(dir.path("int-idx"), idx_bytes({1}, {0, 0, 0, 0}, 0x0c));
  test::expect_error([&] { open_image_source(dir.path("int-idx"), SourceFormat::kIdx); },
                     {"int-idx", "unsigned-byte"});
  std::string zipped;
  write_gzip(dir.path("full.gz"), std::string(images) + std::string(5000, '\7'));
  zipped = test::read_bytes(dir.path("full.gz"));
  test::write_bytes(dir.path("cut.gz"), zipped.substr(0, zipped.size() / 2));
  test::expect_error([&] { open_image_source(dir.path("cut.gz"), SourceFormat::kIdx); },
                     {"cut.gz"});
}

TEST(ImageSource, NpyImagesOfBytesAndFloats) {
  test::TempDir dir;
  std::vector<std::uint8_t> bytes(2 * 2 * 3 * 3);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i);
  test::write_bytes(dir.path("rgb.npy"),
                    io::serialize_npy(io::DType::U8, {2, 2, 3, 3}, bytes.data()));
  const auto rgb = open_image_source(dir.path("rgb.npy"), SourceFormat::kAuto);
  ASSERT_EQ(rgb->size(), 2);
  const cv::Mat second = rgb->load(1);
  EXPECT_EQ(second.channels(), 3);
  EXPECT_EQ(second.at<cv::Vec3b>(1, 2)[2], 18 + 3 * 5 + 2);

  const std::vector<float> floats = {0.0f, 0.5f, 1.0f, 0.25f};
  const std::vector<std::int64_t> labels = {3};
  test::write_bytes(dir.path("grey.npy"),
                    io::serialize_npy(io::DType::F32, {1, 2, 2}, floats.data()));
  test::write_bytes(dir.path("labels.npy"), io::serialize_npy(io::DType::I64, {1}, labels.data()));
  const auto grey =
      open_image_source(dir.path("grey.npy"), SourceFormat::kNpy, dir.path("labels.npy"));
  EXPECT_EQ(grey->label(0), 3);
  const cv::Mat g = grey->load(0);
  EXPECT_EQ(g.depth(), CV_32F);
  EXPECT_FLOAT_EQ(g.at<float>(1, 0), 1.0f);

  test::write_bytes(dir.path("flat.npy"), io::serialize_npy(io::DType::F32, {4}, floats.data()));
  test::expect_error([&] { open_image_source(dir.path("flat.npy"), SourceFormat::kAuto); },
                     {"flat.npy", "[N, H, W]"});
  test::write_bytes(dir.path("five.npy"),
                    io::serialize_npy(io::DType::U8, {1, 1, 1, 5}, bytes.data()));
  test::expect_error([&] { open_image_source(dir.path("five.npy"), SourceFormat::kAuto); },
                     {"five.npy", "5 channels"});
}

TEST(ImageSource, UnreadableImagesAreImageErrors) {
  test::TempDir dir;
  test::write_bytes(dir.path("bad.png"), "\x89PNG\r\n\x1a\n but then garbage");
  test::write_bytes(dir.path("empty.jpg"), "");
  for (const char* name : {"bad.png", "empty.jpg", "missing.png"}) {
    try {
      decode_image_file(dir.path(name));
      ADD_FAILURE() << name << " decoded";
    } catch (const ImageError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(ImageSource, FormatsDecodeToRgbOrGrey) {
  test::TempDir dir;
  cv::Mat bgr(2, 2, CV_8UC3, cv::Scalar(10, 20, 30));  // OpenCV writes BGR
  cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 128));
  ASSERT_TRUE(cv::imwrite(dir.path("c.png"), bgr));
  ASSERT_TRUE(cv::imwrite(dir.path("c.webp"), bgr, {cv::IMWRITE_WEBP_QUALITY, 101}));
  ASSERT_TRUE(cv::imwrite(dir.path("c.bmp"), bgr));
  ASSERT_TRUE(cv::imwrite(dir.path("a.png"), bgra));
  for (const char* name : {"c.png", "c.webp", "c.bmp"}) {
    const cv::Mat m = decode_image_file(dir.path(name));
    ASSERT_EQ(m.channels(), 3) << name;
    EXPECT_EQ(m.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10)) << name;
  }
  const cv::Mat a = decode_image_file(dir.path("a.png"));
  ASSERT_EQ(a.channels(), 4);
  EXPECT_EQ(a.at<cv::Vec4b>(1, 1), cv::Vec4b(30, 20, 10, 128));
}

// The real files of Debian's dataset-fashion-mnist (installed by scripts/install_deps.sh).
TEST(ImageSource, FashionMnistFromDebianPackage) {
  const std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!test::file_exists(images)) {
    GTEST_SKIP() << images << " is absent: install Debian's dataset-fashion-mnist "
                 << "(scripts/install_deps.sh does)";
  }
  const auto source = open_image_source(images, SourceFormat::kAuto);
  ASSERT_EQ(source->size(), 10000);
  ASSERT_TRUE(source->has_labels());  // the sibling t10k-labels-idx1-ubyte.gz
  std::vector<int> per_class(10, 0);
  for (std::int64_t i = 0; i < source->size(); ++i) ++per_class.at(source->label(i));
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));
  const cv::Mat first = source->load(0);
  EXPECT_EQ(first.rows, 28);
  EXPECT_EQ(first.cols, 28);
  EXPECT_EQ(source->label(0), 9);  // the first test image is an ankle boot
  EXPECT_GT(cv::sum(first)[0], 0);
}

}  // namespace
}  // namespace oodflow::extract
