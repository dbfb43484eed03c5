// BMP by the rules of PIL 9.4's BMP plugin: the same headers (OS/2 12-byte, Windows 40, 64,
// 108 and 124-byte), bit depths (1, 4, 8, 16, 24, 32), compressions (none, RLE8, RLE4,
// bitfields with the masks PIL knows) and conversions: 5- and 6-bit channels are scaled by
// v * 255 / 31 (or 63), where OpenCV shifts left, and OS/2 palettes of 3-byte entries, which
// OpenCV misreads.
#include <algorithm>
#include <cstring>
#include <opencv2/core.hpp>
#include <vector>

#include "image_decoders.h"

namespace oodflow::extract {
namespace {

enum Compression : std::uint32_t { kRaw = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3 };

std::uint32_t u16_at(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0] | (p[1] << 8));
}

std::uint32_t u32_at(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

struct BmpHeader {
  std::int64_t width = 0;
  std::int64_t height = 0;
  bool top_down = false;
  int bits = 0;
  std::uint32_t compression = kRaw;
  std::uint32_t colors = 0;
  int palette_entry = 4;                  // bytes per palette entry
  std::size_t palette = 0;                // where the palette starts
  std::size_t pixels = 0;                 // where the pixel data starts
  std::uint32_t masks[4] = {0, 0, 0, 0};  // r, g, b, a
};

// Where each channel sits in a 32-bit pixel (byte index; -1 when absent), from the bitfield
// layouts PIL accepts; the last one, all masks zero, PIL reads as BGRA.
struct Layout32 {
  std::uint32_t masks[4];
  int r, g, b, a;
};
constexpr Layout32 kLayouts32[] = {
    {{0xff0000, 0xff00, 0xff, 0}, 2, 1, 0, -1},
    {{0xff000000, 0xff0000, 0xff00, 0}, 3, 2, 1, -1},
    {{0xff000000, 0xff0000, 0xff00, 0xff}, 3, 2, 1, 0},
    {{0xff, 0xff00, 0xff0000, 0xff000000}, 0, 1, 2, 3},
    {{0xff0000, 0xff00, 0xff, 0xff000000}, 2, 1, 0, 3},
    {{0, 0, 0, 0}, 2, 1, 0, 3},
};

BmpHeader read_header(const EncodedImage& file) {
  const std::uint8_t* d = file.data;
  if (file.size < 18) image_fail(file, "is a truncated BMP file (its header ends early)");
  BmpHeader h;
  const std::uint32_t header_size = u32_at(d + 14);
  if (file.size < 14 + static_cast<std::size_t>(header_size)) {
    image_fail(file, "is a truncated BMP file (its header ends early)");
  }
  std::size_t after_header = 14 + header_size;
  if (header_size == 12) {
    h.width = u16_at(d + 18);
    h.height = u16_at(d + 20);
    h.bits = static_cast<int>(u16_at(d + 24));
    h.palette_entry = 3;
  } else if (header_size == 40 || header_size == 64 || header_size == 108 || header_size == 124) {
    // PIL reads the size fields unsigned; a top-down bitmap is one whose height has its top
    // byte at 0xff.
    h.width = u32_at(d + 18);
    h.top_down = d[25] == 0xff;
    h.height = h.top_down ? (std::int64_t{1} << 32) - u32_at(d + 22) : u32_at(d + 22);
    h.bits = static_cast<int>(u16_at(d + 28));
    h.compression = u32_at(d + 30);
    h.colors = u32_at(d + 46);
    if (h.compression == kBitfields) {
      if (header_size >= 56) {
        for (int i = 0; i < 4; ++i) h.masks[i] = u32_at(d + 54 + 4 * i);
      } else {
        if (file.size < after_header + 12) {
          image_fail(file, "is a truncated BMP file (its header ends early)");
        }
        for (int i = 0; i < 3; ++i) h.masks[i] = u32_at(d + after_header + 4 * i);
        after_header += 12;
      }
    }
  } else {
    image_fail(file, "has a BMP header of " + std::to_string(header_size) +
                         " bytes, which PIL does not read either (12, 40, 64, 108 or 124)");
  }
  if (h.colors == 0 && h.bits <= 8) h.colors = 1u << h.bits;
  h.palette = after_header;
  h.pixels = u32_at(d + 10);
  // PIL's fix for writers that point the pixel offset at the palette.
  if (h.pixels == 14 + header_size && h.bits <= 8) h.pixels += 4 * std::size_t{h.colors};
  return h;
}

void check_layout(const EncodedImage& file, const BmpHeader& h) {
  const std::string depth = std::to_string(h.bits) + "-bit";
  if (h.bits != 1 && h.bits != 4 && h.bits != 8 && h.bits != 16 && h.bits != 24 && h.bits != 32) {
    image_fail(file, "is a " + depth + " BMP file, which PIL does not read either");
  }
  if (h.compression == kBitfields) {
    const std::uint32_t* m = h.masks;
    bool known = false;
    if (h.bits == 32) {
      for (const Layout32& l : kLayouts32) known = known || std::equal(m, m + 4, l.masks);
    } else if (h.bits == 24) {
      known = m[0] == 0xff0000 && m[1] == 0xff00 && m[2] == 0xff;
    } else if (h.bits == 16) {
      known = (m[0] == 0xf800 && m[1] == 0x7e0 && m[2] == 0x1f) ||
              (m[0] == 0x7c00 && m[1] == 0x3e0 && m[2] == 0x1f);
    }
    if (!known) image_fail(file, "has BMP bitfields that PIL does not read either");
  } else if (h.compression != kRaw && h.compression != kRle8 && h.compression != kRle4) {
    image_fail(file, "has BMP compression " + std::to_string(h.compression) +
                         ", which PIL does not read either (none, RLE8, RLE4, bitfields)");
  }
  if (h.bits <= 8 && (h.colors == 0 || h.colors > 65536)) {
    image_fail(file, "has a BMP palette of " + std::to_string(h.colors) + " colours");
  }
}

Palette read_palette(const EncodedImage& file, const BmpHeader& h) {
  Palette palette;
  const std::size_t available = file.size > h.palette ? file.size - h.palette : 0;
  const std::size_t entries =
      std::min<std::size_t>({h.colors, available / h.palette_entry, std::size_t{256}});
  for (std::size_t i = 0; i < entries; ++i) {
    const std::uint8_t* bgr = file.data + h.palette + i * h.palette_entry;
    palette.set(static_cast<int>(i), bgr[2], bgr[1], bgr[0]);
  }
  return palette;
}

// PIL's RLE decoder, including its quirks: a run past the end of a row is cut, an absolute
// run is not; absolute runs are padded to an even file offset; an odd RLE4 absolute run loses
// its last pixel; a delta skips four bytes. Returns fewer than width * height indices when the
// data ends early.
std::vector<std::uint8_t> expand_rle(const EncodedImage& file, const BmpHeader& h) {
  const auto w = static_cast<std::size_t>(h.width);
  const std::size_t total = w * static_cast<std::size_t>(h.height);
  const bool rle4 = h.compression == kRle4;
  std::vector<std::uint8_t> out;
  std::size_t pos = h.pixels;
  std::size_t x = 0;
  const auto has = [&](std::size_t n) { return pos <= file.size && file.size - pos >= n; };
  while (out.size() < total && has(2)) {
    const std::uint8_t count = file.data[pos];
    const std::uint8_t value = file.data[pos + 1];
    pos += 2;
    if (count != 0) {
      const std::size_t n = x + count > w ? (x < w ? w - x : 0) : count;
      for (std::size_t i = 0; i < n; ++i) {
        out.push_back(rle4 ? (i % 2 == 0 ? value >> 4 : value & 0x0f) : value);
      }
      x += n;
    } else if (value == 0) {  // end of line
      while (out.size() % w != 0) out.push_back(0);
      x = 0;
    } else if (value == 1) {  // end of bitmap
      break;
    } else if (value == 2) {  // delta
      // PIL 9.4 reads the two offset bytes twice: the second pair is the one it uses.
      if (!has(2)) break;
      if (!has(4)) image_fail(file, "is a truncated BMP file (its RLE data ends early)");
      out.resize(out.size() + file.data[pos + 2] + file.data[pos + 3] * w, 0);
      pos += 4;
      x = out.size() % w;
    } else {  // absolute run
      const std::size_t bytes = rle4 ? value / 2 : value;
      const std::size_t got = has(bytes) ? bytes : (pos < file.size ? file.size - pos : 0);
      for (std::size_t i = 0; i < got; ++i) {
        const std::uint8_t b = file.data[pos + i];
        if (rle4) {
          out.push_back(b >> 4);
          out.push_back(b & 0x0f);
        } else {
          out.push_back(b);
        }
      }
      pos += got;
      if (got < bytes) break;
      x += value;
      if (pos % 2 != 0) ++pos;
    }
  }
  return out;
}

// The colour of pixel x of a stored row, by the bit depth and layout.
void convert_row(const BmpHeader& h, const Palette& palette, const Layout32* layout,
                 const std::uint8_t* in, std::uint8_t* out, int channels) {
  const auto w = static_cast<int>(h.width);
  for (int x = 0; x < w; ++x, out += channels) {
    switch (h.bits) {
      case 1:
      case 4:
      case 8: {
        const int per_byte = 8 / h.bits;
        const int shift = 8 - h.bits * (x % per_byte + 1);
        const int index = (in[x / per_byte] >> shift) & ((1 << h.bits) - 1);
        std::memcpy(out, palette[index], 3);
        break;
      }
      case 16: {
        const std::uint32_t p = u16_at(in + 2 * x);
        const bool bits565 = h.compression == kBitfields && h.masks[1] == 0x7e0;
        out[0] = static_cast<std::uint8_t>(((p >> (bits565 ? 11 : 10)) & 31) * 255 / 31);
        out[1] = static_cast<std::uint8_t>(bits565 ? ((p >> 5) & 63) * 255 / 63
                                                   : ((p >> 5) & 31) * 255 / 31);
        out[2] = static_cast<std::uint8_t>((p & 31) * 255 / 31);
        break;
      }
      case 24:
        out[0] = in[3 * x + 2];
        out[1] = in[3 * x + 1];
        out[2] = in[3 * x];
        break;
      default: {
        const std::uint8_t* p = in + 4 * x;
        out[0] = p[layout->r];
        out[1] = p[layout->g];
        out[2] = p[layout->b];
        if (channels == 4) out[3] = p[layout->a];
      }
    }
  }
}

}  // namespace

