// TIFF through libtiff (strips or tiles, any codec libtiff has, contiguous or separate planes),
// the first page only, converted by PIL 9.4's table of TIFF layouts: the layouts PIL reads
// are read with its conversions (MinIsWhite inverted up to 8 bits, 16/32-bit grey clipped,
// float grey truncated, premultiplied alpha divided out, CMYK by PIL's formula, 16-bit colour
// by its high byte, palettes by the top byte of each colormap entry); the others are refused
// as PIL refuses them. OpenCV's RGBA path premultiplies, and it rounds CMYK differently.
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "image_decoders.h"

namespace oodflow::extract {
namespace {

// libtiff reads the file through these, from memory.
struct Source {
  const EncodedImage* file;
  toff_t pos;
  char message[256];
  bool lost_layout_tag;
};

tmsize_t read_proc(thandle_t h, void* buf, tmsize_t n) {
  auto* s = static_cast<Source*>(h);
  if (n < 0 || s->pos >= s->file->size) return 0;
  const auto count = std::min<toff_t>(static_cast<toff_t>(n), s->file->size - s->pos);
  std::memcpy(buf, s->file->data + s->pos, count);
  s->pos += count;
  return static_cast<tmsize_t>(count);
}

tmsize_t write_proc(thandle_t, void*, tmsize_t) {
  return -1;
}

toff_t seek_proc(thandle_t h, toff_t offset, int whence) {
  auto* s = static_cast<Source*>(h);
  const toff_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->file->size : 0;
  s->pos = base + offset;
  return s->pos;
}

int close_proc(thandle_t) {
  return 0;
}
toff_t size_proc(thandle_t h) {
  return static_cast<Source*>(h)->file->size;
}

int on_tiff_error(TIFF*, void* user, const char* module, const char* fmt, va_list args) {
  auto* s = static_cast<Source*>(user);
  if (s->message[0] == '\0') {  // the first error is the cause
    char text[200];
    std::vsnprintf(text, sizeof text, fmt, args);
    std::snprintf(s->message, sizeof s->message, "%s: %s", module ? module : "libtiff", text);
  }
  return 1;
}

// libtiff ignores a tag whose values lie past the end of a cut file and carries on: without
// its colormap a palette image becomes grey, without BitsPerSample it has 1 bit. PIL cannot
// read such a file; other lost tags (resolution, software) matter to neither.
int on_tiff_warning(TIFF*, void* user, const char*, const char* fmt, va_list args) {
  char text[200];
  std::vsnprintf(text, sizeof text, fmt, args);
  if (std::strstr(text, "IO error") != nullptr &&
      (std::strstr(text, "ColorMap") != nullptr || std::strstr(text, "BitsPerSample") != nullptr)) {
    static_cast<Source*>(user)->lost_layout_tag = true;
  }
  return 1;
}

// What PIL makes of a layout (its mode), reduced to what the conversion needs.
enum class Kind {
  kGrey,
  kGreyInt,
  kGreyFloat,
  kGreyAlpha,
  kRgb,
  kPalette,
  kPaletteAlpha,
  kCmyk,
  kYcbcr,  // not JPEG-compressed: libtiff's RGBA interface converts it, for PIL as for us
};

struct Layout {
  std::uint16_t photometric = 0;
  std::uint16_t bits = 1;
  std::uint16_t samples = 1;
  std::uint16_t format = SAMPLEFORMAT_UINT;
  std::uint16_t fill_order = FILLORDER_MSB2LSB;
  std::uint16_t compression = COMPRESSION_NONE;
  std::vector<std::uint16_t> extras;
  bool big_endian = false;
  // Derived:
  Kind kind = Kind::kGrey;
  int alpha = -1;  // sample index of alpha, -1 without
  bool premultiplied = false;
};

// The extra samples after the colour ones that PIL's table lists: optionally one alpha
// (associated 1, unassociated 2, or Corel's 999; or none declared for RGBA), then unspecified
// ones (0) that it ignores.
bool classify_extras(Layout* l, int colour_samples, bool alpha_allowed) {
  const int extra = l->samples - colour_samples;
  if (extra < 0 || static_cast<int>(l->extras.size()) != extra) {
    // RGBA written without an ExtraSamples tag.
    if (alpha_allowed && l->samples == 4 && colour_samples == 3 && l->extras.empty()) {
      l->alpha = 3;
      return true;
    }
    return false;
  }
  for (int i = 0; i < extra; ++i) {
    const std::uint16_t e = l->extras[static_cast<std::size_t>(i)];
    if (i == 0 && alpha_allowed &&
        (e == EXTRASAMPLE_ASSOCALPHA || e == EXTRASAMPLE_UNASSALPHA || (e == 999 && extra == 1))) {
      l->alpha = colour_samples;
      l->premultiplied = e == EXTRASAMPLE_ASSOCALPHA;
    } else if (e != EXTRASAMPLE_UNSPECIFIED) {
      return false;
    }
  }
  return true;
}

bool is_grey_depth(int bits) {
  return bits == 1 || bits == 2 || bits == 4 || bits == 8;
}

// One sample of grey (modes "1", "L", "I;16", "I", "F"; 12 bits are "I;16" too). PIL inverts
// MinIsWhite only up to 8 bits, and lists some layouts for little-endian files only.
bool classify_grey(Layout* l) {
  const bool black = l->photometric == PHOTOMETRIC_MINISBLACK;
  if (l->samples != 1 || !l->extras.empty()) return false;
  if (l->format == SAMPLEFORMAT_IEEEFP) {
    l->kind = Kind::kGreyFloat;
    return l->bits == 32;
  }
  l->kind = l->bits <= 8 ? Kind::kGrey : Kind::kGreyInt;
  if (l->format == SAMPLEFORMAT_INT) return black && (l->bits == 16 || l->bits == 32);
  if (l->format != SAMPLEFORMAT_UINT) return false;
  if (l->bits == 16) return black || !l->big_endian;
  if (l->bits == 12 || l->bits == 32) return black && !l->big_endian;
  return is_grey_depth(l->bits);
}

// One 8-bit sample plus unassociated alpha ("LA", "PA").
bool classify_with_alpha(Layout* l) {
  l->alpha = 1;
  return l->format == SAMPLEFORMAT_UINT && l->bits == 8 && l->samples == 2 &&
         l->extras.size() == 1 && l->extras[0] == EXTRASAMPLE_UNASSALPHA;
}

// False for the layouts missing from PIL's table (which PIL refuses).
bool classify(Layout* l) {
  const bool uint = l->format == SAMPLEFORMAT_UINT;
  if (l->fill_order != FILLORDER_MSB2LSB && l->bits > 8) return false;
  switch (l->photometric) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK:
      if (l->samples == 2) {
        l->kind = Kind::kGreyAlpha;
        return l->photometric == PHOTOMETRIC_MINISBLACK && classify_with_alpha(l);
      }
      return classify_grey(l);
    case PHOTOMETRIC_RGB:
      l->kind = Kind::kRgb;
      return uint && (l->bits == 8 || l->bits == 16) && l->samples <= (l->bits == 8 ? 6 : 4) &&
             classify_extras(l, 3, true);
    case PHOTOMETRIC_PALETTE:
      if (l->samples == 2) {
        l->kind = Kind::kPaletteAlpha;
        return classify_with_alpha(l);
      }
      l->kind = Kind::kPalette;
      return uint && l->samples == 1 && l->extras.empty() && is_grey_depth(l->bits);
    case PHOTOMETRIC_SEPARATED:
      l->kind = Kind::kCmyk;
      if (!uint || l->samples < 4) return false;
      if (l->bits == 16) return l->samples == 4 && l->extras.empty() && !l->big_endian;
      return l->bits == 8 && l->samples <= 6 && classify_extras(l, 4, false);
    case PHOTOMETRIC_YCBCR:
      // JPEG-compressed, libjpeg converts to RGB; otherwise libtiff's RGBA interface does, as
      // in PIL, which cannot read uncompressed YCbCr (its raw decoder expects 4 bytes a pixel).
      l->kind = l->compression == COMPRESSION_JPEG ? Kind::kRgb : Kind::kYcbcr;
      return l->compression != COMPRESSION_NONE && uint && l->bits == 8 && l->samples == 3 &&
             l->extras.empty();
    default:
      return false;
  }
}

Layout read_layout(TIFF* tif) {
  Layout l;
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l.bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l.samples);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &l.format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_FILLORDER, &l.fill_order);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &l.compression);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l.photometric)) l.photometric = 0xffff;
  std::uint16_t count = 0;
  std::uint16_t* extras = nullptr;
  if (TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &count, &extras))
    l.extras.assign(extras, extras + count);
  l.big_endian = TIFFIsBigEndian(tif) != 0;
  return l;
}

