// Decoding of image files into the pixels PIL gives (torchvision's ImageFolder loader).
#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "oodflow/extract/image_source.h"
#include "oodflow/io/mapped_file.h"

namespace oodflow::extract {
namespace {

// Decoders accept some truncated files without an error: libjpeg fills the missing part of a
// JPEG with grey (PIL refuses it: "image file is truncated"), and libpng prints its complaint
// to stderr. Both formats end with a marker that a cut file lacks.
void check_complete(const std::uint8_t* data, std::size_t size, const std::string& path) {
  const auto starts_with = [&](std::initializer_list<std::uint8_t> magic) {
    return size >= magic.size() && std::equal(magic.begin(), magic.end(), data);
  };
  if (starts_with({0xff, 0xd8, 0xff})) {
    // The end-of-image marker must follow the last start-of-scan: entropy-coded data cannot
    // contain either marker (0xff bytes are stuffed), an embedded thumbnail's EOI comes
    // before the main scan.
    std::size_t last_sos = 0;
    std::size_t last_eoi = 0;
    for (std::size_t i = 0; i + 1 < size; ++i) {
      if (data[i] != 0xff) continue;
      if (data[i + 1] == 0xda) last_sos = i;
      if (data[i + 1] == 0xd9) last_eoi = i;
    }
    if (last_sos == 0 || last_eoi < last_sos) {
      throw ImageError("'" + path + "' is a truncated JPEG file (no end-of-image marker)");
    }
  } else if (starts_with({0x89, 'P', 'N', 'G'})) {
    static const std::uint8_t kIend[] = {'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (size < 8 + sizeof kIend ||
        !std::equal(std::begin(kIend), std::end(kIend), data + size - sizeof kIend)) {
      throw ImageError("'" + path + "' is a truncated PNG file (no IEND chunk at its end)");
    }
  }
}

}  // namespace

cv::Mat decode_image_file(const std::string& path) {
  cv::Mat decoded;
  try {
    const io::MappedFile file(path);
    check_complete(file.data(), file.size(), path);
    const cv::Mat bytes(1, static_cast<int>(file.size()), CV_8U,
                        const_cast<std::uint8_t*>(file.data()));
    // UNCHANGED keeps grey as grey and does not apply EXIF rotation, as PIL's loader.
    decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  } catch (const ImageError&) {
    throw;
  } catch (const Error& e) {
    throw ImageError(e.what());
  } catch (const cv::Exception& e) {
    throw ImageError("'" + path + "' cannot be decoded: " + e.err);
  }
  if (decoded.empty()) {
    throw ImageError("'" + path + "' is not a decodable image (corrupt or unsupported format)");
  }
  if (decoded.depth() == CV_16U) {
    // The high byte, as PIL reads 16-bit colour PNGs (PIL clips 16-bit grey at 255 instead,
    // which would make most such images white).
    cv::Mat high(decoded.size(), CV_MAKETYPE(CV_8U, decoded.channels()));
    const int values = decoded.cols * decoded.channels();
    for (int y = 0; y < decoded.rows; ++y) {
      const auto* in = decoded.ptr<std::uint16_t>(y);
      auto* out = high.ptr<std::uint8_t>(y);
      for (int i = 0; i < values; ++i) out[i] = static_cast<std::uint8_t>(in[i] >> 8);
    }
    decoded = high;
  } else if (decoded.depth() != CV_8U && decoded.depth() != CV_32F) {
    throw ImageError("'" + path + "' has an unsupported pixel type (OpenCV depth " +
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

}  // namespace oodflow::extract
