// PNG through libpng's progressive reader, converted by the rules of PIL's PNG plugin: 16-bit
// grey is PIL's mode "I", clipped to 255 by convert(); other 16-bit samples keep their high
// byte; palette indices past the PLTE chunk read as grey. A file is complete, as for PIL, once
// every row is decoded: what follows (the IEND chunk, padding, junk) is not read.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <opencv2/core.hpp>

#include "image_decoders.h"

namespace oodflow::extract {
namespace {

// Adam7: first row, first column, row step and column step of each pass.
constexpr int kAdam7[7][4] = {{0, 0, 8, 8}, {0, 4, 8, 8}, {4, 0, 8, 4}, {0, 2, 4, 4},
                              {2, 0, 4, 2}, {0, 1, 2, 2}, {1, 0, 2, 1}};

// What the libpng callbacks learn; they run inside libpng, so they never throw.
struct PngState {
  cv::Mat* samples = nullptr;  // [height, width * channels * bytes], deinterlaced
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int bit_depth = 0;
  int color_type = 0;
  int channels = 0;
  bool interlaced = false;
  std::int64_t rows_expected = 0;
  std::int64_t rows_seen = 0;
  bool too_large = false;
  char message[200] = "";
};

PngState& state_of(png_structp png) {
  return *static_cast<PngState*>(png_get_progressive_ptr(png));
}

void on_error(png_structp png, png_const_charp message) {
  PngState& s = *static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s.message, sizeof s.message, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_info(png_structp png, png_infop info) {
  PngState& s = state_of(png);
  int interlace = 0;
  png_get_IHDR(png, info, &s.width, &s.height, &s.bit_depth, &s.color_type, &interlace, nullptr,
               nullptr);
  if (!image_size_ok(s.width, s.height)) {
    s.too_large = true;
    png_error(png, "image too large");
  }
  // One byte per sample below 8 bits, unscaled: grey levels and palette indices stay apart.
  png_set_packing(png);
  png_read_update_info(png, info);
  s.channels = png_get_channels(png, info);
  s.interlaced = interlace != PNG_INTERLACE_NONE;
  for (int pass = 0; pass < (s.interlaced ? 7 : 1); ++pass) {
    const std::int64_t rows = s.interlaced ? PNG_PASS_ROWS(s.height, pass) : s.height;
    const std::int64_t cols = s.interlaced ? PNG_PASS_COLS(s.width, pass) : s.width;
    if (cols > 0) s.rows_expected += rows;
  }
  const int bytes = s.bit_depth == 16 ? 2 : 1;
  bool allocated = true;
  try {
    s.samples->create(static_cast<int>(s.height), static_cast<int>(s.width) * s.channels * bytes,
                      CV_8UC1);
  } catch (const std::exception&) {
    allocated = false;  // libpng's error is raised outside the handler
  }
  if (!allocated) png_error(png, "out of memory");
}

void on_row(png_structp png, png_bytep row, png_uint_32 row_in_pass, int pass) {
  if (row == nullptr) return;
  PngState& s = state_of(png);
  const int pixel_bytes = s.channels * (s.bit_depth == 16 ? 2 : 1);
  if (!s.interlaced) {
    std::memcpy(s.samples->ptr(static_cast<int>(row_in_pass)), row,
                static_cast<std::size_t>(s.width) * static_cast<std::size_t>(pixel_bytes));
  } else {
    const int* a = kAdam7[pass];
    std::uint8_t* out = s.samples->ptr(a[0] + static_cast<int>(row_in_pass) * a[2]);
    const auto cols = static_cast<std::uint32_t>(PNG_PASS_COLS(s.width, pass));
    for (std::uint32_t i = 0; i < cols; ++i) {
      std::memcpy(out + (a[1] + static_cast<std::size_t>(i) * a[3]) * pixel_bytes,
                  row + static_cast<std::size_t>(i) * pixel_bytes,
                  static_cast<std::size_t>(pixel_bytes));
    }
  }
  ++s.rows_seen;
}

// Feeds the whole file to libpng. No object with a destructor lives in this frame: libpng
// reports errors by longjmp out of it.
bool feed(png_structp png, png_infop info, const EncodedImage& file) {
  if (setjmp(png_jmpbuf(png)) != 0) return false;
  png_process_data(png, info, const_cast<png_bytep>(file.data), file.size);
  return true;
}

cv::Mat to_pixels(const PngState& s, png_structp png, png_infop info) {
  const cv::Mat& in = *s.samples;
  // 8-bit grey, RGB and RGBA are already what PIL gives.
  if (s.bit_depth == 8 && s.color_type != PNG_COLOR_TYPE_PALETTE && s.channels != 2) {
    return in.reshape(s.channels);
  }
  const int w = static_cast<int>(s.width);
  const int out_channels = s.color_type == PNG_COLOR_TYPE_GRAY          ? 1
                           : (s.color_type & PNG_COLOR_MASK_ALPHA) != 0 ? 4
                                                                        : 3;
  Palette palette;
  png_colorp plte = nullptr;
  int plte_size = 0;
  png_bytep trns = nullptr;
  int trns_size = 0;
  const bool indexed = s.color_type == PNG_COLOR_TYPE_PALETTE;
  if (indexed) {
    png_get_PLTE(png, info, &plte, &plte_size);
    for (int i = 0; i < plte_size && i < 256; ++i) {
      palette.set(i, plte[i].red, plte[i].green, plte[i].blue);
    }
    png_get_tRNS(png, info, &trns, &trns_size, nullptr);
  }
  const int grey_scale = s.bit_depth >= 8 ? 1 : 255 / ((1 << s.bit_depth) - 1);
  cv::Mat out(static_cast<int>(s.height), w, CV_8UC(indexed && trns_size > 0 ? 4 : out_channels));
  for (int y = 0; y < out.rows; ++y) {
    const std::uint8_t* px = in.ptr<std::uint8_t>(y);
    std::uint8_t* o = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < w; ++x) {
      if (indexed) {
        const int index = px[x];
        std::memcpy(o, palette[index], 3);
        if (out.channels() == 4) o[3] = index < trns_size ? trns[index] : 255;
        o += out.channels();
      } else if (s.bit_depth == 16) {
        const std::uint8_t* sample = px + 2 * s.channels * x;
        if (s.color_type == PNG_COLOR_TYPE_GRAY) {
          *o++ = clip_to_byte((sample[0] << 8) | sample[1]);
        } else {
          // The high byte of each sample; grey+alpha spreads to RGBA.
          const bool grey = s.channels == 2;
          for (int c = 0; c < 3; ++c) *o++ = sample[grey ? 0 : 2 * c];
          if (out_channels == 4) *o++ = sample[2 * (s.channels - 1)];
        }
      } else {
        const std::uint8_t* sample = px + s.channels * x;
        if (s.channels <= 2) {
          const std::uint8_t v = static_cast<std::uint8_t>(sample[0] * grey_scale);
          *o++ = v;
          if (out_channels == 4) {
            *o++ = v;
            *o++ = v;
            *o++ = sample[1];
          }
        } else {
          std::memcpy(o, sample, static_cast<std::size_t>(out_channels));
          o += out_channels;
        }
      }
    }
  }
  return out;
}

}  // namespace

cv::Mat decode_png(const EncodedImage& file) {
  cv::Mat samples;
  PngState s;
  s.samples = &samples;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    image_fail(file, "cannot be decoded: out of memory for libpng");
  }
  png_set_progressive_read_fn(png, &s, on_info, on_row, nullptr);
  const bool fed = feed(png, info, file);
  cv::Mat pixels;
  // Whatever comes after the last row, an error included, does not concern the pixels.
  const bool complete = s.rows_expected > 0 && s.rows_seen == s.rows_expected;
  if (complete) pixels = to_pixels(s, png, info);
  png_destroy_read_struct(&png, &info, nullptr);
  if (complete) return pixels;
  if (s.too_large) check_image_size(file, s.width, s.height);
  if (fed) image_fail(file, "is a truncated PNG file (its image data ends before the last row)");
  image_fail(file, std::string("cannot be decoded as PNG: ") + s.message);
}

}  // namespace oodflow::extract