// The decoded samples: one buffer of rows (contiguous), or one per sample (separate planes).
struct Planes {
  std::vector<std::vector<std::uint8_t>> data;
  std::size_t row_bytes = 0;
  int samples_per_plane = 0;
};

void copy_rows(const std::uint8_t* block, std::size_t block_row_bytes, std::size_t rows,
               std::size_t x_byte, std::size_t bytes, std::size_t first_row, const Planes& p,
               std::vector<std::uint8_t>* plane) {
  for (std::size_t r = 0; r < rows; ++r) {
    std::memcpy(plane->data() + (first_row + r) * p.row_bytes + x_byte, block + r * block_row_bytes,
                bytes);
  }
}

// Reads every strip or tile into planes; false on a libtiff error (the message is recorded).
bool read_planes(TIFF* tif, const Layout& l, std::uint32_t w, std::uint32_t h, Planes* p,
                 Source* source) {
  const bool separate = [&] {
    std::uint16_t planar = PLANARCONFIG_CONTIG;
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    return planar == PLANARCONFIG_SEPARATE && l.samples > 1;
  }();
  const int planes = separate ? l.samples : 1;
  p->samples_per_plane = separate ? 1 : l.samples;
  p->row_bytes = (static_cast<std::size_t>(w) * p->samples_per_plane * l.bits + 7) / 8;
  p->data.assign(static_cast<std::size_t>(planes), std::vector<std::uint8_t>(p->row_bytes * h));
  if (TIFFIsTiled(tif)) {
    std::uint32_t tw = 0;
    std::uint32_t th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    const tmsize_t tile_size = TIFFTileSize(tif);
    const std::size_t tile_row_bytes = static_cast<std::size_t>(TIFFTileRowSize(tif));
    // A tile may overhang the image, but not by gigabytes (a corrupt tile size).
    const std::size_t image_bytes = p->row_bytes * h * static_cast<std::size_t>(planes);
    if (tw == 0 || th == 0 || tile_size <= 0 ||
        static_cast<std::size_t>(tile_size) > 4 * image_bytes + (std::size_t{1} << 24)) {
      std::snprintf(source->message, sizeof source->message, "tiles of %u x %u pixels", tw, th);
      return false;
    }
    std::vector<std::uint8_t> tile(static_cast<std::size_t>(tile_size));
    for (int s = 0; s < planes; ++s) {
      for (std::uint32_t y = 0; y < h; y += th) {
        for (std::uint32_t x = 0; x < w; x += tw) {
          const ttile_t t = TIFFComputeTile(tif, x, y, 0, static_cast<std::uint16_t>(s));
          if (TIFFReadEncodedTile(tif, t, tile.data(), tile_size) < 0) return false;
          const std::size_t cols = std::min(tw, w - x);
          const std::size_t x_byte =
              static_cast<std::size_t>(x) * p->samples_per_plane * l.bits / 8;
          const std::size_t bytes = (cols * p->samples_per_plane * l.bits + 7) / 8;
          copy_rows(tile.data(), tile_row_bytes, std::min(th, h - y), x_byte, bytes, y, *p,
                    &p->data[static_cast<std::size_t>(s)]);
        }
      }
    }
    return true;
  }
  std::uint32_t rows_per_strip = h;
  TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
  rows_per_strip = std::max<std::uint32_t>(1, std::min(rows_per_strip, h));
  const tmsize_t strip_size = TIFFStripSize(tif);
  if (strip_size <= 0 || static_cast<std::size_t>(TIFFScanlineSize(tif)) < p->row_bytes)
    return false;
  std::vector<std::uint8_t> strip(static_cast<std::size_t>(strip_size));
  for (int s = 0; s < planes; ++s) {
    for (std::uint32_t y = 0; y < h; y += rows_per_strip) {
      const tstrip_t n = TIFFComputeStrip(tif, y, static_cast<std::uint16_t>(s));
      const tmsize_t got = TIFFReadEncodedStrip(tif, n, strip.data(), strip_size);
      const std::size_t rows = std::min(rows_per_strip, h - y);
      if (got < 0 || static_cast<std::size_t>(got) < rows * p->row_bytes) return false;
      copy_rows(strip.data(), p->row_bytes, rows, 0, p->row_bytes, y, *p,
                &p->data[static_cast<std::size_t>(s)]);
    }
  }
  return true;
}

