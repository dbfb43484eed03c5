// Preprocessing against independent computations: a direct double-precision evaluation of
// the antialiased filter, torchvision's transforms on real photographs (committed fixtures
// made by scripts/make_extract_fixtures.py), and hand-computed crops and conversions.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "oodflow/extract/image_source.h"
#include "oodflow/extract/preprocess.h"
#include "oodflow/extract/resample.h"
#include "test_util.h"

namespace oodflow::extract {
namespace {

cv::Mat random_image(int h, int w, int type, unsigned seed) {
  cv::Mat m(h, w, type);
  cv::RNG rng(seed);
  if (CV_MAT_DEPTH(type) == CV_8U) {
    rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  } else {
    rng.fill(m, cv::RNG::UNIFORM, 0.0, 1.0);
  }
  return m;
}

// The filter's definition evaluated in 2-D, in double, straight from the formula: output
// pixel (i, j) is the weighted mean of the source pixels under a triangle of half-width
// max(scale, 1) centred on the output pixel's centre mapped into the source.
double direct_value(const cv::Mat& src, int out_h, int out_w, int i, int j, int c) {
  const auto weights = [](int in, int out, int o) {
    const double scale = static_cast<double>(in) / out;
    const double width = std::max(scale, 1.0);
    const double center = (o + 0.5) * scale;
    std::vector<double> w(static_cast<std::size_t>(in));
    double total = 0;
    for (int x = 0; x < in; ++x) {
      // Pixel x covers [x, x + 1); its centre is x + 0.5.
      w[x] = std::max(0.0, 1.0 - std::abs((x + 0.5 - center) / width));
      total += w[x];
    }
    for (auto& v : w) v /= total;
    return w;
  };
  const auto wy = weights(src.rows, out_h, i);
  const auto wx = weights(src.cols, out_w, j);
  double sum = 0;
  for (int y = 0; y < src.rows; ++y) {
    for (int x = 0; x < src.cols; ++x) {
      sum += wy[y] * wx[x] * src.ptr<float>(y)[x * src.channels() + c];
    }
  }
  return sum;
}

TEST(Resample, FloatImagesMatchTheFilterDefinition) {
  const cv::Mat src = random_image(37, 53, CV_32FC3, 1);
  for (const auto& [h, w] :
       std::vector<std::pair<int, int>>{{16, 20}, {37, 24}, {50, 71}, {9, 9}}) {
    const cv::Mat out = resize_antialiased(src, h, w);
    ASSERT_EQ(out.rows, h);
    ASSERT_EQ(out.cols, w);
    for (int i = 0; i < h; ++i) {
      for (int j = 0; j < w; ++j) {
        for (int c = 0; c < 3; ++c) {
          ASSERT_NEAR(out.ptr<float>(i)[j * 3 + c], direct_value(src, h, w, i, j, c), 2e-5)
              << h << "x" << w << " at " << i << "," << j << "," << c;
        }
      }
    }
  }
}

TEST(Resample, SameSizeIsIdentityAndBytesStayInRange) {
  const cv::Mat src = random_image(21, 17, CV_8UC1, 2);
  EXPECT_EQ(cv::norm(resize_antialiased(src, 21, 17), src, cv::NORM_INF), 0);
  const cv::Mat up = resize_antialiased(src, 40, 33);
  double lo = 0, hi = 0;
  cv::minMaxLoc(up, &lo, &hi);
  EXPECT_GE(lo, 0);
  EXPECT_LE(hi, 255);
}

TEST(Resample, ShorterSideSizeTruncatesLikeTorchvision) {
  // int(256 * 640 / 427) = 383; portrait images swap the roles.
  EXPECT_EQ(shorter_side_size(427, 640, 256), cv::Size(383, 256));
  EXPECT_EQ(shorter_side_size(640, 427, 256), cv::Size(256, 383));
  EXPECT_EQ(shorter_side_size(100, 100, 32), cv::Size(32, 32));
}

// torchvision's Resize(256) + CenterCrop(224) on PIL images, saved as PNG by the fixture
// script, against ours on the same photographs. The bar is a mean absolute
// difference below 2/255; the filter and its fixed-point arithmetic are PIL's, so the
// result is exact.
TEST(Preprocess, ImagenetPresetMatchesTorchvisionOnPhotographs) {
  Preprocessing p;
  p.resize = 256;
  p.crop = 224;
  for (const char* name : {"china.jpg", "flower.jpg", "flower_portrait.png", "china_small.png"}) {
    const std::string photo = test::data_path(std::string("extract/photos/") + name);
    cv::Mat expected = cv::imread(photo + ".expected.png", cv::IMREAD_COLOR);
    ASSERT_FALSE(expected.empty()) << photo;
    cv::cvtColor(expected, expected, cv::COLOR_BGR2RGB);
    std::vector<float> chw;
    int h = 0, w = 0;
    preprocess(decode_image_file(photo), p, &chw, &h, &w);
    ASSERT_EQ(h, 224);
    ASSERT_EQ(w, 224);
    double sum = 0;
    int different_bytes = 0;
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const double ours = chw[(static_cast<std::size_t>(c) * h + y) * w + x];
          const int theirs = expected.ptr<std::uint8_t>(y)[x * 3 + c];
          sum += std::abs(ours - theirs / 255.0);
          different_bytes += std::lround(ours * 255) != theirs;
        }
      }
    }
    const double mean = sum / (3.0 * h * w);
    RecordProperty(name, std::to_string(mean * 255) + "/255");
    EXPECT_LT(mean, 2.0 / 255) << name;
    EXPECT_EQ(different_bytes, 0) << name << ": mean difference " << mean * 255 << " levels";
  }
}

