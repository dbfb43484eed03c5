// The image matrix (tests/data/extract/matrix/, written by scripts/make_image_matrix.py):
// odd-but-valid files of every format and mode, each decoded by oodflow the way extract does
// it (decode_image_file, then preprocess to 3 or 1 channels without resizing) and compared
// pixel by pixel with what PIL's convert("RGB") and convert("L") gave the script. Files PIL
// refuses must be refused too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <opencv2/core.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "oodflow/extract/image_source.h"
#include "oodflow/extract/preprocess.h"
#include "oodflow/io/npy.h"
#include "test_util.h"

namespace oodflow::extract {
namespace {

struct MatrixFile {
  std::string name;
  std::string pil_mode;
  // "pixels"; "refused:<words of oodflow's message>" when PIL refuses the file too;
  // "oodflow-refuses:<words>" when only oodflow does.
  std::string expect;
  int max_diff_rgb = 0;
  int max_diff_l = 0;
};

// gtest prints parameters of failed tests; the file name says it all.
void PrintTo(const MatrixFile& f, std::ostream* os) {
  *os << f.name;
}

std::string matrix_path(const std::string& name) {
  return test::data_path("extract/matrix/" + name);
}

std::vector<MatrixFile> read_manifest() {
  std::vector<MatrixFile> files;
  std::ifstream in(matrix_path("manifest.tsv"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    MatrixFile f;
    std::getline(fields, f.name, '\t');
    std::getline(fields, f.pil_mode, '\t');
    std::getline(fields, f.expect, '\t');
    fields >> f.max_diff_rgb >> f.max_diff_l;
    files.push_back(f);
  }
  return files;
}

// The pixels extract feeds the backbone, back on the 0..255 scale, in [H, W, C] order.
cv::Mat oodflow_pixels(const cv::Mat& decoded, int channels) {
  Preprocessing p;
  p.channels = channels;
  std::vector<float> chw;
  int h = 0;
  int w = 0;
  preprocess(decoded, p, &chw, &h, &w);
  cv::Mat hwc(h, w, CV_8UC(channels));
  for (int c = 0; c < channels; ++c) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const float v = chw[(static_cast<std::size_t>(c) * h + y) * w + x];
        hwc.ptr<std::uint8_t>(y)[x * channels + c] =
            static_cast<std::uint8_t>(std::lround(v * 255));
      }
    }
  }
  return hwc;
}

cv::Mat pil_pixels(const std::string& npy, int channels) {
  const io::NpyFile file(npy);
  const io::TensorView& a = file.array();
  const std::vector<std::int64_t> shape = a.shape;
  EXPECT_EQ(a.dtype, io::DType::U8) << npy;
  EXPECT_EQ(shape.size(), channels == 3 ? 3u : 2u) << npy;
  if (shape.size() < 2) return cv::Mat();
  return cv::Mat(static_cast<int>(shape[0]), static_cast<int>(shape[1]), CV_8UC(channels),
                 const_cast<std::uint8_t*>(a.data))
      .clone();
}

// Largest absolute difference, and how many values differ.
std::pair<int, int> compare(const cv::Mat& ours, const cv::Mat& theirs) {
  cv::Mat diff;
  cv::absdiff(ours, theirs, diff);
  double max = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &max);
  return {static_cast<int>(max), cv::countNonZero(diff.reshape(1))};
}

class ImageMatrix : public ::testing::TestWithParam<MatrixFile> {};

TEST_P(ImageMatrix, SamePixelsAsPil) {
  const MatrixFile& f = GetParam();
  const std::string path = matrix_path(f.name);
  if (f.expect != "pixels") {
    const std::string needle = f.expect.substr(f.expect.find(':') + 1);
    test::expect_error([&] { decode_image_file(path); }, {f.name, needle});
    EXPECT_THROW(decode_image_file(path), ImageError);
    return;
  }
  cv::Mat decoded;
  ASSERT_NO_THROW(decoded = decode_image_file(path))
      << f.name << " (PIL mode " << f.pil_mode << ")";
  ASSERT_EQ(decoded.depth(), CV_8U) << f.name;
  for (int channels : {3, 1}) {
    const cv::Mat theirs = pil_pixels(path + (channels == 3 ? ".rgb.npy" : ".l.npy"), channels);
    const cv::Mat ours = oodflow_pixels(decoded, channels);
    ASSERT_EQ(ours.size(), theirs.size()) << f.name;
    const auto [max, count] = compare(ours, theirs);
    const int allowed = channels == 3 ? f.max_diff_rgb : f.max_diff_l;
    // Documented differences are asserted as measured, not as a tolerance.
    EXPECT_EQ(max, allowed) << f.name << " (PIL mode " << f.pil_mode << "), convert("
                            << (channels == 3 ? "RGB" : "L") << "): " << count << " of "
                            << ours.total() * channels << " values differ";
  }
}

std::string test_name(const ::testing::TestParamInfo<MatrixFile>& info) {
  std::string name = info.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Pil, ImageMatrix, ::testing::ValuesIn(read_manifest()), test_name);

TEST(ImageMatrix, ManifestListsEveryKindOfFile) {
  const std::vector<MatrixFile> files = read_manifest();
  ASSERT_GE(files.size(), 100u) << "tests/data/extract/matrix/manifest.tsv is missing or short";
  const auto count = [&](const std::string& prefix, bool readable) {
    return std::count_if(files.begin(), files.end(), [&](const MatrixFile& f) {
      return f.name.rfind(prefix, 0) == 0 && (f.expect == "pixels") == readable;
    });
  };
  for (const char* prefix :
       {"png_", "jpeg_", "bmp_", "pbm_", "pgm_", "ppm_", "tiff_", "webp_", "gif_"}) {
    EXPECT_GT(count(prefix, true), 0) << prefix;
  }
  for (const char* prefix : {"png_", "jpeg_", "bmp_", "ppm_", "tiff_", "webp_", "gif_"}) {
    EXPECT_GT(count(prefix, false), 0) << prefix << ": no refused file";
  }
}

// Prefixes (every sixteenth of the length) and corrupted copies of every file: decoded, or
// refused with an ImageError naming the file; never another exception (the decoders parse
// untrusted bytes).
TEST(ImageMatrix, CutAndCorruptedFilesAreDecodedOrRefused) {
  test::TempDir dir;
  const std::string path = dir.path("x");
  std::uint32_t state = 12345;
  const auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (const MatrixFile& f : read_manifest()) {
    const std::string bytes = test::read_bytes(matrix_path(f.name));
    std::vector<std::string> variants;
    for (std::size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 16) {
      variants.push_back(bytes.substr(0, n));
    }
    for (int k = 0; k < 8; ++k) {
      std::string flipped = bytes;
      for (int i = 0; i < 1 + k; ++i)
        flipped[next() % flipped.size()] ^= static_cast<char>(1 + next() % 255);
      variants.push_back(flipped);
    }
    for (const std::string& v : variants) {
      test::write_bytes(path, v);
      try {
        const cv::Mat m = decode_image_file(path);
        EXPECT_EQ(m.depth(), CV_8U) << f.name;
      } catch (const ImageError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << f.name << ", " << v.size() << " bytes: not an ImageError: " << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace oodflow::extract