// Raw value of sample s of pixel (x, y); 16- and 32-bit samples are in host order (libtiff
// swaps them).
std::uint32_t sample(const Planes& p, int bits, std::size_t x, std::size_t y, int s) {
  const bool separate = p.data.size() > 1;
  const std::uint8_t* row =
      p.data[separate ? static_cast<std::size_t>(s) : 0].data() + y * p.row_bytes;
  const std::size_t index = separate ? x : x * p.samples_per_plane + static_cast<std::size_t>(s);
  switch (bits) {
    case 8:
      return row[index];
    case 16: {
      std::uint16_t v;
      std::memcpy(&v, row + 2 * index, 2);
      return v;
    }
    case 32: {
      std::uint32_t v;
      std::memcpy(&v, row + 4 * index, 4);
      return v;
    }
    case 12: {  // two samples in three bytes, most significant bits first
      const std::size_t bit = index * 12;
      const std::uint32_t pair = (row[bit / 8] << 8) | row[bit / 8 + 1];
      return (pair >> (4 - bit % 8)) & 0xfff;
    }
    default: {
      const std::size_t bit = index * static_cast<std::size_t>(bits);
      return (row[bit / 8] >> (8 - bits - bit % 8)) & ((1u << bits) - 1);
    }
  }
}

std::uint8_t grey_byte(const Layout& l, std::uint32_t v) {
  switch (l.kind) {
    case Kind::kGreyFloat: {
      float f;
      std::memcpy(&f, &v, 4);
      return float_to_byte(f);
    }
    case Kind::kGreyInt:
      if (l.format == SAMPLEFORMAT_UINT && l.bits <= 16) return clip_to_byte(v);
      // Signed 16 bits, and 32 bits either way: PIL reads both into its signed mode "I".
      return clip_to_byte(l.bits == 16 ? static_cast<std::int16_t>(v)
                                       : static_cast<std::int32_t>(v));
    default: {
      const auto scaled = static_cast<std::uint8_t>(v * 255 / ((1u << l.bits) - 1));
      return l.photometric == PHOTOMETRIC_MINISWHITE ? 255 - scaled : scaled;
    }
  }
}

