#include "oodflow/extract/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "oodflow/core/error.h"

namespace oodflow::extract {
namespace {

// The source pixels and normalised weights that make one output pixel along one axis.
struct Taps {
  int first = 0;
  std::vector<float> weights;
};

// Triangle (bilinear) kernel centred on the output pixel's centre mapped into the source,
// widened by the scale factor when shrinking so that it averages instead of skipping pixels.
std::vector<Taps> axis_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double width = std::max(scale, 1.0);
  std::vector<Taps> taps(static_cast<std::size_t>(out_size));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int first = std::max(static_cast<int>(center - width + 0.5), 0);
    const int last = std::min(static_cast<int>(center + width + 0.5), in_size);
    Taps& t = taps[static_cast<std::size_t>(i)];
    t.first = first;
    double total = 0;
    std::vector<double> w;
    for (int x = first; x < last; ++x) {
      const double v = std::max(0.0, 1.0 - std::abs((x - center + 0.5) / width));
      w.push_back(v);
      total += v;
    }
    for (double v : w) t.weights.push_back(static_cast<float>(total > 0 ? v / total : 0));
  }
  return taps;
}

// Weights are non-negative, so rounding half away from zero is v + 0.5 truncated (lround
// costs a libm call per value, which made it a fifth of the resize time).
template <typename T>
T store(float value);
template <>
std::uint8_t store<std::uint8_t>(float value) {
  return static_cast<std::uint8_t>(std::min(static_cast<int>(value + 0.5f), 255));
}
template <>
float store<float>(float value) {
  return value;
}

// One pass along rows (horizontal) of an interleaved image of C channels (C known at compile
// time so the per-pixel accumulators stay in registers).
template <typename T, int C>
cv::Mat resize_rows(const cv::Mat& src, int out_width) {
  const auto taps = axis_taps(src.cols, out_width);
  cv::Mat dst(src.rows, out_width, src.type());
  for (int y = 0; y < src.rows; ++y) {
    const T* in = src.ptr<T>(y);
    T* out = dst.ptr<T>(y);
    for (int x = 0; x < out_width; ++x) {
      const Taps& t = taps[static_cast<std::size_t>(x)];
      float acc[C] = {};
      const T* px = in + t.first * C;
      for (const float w : t.weights) {
        for (int c = 0; c < C; ++c) acc[c] += w * static_cast<float>(px[c]);
        px += C;
      }
      for (int c = 0; c < C; ++c) out[x * C + c] = store<T>(acc[c]);
    }
  }
  return dst;
}

template <typename T>
cv::Mat resize_rows_any(const cv::Mat& src, int out_width) {
  switch (src.channels()) {
    case 1:
      return resize_rows<T, 1>(src, out_width);
    case 2:
      return resize_rows<T, 2>(src, out_width);
    case 3:
      return resize_rows<T, 3>(src, out_width);
    default:
      return resize_rows<T, 4>(src, out_width);
  }
}

// One pass along columns (vertical): whole rows are combined, which keeps memory access
// sequential.
template <typename T>
cv::Mat resize_cols(const cv::Mat& src, int out_height) {
  const int row_values = src.cols * src.channels();
  const auto taps = axis_taps(src.rows, out_height);
  cv::Mat dst(out_height, src.cols, src.type());
  std::vector<float> acc(static_cast<std::size_t>(row_values));
  for (int y = 0; y < out_height; ++y) {
    const Taps& t = taps[static_cast<std::size_t>(y)];
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (std::size_t k = 0; k < t.weights.size(); ++k) {
      const T* in = src.ptr<T>(t.first + static_cast<int>(k));
      const float w = t.weights[k];
      for (int i = 0; i < row_values; ++i) acc[i] += w * static_cast<float>(in[i]);
    }
    T* out = dst.ptr<T>(y);
    for (int i = 0; i < row_values; ++i) out[i] = store<T>(acc[i]);
  }
  return dst;
}

template <typename T>
cv::Mat resize_typed(const cv::Mat& image, int height, int width) {
  cv::Mat out = image;
  if (width != image.cols) out = resize_rows_any<T>(out, width);
  if (height != image.rows) out = resize_cols<T>(out, height);
  return out;
}

}  // namespace

cv::Mat resize_antialiased(const cv::Mat& image, int height, int width) {
  OODFLOW_CHECK(height > 0 && width > 0 && !image.empty() && image.channels() <= 4,
                "internal: resize of a " << image.rows << "x" << image.cols << " image to "
                                         << height << "x" << width);
  const cv::Mat src = image.isContinuous() ? image : image.clone();
  switch (src.depth()) {
    case CV_8U:
      return resize_typed<std::uint8_t>(src, height, width);
    case CV_32F:
      return resize_typed<float>(src, height, width);
    default:
      OODFLOW_FAIL("internal: resize of an image of OpenCV depth " << src.depth());
  }
}

cv::Size2i shorter_side_size(int height, int width, int size) {
  // torchvision: new_long = int(size * long / short), in double precision; clamped so that
  // absurd aspect ratios give a size the caller rejects instead of an int overflow.
  const auto longer = [&](int long_side, int short_side) {
    return static_cast<int>(std::min(static_cast<double>(size) * long_side / short_side, 1e9));
  };
  if (width <= height) return {size, longer(height, width)};
  return {longer(width, height), size};
}

}  // namespace oodflow::extract
