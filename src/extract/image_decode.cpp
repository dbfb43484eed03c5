// Decoding of image files into the pixels PIL gives (torchvision's ImageFolder loader). The
// format comes from the file's first bytes, as PIL's Image.open() finds it, not from the
// extension; each format has its own decoder (image_decoders.h) so that every mode PIL reads
// is converted by PIL's rules (OpenCV's imdecode differs on CMYK, 16-bit grey, 16-bit BMP,
// PNM maxvals, TIFF alpha, and refuses animated WebP).
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <opencv2/core.hpp>

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

bool is_pnm(const EncodedImage& file) {
  return file.size >= 2 && file.data[0] == 'P' && file.data[1] >= '1' && file.data[1] <= '6';
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
    if (starts_with(file, {'B', 'M'})) return decode_bmp(file);
    if (is_pnm(file)) return decode_pnm(file);
    if (starts_with(file, {'G', 'I', 'F', '8'})) return decode_gif(file);
    if (file.size == 0) image_fail(file, "is empty");
    image_fail(
        file,
        "is not an image file oodflow decodes (JPEG, PNG, TIFF, WebP, BMP, PPM/PGM/PBM, GIF)");
  } catch (const ImageError&) {
    throw;
  } catch (const Error& e) {  // cannot open or map the file
    throw ImageError(e.what());
  } catch (const cv::Exception& e) {
    throw ImageError("'" + path + "' cannot be decoded: " + e.err);
  }
}

}  // namespace oodflow::extract