cv::Mat convert(const Layout& l, const Planes& p, int w, int h, const Palette& palette) {
  const bool alpha = l.alpha >= 0;
  const int channels =
      l.kind == Kind::kGrey || l.kind == Kind::kGreyInt || l.kind == Kind::kGreyFloat
          ? 1
          : (alpha ? 4 : 3);
  const int shift = l.bits == 16 ? 8 : 0;  // 16-bit colour keeps its high byte
  cv::Mat out(h, w, CV_8UC(channels));
  for (int y = 0; y < h; ++y) {
    std::uint8_t* o = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < w; ++x, o += channels) {
      const auto at = [&](int s) {
        return sample(p, l.bits, static_cast<std::size_t>(x), static_cast<std::size_t>(y), s);
      };
      switch (l.kind) {
        case Kind::kRgb:
          for (int c = 0; c < 3; ++c) o[c] = static_cast<std::uint8_t>(at(c) >> shift);
          break;
        case Kind::kCmyk: {
          const auto k = static_cast<int>(at(3) >> shift);
          for (int c = 0; c < 3; ++c)
            o[c] = cmyk_to_rgb_channel(static_cast<int>(at(c) >> shift), k);
          break;
        }
        case Kind::kPalette:
        case Kind::kPaletteAlpha:
          std::memcpy(o, palette[static_cast<int>(at(0))], 3);
          break;
        default:
          o[0] = grey_byte(l, at(0));
          if (channels == 4) o[1] = o[2] = o[0];
      }
      if (alpha) {
        o[3] = static_cast<std::uint8_t>(at(l.alpha) >> shift);
        if (l.premultiplied) {
          for (int c = 0; c < 3; ++c) o[c] = unpremultiply(o[c], o[3]);
        }
      }
    }
  }
  return out;
}

