// Decoding of image files into the pixels PIL gives (torchvision's ImageFolder loader). The
// format comes from the file's first bytes, as PIL's Image.open() finds it, not from the
// extension; JPEG, PNG, TIFF and WebP have their own decoders (image_decoders.h) so that
// every mode PIL reads is converted by PIL's rules (OpenCV's imdecode differs on CMYK, 16-bit
// grey, TIFF alpha and trailing bytes, and refuses animated WebP); BMP and PNM still go to
// OpenCV.
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_decoders.h"
#include "oodflow/extract/image_source.h"
#include "oodflow/io/mapped_file.h"

namespace oodflow::extract {
namespace {

// PIL's Image.MAX_IMAGE_PIXELS is 89,478,485; it refuses twice that, warns above it.
constexpr std::int64_t kMaxPixels = 2 * std::int64_t{89478485};

bool starts_with(const EncodedImage& file, std::initializer_list<std::uint8_t> magic) {
  return file.size >= magic.size() && std::equal(magic.begin(), magic.end(), file.data);
}

bool is_webp(const EncodedImage& file) {
  return file.size >= 16 && std::memcmp(file.data, "RIFF", 4) == 0 &&
         std::memcmp(file.data + 8, "WEBP", 4) == 0;
}

cv::Mat decode_with_opencv(const EncodedImage& file) {
  const cv::Mat bytes(1, static_cast<int>(file.size), CV_8U, const_cast<std::uint8_t*>(file.data));
  // UNCHANGED keeps grey as grey and does not apply EXIF rotation, as PIL's loader.
  cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  if (decoded.empty()) image_fail(file, "is not a decodable image (corrupt or unsupported format)");
  if (decoded.depth() == CV_16U) {
    // The high byte, as PIL reads 16-bit colour.
    cv::Mat high(decoded.size(), CV_MAKETYPE(CV_8U, decoded.channels()));
    const int values = decoded.cols * decoded.channels();
    for (int y = 0; y < decoded.rows; ++y) {
      const auto* in = decoded.ptr<std::uint16_t>(y);
      auto* out = high.ptr<std::uint8_t>(y);
      for (int i = 0; i < values; ++i) out[i] = static_cast<std::uint8_t>(in[i] >> 8);
    }
    decoded = high;
  } else if (decoded.depth() != CV_8U && decoded.depth() != CV_32F) {
    image_fail(file, "has an unsupported pixel type (OpenCV depth " +
                         std::to_string(decoded.depth()) + ")");
  }
  cv::Mat rgb;
  switch (decoded.channels()) {
    case 1:
      return decoded;
    case 3:
      cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
      return rgb;
    case 4:
      cv::cvtColor(decoded, rgb, cv::COLOR_BGRA2RGBA);
      return rgb;
    default:
      cv::extractChannel(decoded, rgb, 0);
      return rgb;
  }
}

}  // namespace

[[noreturn]] void image_fail(const EncodedImage& file, const std::string& what) {
  throw ImageError("'" + file.path + "' " + what);
}

bool image_size_ok(std::int64_t width, std::int64_t height) {
  return width > 0 && height > 0 && width <= kMaxPixels / height;
}

void check_image_size(const EncodedImage& file, std::int64_t width, std::int64_t height) {
  if (image_size_ok(width, height)) return;
  if (width <= 0 || height <= 0) {
    image_fail(file,
               "has no pixels (" + std::to_string(width) + " x " + std::to_string(height) + ")");
  }
  image_fail(file, "has " + std::to_string(width) + " x " + std::to_string(height) +
                       " pixels, more than PIL opens (" + std::to_string(kMaxPixels) +
                       "; a decompression bomb?)");
}

Palette::Palette() {
  for (int i = 0; i < 256; ++i) set(i, i, i, i);
}

void Palette::set(int i, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  rgb_[3 * i] = r;
  rgb_[3 * i + 1] = g;
  rgb_[3 * i + 2] = b;
}

cv::Mat decode_image_file(const std::string& path) {
  try {
    const io::MappedFile mapped(path);
    EncodedImage file;
    file.data = mapped.data();
    file.size = mapped.size();
    file.path = path;
    if (starts_with(file, {0xff, 0xd8, 0xff})) return decode_jpeg(file);
    if (starts_with(file, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})) return decode_png(file);
    if (starts_with(file, {'I', 'I', 42, 0}) || starts_with(file, {'M', 'M', 0, 42}) ||
        starts_with(file, {'I', 'I', 43, 0}) || starts_with(file, {'M', 'M', 0, 43})) {
      return decode_tiff(file);
    }
    if (is_webp(file)) return decode_webp(file);
    if (file.size == 0) image_fail(file, "is empty");
    return decode_with_opencv(file);
  } catch (const ImageError&) {
    throw;
  } catch (const Error& e) {  // cannot open or map the file
    throw ImageError(e.what());
  } catch (const cv::Exception& e) {
    throw ImageError("'" + path + "' cannot be decoded: " + e.err);
  }
}

}  // namespace oodflow::extract
