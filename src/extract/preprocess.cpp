#include "oodflow/extract/preprocess.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "oodflow/core/error.h"
#include "oodflow/extract/image_source.h"
#include "oodflow/extract/resample.h"

namespace oodflow::extract {
namespace {

// Larger resized sides come only from absurd aspect ratios (a 1 x 60000 strip resized to 256).
constexpr int kMaxSide = 1 << 16;

// To the backbone's channel count, keeping the depth. Alpha is dropped without compositing,
// as PIL's convert("RGB") does.
cv::Mat convert_channels(const cv::Mat& image, int channels) {
  cv::Mat out;
  const int have = image.channels();
  if (channels == 3) {
    if (have == 3) return image;
    if (have == 4) {
      cv::cvtColor(image, out, cv::COLOR_RGBA2RGB);
    } else {
      cv::cvtColor(image, out, cv::COLOR_GRAY2RGB);
    }
    return out;
  }
  if (have == 1) return image;
  if (image.depth() != CV_8U) {
    cv::cvtColor(image, out, have == 4 ? cv::COLOR_RGBA2GRAY : cv::COLOR_RGB2GRAY);
    return out;
  }
  // PIL's convert("L") in its own fixed point (OpenCV's rounds its coefficients differently
  // and is one grey level off on some pixels).
  out.create(image.size(), CV_8UC1);
  for (int y = 0; y < image.rows; ++y) {
    const std::uint8_t* px = image.ptr<std::uint8_t>(y);
    std::uint8_t* grey = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < image.cols; ++x, px += have) {
      grey[x] =
          static_cast<std::uint8_t>((19595 * px[0] + 38470 * px[1] + 7471 * px[2] + 0x8000) >> 16);
    }
  }
  return out;
}

// torchvision's CenterCrop: zero padding when the image is smaller (left/top get the floor
// of half the missing pixels), then an offset of round((size - crop) / 2), half to even as
// Python's round.
cv::Mat center_crop(const cv::Mat& image, int crop) {
  cv::Mat padded = image;
  if (crop > image.cols || crop > image.rows) {
    const int pad_w = std::max(crop - image.cols, 0);
    const int pad_h = std::max(crop - image.rows, 0);
    cv::Mat canvas(image.rows + pad_h, image.cols + pad_w, image.type(), cv::Scalar::all(0));
    image.copyTo(canvas(cv::Rect(pad_w / 2, pad_h / 2, image.cols, image.rows)));
    padded = canvas;
  }
  const auto offset = [](int size, int crop_size) {
    return static_cast<int>(std::nearbyint((size - crop_size) / 2.0));  // ties to even
  };
  return padded(cv::Rect(offset(padded.cols, crop), offset(padded.rows, crop), crop, crop));
}

double channel_value(const std::vector<double>& values, int c, double fallback) {
  if (values.empty()) return fallback;
  return values.size() == 1 ? values[0] : values[static_cast<std::size_t>(c)];
}

}  // namespace

void validate(const Preprocessing& p) {
  OODFLOW_CHECK(p.resize >= 0, "--resize must be >= 0 (0 = keep the size), got " << p.resize);
  OODFLOW_CHECK(p.crop >= 0, "--crop must be >= 0 (0 = no crop), got " << p.crop);
  OODFLOW_CHECK(p.channels == 1 || p.channels == 3,
                "--channels must be 1 or 3, got " << p.channels);
  for (const auto* values : {&p.mean, &p.std}) {
    const char* name = values == &p.mean ? "--mean" : "--std";
    OODFLOW_CHECK(values->empty() || values->size() == 1 ||
                      values->size() == static_cast<std::size_t>(p.channels),
                  name << " needs "
                       << (p.channels == 1
                               ? std::string("1 value")
                               : "1 or " + std::to_string(p.channels) + " values (one per channel)")
                       << " for --channels " << p.channels << ", got " << values->size());
    for (double v : *values) {
      OODFLOW_CHECK(std::isfinite(v), name << " values must be finite, got " << v);
    }
  }
  for (double s : p.std) OODFLOW_CHECK(s > 0, "--std values must be > 0, got " << s);
}

std::string to_json(const Preprocessing& p) {
  nlohmann::json mean = nlohmann::json::array();
  nlohmann::json std = nlohmann::json::array();
  for (int c = 0; c < p.channels; ++c) {
    mean.push_back(channel_value(p.mean, c, 0.0));
    std.push_back(channel_value(p.std, c, 1.0));
  }
  return nlohmann::json{{"resize_shorter_side", p.resize},
                        {"center_crop", p.crop},
                        {"channels", p.channels},
                        {"resize_filter", "antialiased bilinear (torchvision Resize on PIL)"},
                        {"scale", "uint8 / 255; float images as given"},
                        {"mean", mean},
                        {"std", std},
                        {"layout", "NCHW float32"}}
      .dump();
}

Preprocessing preprocessing_from_json(const std::string& json, const std::string& source) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  Preprocessing p;
  try {
    OODFLOW_CHECK(j.is_object(), "not a JSON object");
    p.resize = j.at("resize_shorter_side").get<int>();
    p.crop = j.at("center_crop").get<int>();
    p.channels = j.at("channels").get<int>();
    p.mean = j.at("mean").get<std::vector<double>>();
    p.std = j.at("std").get<std::vector<double>>();
    validate(p);
  } catch (const std::exception& e) {
    OODFLOW_FAIL("'" << source << "' has a malformed image preprocessing record: " << e.what());
  }
  return p;
}

void preprocess(const cv::Mat& image, const Preprocessing& p, std::vector<float>* out, int* height,
                int* width) {
  cv::Mat x = convert_channels(image, p.channels);
  if (p.resize > 0) {
    const cv::Size size = shorter_side_size(x.rows, x.cols, p.resize);
    if (size.width > kMaxSide || size.height > kMaxSide || size.width < 1 || size.height < 1) {
      throw ImageError("an image of " + std::to_string(x.cols) + "x" + std::to_string(x.rows) +
                       " pixels would be resized to " + std::to_string(size.width) + "x" +
                       std::to_string(size.height) + "; its aspect ratio is too extreme");
    }
    if (size.width != x.cols || size.height != x.rows) {
      x = resize_antialiased(x, size.height, size.width);
    }
  }
  if (p.crop > 0) x = center_crop(x, p.crop);
  const bool is_byte = x.depth() == CV_8U;
  const int channels = p.channels;
  const std::size_t plane = static_cast<std::size_t>(x.rows) * static_cast<std::size_t>(x.cols);
  out->resize(plane * static_cast<std::size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    // The same float operations as ToTensor and Normalize: v / 255, then (t - mean) / std.
    const auto mean = static_cast<float>(channel_value(p.mean, c, 0.0));
    const auto std = static_cast<float>(channel_value(p.std, c, 1.0));
    float* dst = out->data() + plane * static_cast<std::size_t>(c);
    for (int y = 0; y < x.rows; ++y) {
      for (int col = 0; col < x.cols; ++col) {
        const float t = is_byte ? x.ptr<std::uint8_t>(y)[col * channels + c] / 255.0f
                                : x.ptr<float>(y)[col * channels + c];
        *dst++ = (t - mean) / std;
      }
    }
  }
  *height = x.rows;
  *width = x.cols;
}

}  // namespace oodflow::extract
