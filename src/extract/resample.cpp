#include "oodflow/extract/resample.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "oodflow/core/error.h"

namespace oodflow::extract {
namespace {

// 8-bit images are filtered in fixed point with 22 fractional bits, as PIL does for them:
// the same integer arithmetic gives the same rounding, so the output matches PIL's exactly
// (a float filter is one grey level off on a few pixels).
constexpr int kFixedBits = 22;

// The source pixels and normalised weights that make one output pixel along one axis.
struct Taps {
  int first = 0;
  std::vector<float> weights;
  std::vector<std::int32_t> fixed;  // weights * 2^22, rounded
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
    for (double v : w) {
      const double normalised = total > 0 ? v / total : 0;
      t.weights.push_back(static_cast<float>(normalised));
      t.fixed.push_back(static_cast<std::int32_t>(0.5 + normalised * (1 << kFixedBits)));
    }
  }
  return taps;
}

// The arithmetic of one depth: accumulator type, its start value (half a unit of the last
// place for fixed point: rounding), the weights, and the conversion back.
template <typename T>
struct Kernel;
template <>
struct Kernel<std::uint8_t> {
  using Acc = std::int32_t;
  static constexpr Acc kStart = Acc{1} << (kFixedBits - 1);
  static const std::vector<std::int32_t>& weights(const Taps& t) { return t.fixed; }
  // Weights are non-negative, so the sum is too; only the upper end needs clamping.
  static std::uint8_t store(Acc a) {
    return static_cast<std::uint8_t>(std::min(a >> kFixedBits, 255));
  }
};
template <>
struct Kernel<float> {
  using Acc = float;
  static constexpr Acc kStart = 0;
  static const std::vector<float>& weights(const Taps& t) { return t.weights; }
  static float store(Acc a) { return a; }
};

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
      typename Kernel<T>::Acc acc[C];
      std::fill(acc, acc + C, Kernel<T>::kStart);
      const T* px = in + t.first * C;
      for (const auto w : Kernel<T>::weights(t)) {
        for (int c = 0; c < C; ++c) acc[c] += w * px[c];
        px += C;
      }
      for (int c = 0; c < C; ++c) out[x * C + c] = Kernel<T>::store(acc[c]);
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
  std::vector<typename Kernel<T>::Acc> acc(static_cast<std::size_t>(row_values));
  for (int y = 0; y < out_height; ++y) {
    const Taps& t = taps[static_cast<std::size_t>(y)];
    const auto& weights = Kernel<T>::weights(t);
    std::fill(acc.begin(), acc.end(), Kernel<T>::kStart);
    for (std::size_t k = 0; k < weights.size(); ++k) {
      const T* in = src.ptr<T>(t.first + static_cast<int>(k));
      const auto w = weights[k];
      for (int i = 0; i < row_values; ++i) acc[i] += w * in[i];
    }
    T* out = dst.ptr<T>(y);
    for (int i = 0; i < row_values; ++i) out[i] = Kernel<T>::store(acc[i]);
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
