// Internal: one decoder per image file format behind decode_image_file(). Each gives the pixels
// of PIL's Image.open() for its format (the first frame or page) in the form ImageSource::load()
// returns: CV_8U, grey (1 channel), RGB (3) or RGBA (4), so that preprocess() then does what
// PIL's convert("RGB") or convert("L") does. Where PIL's own mode holds more than 8 bits, the
// decoder applies PIL's conversion of that mode to 8 bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

namespace oodflow::extract {

/// The bytes of one image file and its path, for messages.
struct EncodedImage {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::string path;
};

cv::Mat decode_jpeg(const EncodedImage& file);
cv::Mat decode_png(const EncodedImage& file);
cv::Mat decode_webp(const EncodedImage& file);
cv::Mat decode_tiff(const EncodedImage& file);
cv::Mat decode_bmp(const EncodedImage& file);
cv::Mat decode_pnm(const EncodedImage& file);
cv::Mat decode_gif(const EncodedImage& file);

/// Throws ImageError "'<path>' <what>".
[[noreturn]] void image_fail(const EncodedImage& file, const std::string& what);

/// False for empty images and those above PIL's decompression-bomb limit (Image.open raises
/// DecompressionBombError beyond 2 * 89,478,485 pixels).
bool image_size_ok(std::int64_t width, std::int64_t height);
/// Throws ImageError naming the file when !image_size_ok(width, height).
void check_image_size(const EncodedImage& file, std::int64_t width, std::int64_t height);

/// PIL's CMYK to RGB, per channel: (255 - ink) * (255 - black) / 255, rounded.
inline std::uint8_t cmyk_to_rgb_channel(int ink, int black) {
  return static_cast<std::uint8_t>(((255 - ink) * (255 - black) + 127) / 255);
}

/// PIL's conversion of integer grey (modes "I", "I;16") to 8 bits: clipped to 0..255.
inline std::uint8_t clip_to_byte(std::int64_t v) {
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

/// PIL's conversion of float grey (mode "F") to 8 bits: truncated towards zero and clipped;
/// NaN gives 0.
inline std::uint8_t float_to_byte(float v) {
  if (!(v > 0.0f)) return 0;  // also NaN
  return v >= 255.0f ? 255 : static_cast<std::uint8_t>(v);
}

/// PIL's unpacking of premultiplied alpha ("RGBa"): colour * 255 / alpha, truncated and
/// clipped; 0 where alpha is 0.
inline std::uint8_t unpremultiply(int colour, int alpha) {
  if (alpha == 0) return 0;
  const int v = colour * 255 / alpha;
  return static_cast<std::uint8_t>(v > 255 ? 255 : v);
}

/// An image palette as PIL holds it: 256 RGB entries that start as a grey ramp, the file's
/// colours written over the first ones, so an index past the file's palette reads as grey.
class Palette {
 public:
  Palette();
  /// Sets entry i (0..255) to (r, g, b).
  void set(int i, std::uint8_t r, std::uint8_t g, std::uint8_t b);
  const std::uint8_t* operator[](int i) const { return rgb_ + 3 * i; }

 private:
  std::uint8_t rgb_[256 * 3];
};

}  // namespace oodflow::extract