cv::Mat decode_bmp(const EncodedImage& file) {
  const BmpHeader h = read_header(file);
  check_layout(file, h);
  check_image_size(file, h.width, h.height);
  const Layout32* layout = &kLayouts32[0];  // 32-bit without bitfields: BGRX
  if (h.bits == 32 && h.compression == kBitfields) {
    for (const Layout32& l : kLayouts32) {
      if (std::equal(h.masks, h.masks + 4, l.masks)) layout = &l;
    }
  }
  const Palette palette = h.bits <= 8 ? read_palette(file, h) : Palette();
  const int channels = h.bits == 32 && layout->a >= 0 ? 4 : 3;
  const auto rows = static_cast<int>(h.height);
  cv::Mat out(rows, static_cast<int>(h.width), CV_8UC(channels));
  const auto image_row = [&](int stored) { return h.top_down ? stored : rows - 1 - stored; };
  if (h.compression == kRle8 || h.compression == kRle4) {
    const std::vector<std::uint8_t> indices = expand_rle(file, h);
    if (indices.size() < out.total()) {
      image_fail(file, "is a truncated BMP file (its RLE data ends early)");
    }
    for (int y = 0; y < rows; ++y) {
      const std::uint8_t* in = indices.data() + static_cast<std::size_t>(y) * out.cols;
      std::uint8_t* o = out.ptr<std::uint8_t>(image_row(y));
      for (int x = 0; x < out.cols; ++x) std::memcpy(o + 3 * x, palette[in[x]], 3);
    }
    return out;
  }
  const std::size_t row_bytes = (static_cast<std::size_t>(h.width) * h.bits + 7) / 8;
  const std::size_t stride = ((static_cast<std::size_t>(h.width) * h.bits + 31) >> 3) & ~3u;
  // PIL needs every row but not the padding after the last one.
  const std::size_t needed = stride * static_cast<std::size_t>(rows - 1) + row_bytes;
  if (h.pixels > file.size || file.size - h.pixels < needed) {
    image_fail(file, "is a truncated BMP file (its pixels end early)");
  }
  for (int y = 0; y < rows; ++y) {
    convert_row(h, palette, layout, file.data + h.pixels + stride * static_cast<std::size_t>(y),
                out.ptr<std::uint8_t>(image_row(y)), channels);
  }
  return out;
}

}  // namespace oodflow::extract