cv::Mat read_rgba_interface(TIFF* tif, std::uint32_t w, std::uint32_t h) {
  cv::Mat raster(static_cast<int>(h), static_cast<int>(w), CV_32SC1);
  if (!TIFFReadRGBAImageOriented(tif, w, h, raster.ptr<std::uint32_t>(), ORIENTATION_TOPLEFT, 1)) {
    return cv::Mat();
  }
  cv::Mat rgb(raster.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint32_t* in = raster.ptr<std::uint32_t>(y);
    std::uint8_t* out = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, out += 3) {
      out[0] = static_cast<std::uint8_t>(TIFFGetR(in[x]));
      out[1] = static_cast<std::uint8_t>(TIFFGetG(in[x]));
      out[2] = static_cast<std::uint8_t>(TIFFGetB(in[x]));
    }
  }
  return rgb;
}

Palette read_colormap(TIFF* tif, const Layout& l) {
  Palette palette;
  std::uint16_t* r = nullptr;
  std::uint16_t* g = nullptr;
  std::uint16_t* b = nullptr;
  if (TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b)) {
    for (int i = 0; i < (1 << l.bits) && i < 256; ++i) {
      palette.set(i, static_cast<std::uint8_t>(r[i] >> 8), static_cast<std::uint8_t>(g[i] >> 8),
                  static_cast<std::uint8_t>(b[i] >> 8));
    }
  }
  return palette;
}

std::string describe(const Layout& l) {
  std::string extras;
  for (std::uint16_t e : l.extras) extras += (extras.empty() ? "" : ",") + std::to_string(e);
  return "photometric " + std::to_string(l.photometric) + ", " + std::to_string(l.samples) +
         " samples of " + std::to_string(l.bits) + " bits, sample format " +
         std::to_string(l.format) + ", extra samples (" + extras + "), compression " +
         std::to_string(l.compression);
}

}  // namespace

cv::Mat decode_tiff(const EncodedImage& file) {
  Source source{&file, 0, "", false};
  const std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> options(TIFFOpenOptionsAlloc(),
                                                                             TIFFOpenOptionsFree);
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), on_tiff_error, &source);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), on_tiff_warning, &source);
  const std::unique_ptr<TIFF, void (*)(TIFF*)> tif(
      TIFFClientOpenExt(file.path.c_str(), "rm", &source, read_proc, write_proc, seek_proc,
                        close_proc, size_proc, nullptr, nullptr, options.get()),
      TIFFClose);
  if (!tif) image_fail(file, std::string("cannot be decoded as TIFF: ") + source.message);
  if (source.lost_layout_tag) {
    image_fail(file, "is a truncated TIFF file (its colormap or bit depth lies past its end)");
  }
  std::uint32_t w = 0;
  std::uint32_t h = 0;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h);
  check_image_size(file, w, h);
  Layout layout = read_layout(tif.get());
  if (!classify(&layout)) {
    image_fail(file, "has a TIFF layout PIL does not read either (" + describe(layout) + ")");
  }
  const std::string corrupt = "cannot be decoded as TIFF (corrupt or truncated): ";
  if (layout.kind == Kind::kYcbcr) {
    cv::Mat rgb = read_rgba_interface(tif.get(), w, h);
    if (rgb.empty()) image_fail(file, corrupt + source.message);
    return rgb;
  }
  if (layout.photometric == PHOTOMETRIC_YCBCR) {
    TIFFSetField(tif.get(), TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  }
  Planes planes;
  if (!read_planes(tif.get(), layout, w, h, &planes, &source)) {
    image_fail(file, corrupt + (source.message[0] != '\0' ? source.message : "no image data"));
  }
  const Palette palette =
      layout.photometric == PHOTOMETRIC_PALETTE ? read_colormap(tif.get(), layout) : Palette();
  return convert(layout, planes, static_cast<int>(w), static_cast<int>(h), palette);
}

}  // namespace oodflow::extract
