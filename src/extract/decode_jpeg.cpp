// JPEG through libjpeg, with the settings of PIL's JPEG decoder: grey stays grey, three
// components come out as RGB (libjpeg's YCbCr conversion and fancy upsampling), four as CMYK,
// which PIL takes as Adobe-inverted and converts with its own formula (OpenCV's rounding
// differs by up to 2 levels). EXIF orientation is not applied, as PIL's loader does not.
#include <csetjmp>
#include <cstdio>
#include <opencv2/core.hpp>

#include "image_decoders.h"

// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

namespace oodflow::extract {
namespace {

struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool hit_end;
};

JpegErrors& errors_of(j_common_ptr cinfo) {
  // mgr is the first member, so the error manager's address is the struct's.
  return *reinterpret_cast<JpegErrors*>(cinfo->err);
}

void jpeg_error_exit(j_common_ptr cinfo) {
  JpegErrors& e = errors_of(cinfo);
  e.mgr.format_message(cinfo, e.message);
  std::longjmp(e.jump, 1);
}

// Warnings (extraneous bytes, corrupt entropy data) do not stop PIL either; running out of
// data does: PIL refuses such a file ("image file is truncated") where libjpeg would insert an
// end-of-image marker and fill the rest with grey.
void on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) errors_of(cinfo).hit_end = true;
}

enum class Outcome { kDecoded, kFailed, kUnsupported, kTooLarge };

// Decodes into *pixels (grey, RGB or inverted CMYK as libjpeg gives them). Holds no object
// with a destructor: libjpeg reports errors by longjmp out of this frame.
Outcome read_jpeg(const EncodedImage& file, jpeg_decompress_struct* cinfo, cv::Mat* pixels) {
  if (setjmp(errors_of(reinterpret_cast<j_common_ptr>(cinfo)).jump) != 0) {
    return Outcome::kFailed;
  }
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, file.data, static_cast<unsigned long>(file.size));
  jpeg_read_header(cinfo, TRUE);
  switch (cinfo->num_components) {
    case 1:
      cinfo->out_color_space = JCS_GRAYSCALE;
      break;
    case 3:
      cinfo->out_color_space = JCS_RGB;
      break;
    case 4:
      cinfo->out_color_space = JCS_CMYK;
      break;
    default:
      return Outcome::kUnsupported;  // PIL: "cannot handle N-layer images"
  }
  if (!image_size_ok(cinfo->image_width, cinfo->image_height)) return Outcome::kTooLarge;
  jpeg_start_decompress(cinfo);
  pixels->create(static_cast<int>(cinfo->output_height), static_cast<int>(cinfo->output_width),
                 CV_8UC(cinfo->output_components));
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = pixels->ptr<std::uint8_t>(static_cast<int>(cinfo->output_scanline));
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return Outcome::kDecoded;
}

cv::Mat cmyk_to_rgb(const cv::Mat& inverted_cmyk) {
  cv::Mat rgb(inverted_cmyk.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* in = inverted_cmyk.ptr<std::uint8_t>(y);
    std::uint8_t* out = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, in += 4, out += 3) {
      for (int c = 0; c < 3; ++c) out[c] = cmyk_to_rgb_channel(255 - in[c], 255 - in[3]);
    }
  }
  return rgb;
}

}  // namespace

cv::Mat decode_jpeg(const EncodedImage& file) {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors{};
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_error_exit;
  errors.mgr.emit_message = on_message;
  cv::Mat pixels;
  const Outcome outcome = read_jpeg(file, &cinfo, &pixels);
  const int components = cinfo.num_components;
  const std::int64_t width = cinfo.image_width;
  const std::int64_t height = cinfo.image_height;
  jpeg_destroy_decompress(&cinfo);
  if (errors.hit_end) image_fail(file, "is a truncated JPEG file (its data ends before the image)");
  if (outcome == Outcome::kFailed) {
    image_fail(file, std::string("cannot be decoded as JPEG: ") + errors.message);
  }
  if (outcome == Outcome::kTooLarge) check_image_size(file, width, height);
  if (outcome == Outcome::kUnsupported) {
    image_fail(file, "is a JPEG file with " + std::to_string(components) +
                         " components, which PIL does not read either (1, 3 or 4)");
  }
  return components == 4 ? cmyk_to_rgb(pixels) : pixels;
}

}  // namespace oodflow::extract
