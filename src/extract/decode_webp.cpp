// WebP through libwebp's animation decoder, as PIL decodes every WebP file, still or animated:
// the first frame composed on its canvas in non-premultiplied RGBA, alpha kept only when the
// file declares it (PIL's mode RGBA, else RGB). OpenCV's simple-decoder path refuses animated
// files.
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>
#include <opencv2/core.hpp>

#include "image_decoders.h"

namespace oodflow::extract {

cv::Mat decode_webp(const EncodedImage& file) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(file.data, file.size, &features) != VP8_STATUS_OK) {
    image_fail(file, "cannot be decoded as WebP (corrupt or truncated)");
  }
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options)) image_fail(file, "cannot be decoded: libwebp");
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  WebPData data;
  data.bytes = file.data;
  data.size = file.size;
  const std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> decoder(
      WebPAnimDecoderNew(&data, &options), WebPAnimDecoderDelete);
  WebPAnimInfo info;
  if (!decoder || !WebPAnimDecoderGetInfo(decoder.get(), &info)) {
    image_fail(file, "cannot be decoded as WebP (corrupt or truncated)");
  }
  check_image_size(file, info.canvas_width, info.canvas_height);
  std::uint8_t* canvas = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &canvas, &timestamp)) {
    image_fail(file, "cannot be decoded as WebP (its first frame is corrupt or truncated)");
  }
  const cv::Mat rgba(static_cast<int>(info.canvas_height), static_cast<int>(info.canvas_width),
                     CV_8UC4, canvas);
  if (features.has_alpha) return rgba.clone();
  cv::Mat rgb(rgba.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* in = rgba.ptr<std::uint8_t>(y);
    std::uint8_t* out = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x) std::memcpy(out + 3 * x, in + 4 * x, 3);
  }
  return rgb;
}

}  // namespace oodflow::extract