// CenterCrop offsets are round((size - crop) / 2) with Python's half-to-even rounding, and
// a crop larger than the image pads zeros, floor(missing / 2) on the left/top.
TEST(Preprocess, CenterCropOffsetsAndPaddingFollowTorchvision) {
  cv::Mat image(5, 9, CV_8UC1);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 9; ++x)
      image.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(10 * y + x);
  }
  Preprocessing p;
  p.channels = 1;
  p.crop = 4;  // rows: round(0.5) = 0; cols: round(2.5) = 2
  std::vector<float> out;
  int h = 0, w = 0;
  preprocess(image, p, &out, &h, &w);
  ASSERT_EQ(h, 4);
  ASSERT_EQ(w, 4);
  EXPECT_FLOAT_EQ(out[0], 2 / 255.0f);
  EXPECT_FLOAT_EQ(out[5], (10 + 3) / 255.0f);

  p.crop = 8;  // rows padded by 3: 1 on top, 2 below; cols: round(0.5) = 0
  preprocess(image, p, &out, &h, &w);
  ASSERT_EQ(h, 8);
  EXPECT_FLOAT_EQ(out[0 * 8 + 0], 0);           // padding row
  EXPECT_FLOAT_EQ(out[1 * 8 + 0], 0 / 255.0f);  // first image row, col 0
  EXPECT_FLOAT_EQ(out[2 * 8 + 3], 13 / 255.0f);
  EXPECT_FLOAT_EQ(out[7 * 8 + 7], 0);
}

TEST(Preprocess, ChannelsAndNormalisation) {
  cv::Mat rgba(1, 2, CV_8UC4);
  rgba.at<cv::Vec4b>(0, 0) = {200, 100, 50, 0};  // alpha is dropped, not composited
  rgba.at<cv::Vec4b>(0, 1) = {0, 255, 10, 255};
  Preprocessing p;
  p.mean = {0.5, 0.25, 0.0};
  p.std = {0.5, 0.25, 2.0};
  std::vector<float> out;
  int h = 0, w = 0;
  preprocess(rgba, p, &out, &h, &w);
  ASSERT_EQ(out.size(), 6u);  // [3, 1, 2]
  EXPECT_FLOAT_EQ(out[0], (200 / 255.0f - 0.5f) / 0.5f);
  EXPECT_FLOAT_EQ(out[3], (255 / 255.0f - 0.25f) / 0.25f);
  EXPECT_FLOAT_EQ(out[5], (10 / 255.0f) / 2.0f);

  p = {};
  p.channels = 1;  // ITU-R 601 luma in PIL's fixed point: (19595 R + 38470 G + 7471 B) / 2^16
  preprocess(rgba, p, &out, &h, &w);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0] * 255, 124);
  EXPECT_FLOAT_EQ(out[1] * 255, 151);

  const cv::Mat grey(1, 1, CV_8UC1, cv::Scalar(51));
  p.channels = 3;  // grey replicated
  preprocess(grey, p, &out, &h, &w);
  EXPECT_EQ(out, std::vector<float>(3, 51 / 255.0f));
}

TEST(Preprocess, ValidateNamesTheOption) {
  Preprocessing p;
  p.mean = {0.1, 0.2};
  test::expect_error([&] { validate(p); }, {"--mean", "1 or 3"});
  p = {};
  p.std = {0};
  test::expect_error([&] { validate(p); }, {"--std", "> 0"});
  p = {};
  p.channels = 2;
  test::expect_error([&] { validate(p); }, {"--channels"});
}

}  // namespace
}  // namespace oodflow::extract
