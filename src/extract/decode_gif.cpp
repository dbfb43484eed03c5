// GIF by the rules of PIL 9.4's GIF plugin, first frame only (what Image.open() gives before any
// seek): the blocks before the first image are walked as PIL walks them (bytes it does not know
// are skipped, the last graphic control extension with a transparency index wins), giflib
// decodes the LZW image data, and the frame is placed on PIL's canvas:
// - the canvas is the logical screen, grown to hold the frame when the frame reaches past it;
// - outside the frame it holds the transparency index when the frame has one, else index 0
//   (not the background colour index);
// - the frame's colours are its local colour table, else the global one; a table that is the
//   grey ramp 0, 1, 2, ... (every entry i is (i, i, i)) is no palette to PIL, which then reads
//   the image as mode L, the indices as grey levels; indices past a table read as grey too;
// - convert("RGB") and convert("L") ignore transparency: a transparent pixel has its palette
//   colour.
// PIL decodes the first frame's pixels and nothing more, so bytes after them (the block
// terminator, further frames, the trailer, junk) are never read; a file that ends before the
// last pixel is refused as truncated, LZW codes PIL finds broken are refused (giflib decodes
// them as something), see check_codes().
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "image_decoders.h"

namespace oodflow::extract {
namespace {

constexpr std::uint8_t kExtension = '!';
constexpr std::uint8_t kImage = ',';
constexpr std::uint8_t kTrailer = ';';
constexpr std::uint8_t kGraphicControl = 0xf9;

int gif_u16(const std::uint8_t* p) {
  return p[0] | (p[1] << 8);
}

[[noreturn]] void truncated(const EncodedImage& file, const std::string& where) {
  image_fail(file, "is a truncated GIF file (it ends " + where + ")");
}

// A colour table as PIL keeps it: absent, or a palette unless it is the grey ramp.
struct ColourTable {
  bool present = false;
  bool grey_ramp = false;
  Palette palette;
};

// Reads a table of `entries` RGB triples at `pos`.
ColourTable read_table(const EncodedImage& file, std::size_t* pos, int entries,
                       const std::string& what) {
  const std::size_t bytes = 3 * static_cast<std::size_t>(entries);
  if (file.size - *pos < bytes) truncated(file, "in its " + what);
  ColourTable table;
  table.present = true;
  table.grey_ramp = true;
  const std::uint8_t* p = file.data + *pos;
  for (int i = 0; i < entries; ++i) {
    const std::uint8_t* c = p + 3 * i;
    table.palette.set(i, c[0], c[1], c[2]);
    table.grey_ramp = table.grey_ramp && c[0] == i && c[1] == i && c[2] == i;
  }
  *pos += bytes;
  return table;
}

// Skips a chain of data sub-blocks (length byte, bytes), up to its empty block or the end of
// the file, as PIL does.
void skip_sub_blocks(const EncodedImage& file, std::size_t* pos) {
  while (*pos < file.size) {
    const std::size_t length = file.data[(*pos)++];
    if (length == 0) return;
    *pos += std::min(length, file.size - *pos);
  }
}

// The first frame as the blocks before it describe it.
struct Frame {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  bool interlaced = false;
  int transparency = -1;
  ColourTable local;
  int code_size = 0;
  std::size_t data = 0;  // the image data's first sub-block
};

Frame read_first_frame(const EncodedImage& file, std::size_t pos) {
  Frame frame;
  for (;;) {
    if (pos >= file.size) truncated(file, "before its first image");
    const std::uint8_t introducer = file.data[pos++];
    if (introducer == kTrailer) image_fail(file, "is a GIF file without an image");
    if (introducer == kExtension) {
      if (pos >= file.size) truncated(file, "in an extension block");
      const std::uint8_t label = file.data[pos++];
      if (label == kGraphicControl) {
        // PIL reads flags, delay and transparency index from the first sub-block.
        if (pos >= file.size) truncated(file, "in a graphic control extension");
        const std::size_t length = file.data[pos];
        if (length < 4) {
          image_fail(file, "has a graphic control extension of " + std::to_string(length) +
                               " bytes, which PIL does not read either (4)");
        }
        if (file.size - pos - 1 < 4) truncated(file, "in a graphic control extension");
        const std::uint8_t* block = file.data + pos + 1;
        if (block[0] & 1) frame.transparency = block[3];
      }
      skip_sub_blocks(file, &pos);
    } else if (introducer == kImage) {
      if (file.size - pos < 9) truncated(file, "in its image descriptor");
      const std::uint8_t* d = file.data + pos;
      frame.x = gif_u16(d);
      frame.y = gif_u16(d + 2);
      frame.width = gif_u16(d + 4);
      frame.height = gif_u16(d + 6);
      const std::uint8_t flags = d[8];
      frame.interlaced = (flags & 0x40) != 0;
      pos += 9;
      if (flags & 0x80) {
        frame.local = read_table(file, &pos, 2 << (flags & 7), "local colour table");
      }
      if (pos >= file.size) truncated(file, "before its image data");
      frame.code_size = file.data[pos++];
      frame.data = pos;
      return frame;
    }
    // PIL skips any other byte between blocks.
  }
}

// PIL's ImageFile.load() hands the decoder the file from the image data on in reads of 64 KiB.
constexpr std::size_t kPilReadSize = 65536;

// What PIL's GIF decoder makes of the LZW codes of the first frame. It decodes a sub-block
// once the whole of it has been read, skips empty sub-blocks (a block terminator included: it
// reads on into whatever follows), and stops at the frame's last pixel. An end code before it
// makes the decoder wait for the next read of the file, which goes on decoding; where there
// is none, PIL reports the file as truncated.
enum class CodeCheck { kComplete, kBroken, kTruncated };

struct CodeScan {
  CodeCheck result = CodeCheck::kComplete;
  std::size_t end = 0;  // after the sub-block holding the last pixel's code
};

CodeScan check_codes(const EncodedImage& file, std::size_t pos, int code_size,
                     std::int64_t pixels) {
  constexpr int kTableSize = 4096;
  constexpr int kMaxWidth = 12;
  const int clear = 1 << code_size;
  const int end_code = clear + 1;
  std::vector<std::int32_t> length(kTableSize, 1);  // string length of each code
  int next = clear + 2;
  int width = code_size + 1;
  bool after_clear = true;
  int last = 0;
  std::uint32_t bits = 0;
  int bit_count = 0;
  std::size_t block_left = 0;
  std::int64_t done = 0;
  std::size_t available = std::min(file.size, pos + kPilReadSize);  // what PIL has read
  // PIL reads on, or finds the file truncated.
  const auto read_more = [&] {
    if (available == file.size) return false;
    available = std::min(file.size, available + kPilReadSize);
    return true;
  };
  CodeScan scan;
  while (done < pixels) {
    while (bit_count < width) {
      if (block_left > 0) {
        bits |= static_cast<std::uint32_t>(file.data[pos++]) << bit_count;
        bit_count += 8;
        --block_left;
      } else if (pos < available && file.data[pos] < available - pos) {
        block_left = file.data[pos++];
      } else if (!read_more()) {
        scan.result = CodeCheck::kTruncated;
        return scan;
      }
    }
    const int code = static_cast<int>(bits & ((1u << width) - 1));
    bits >>= width;
    bit_count -= width;
    if (code == clear) {
      next = clear + 2;
      width = code_size + 1;
      after_clear = true;
    } else if (code == end_code) {
      if (!read_more()) {
        scan.result = CodeCheck::kTruncated;
        return scan;
      }
    } else if (after_clear) {
      if (code > clear) {
        scan.result = CodeCheck::kBroken;
        return scan;
      }
      after_clear = false;
      last = code;
      done += 1;
    } else {
      if (code > next) {
        scan.result = CodeCheck::kBroken;
        return scan;
      }
      const std::int32_t n = code == next ? length[last] + 1 : length[code];
      if (next < kTableSize) {
        length[next] = length[last] + 1;
        if (next == (1 << width) - 1 && width < kMaxWidth) ++width;
        ++next;
      }
      last = code;
      done += n;
    }
  }
  scan.end = pos + block_left;
  return scan;
}

// The first frame's image data for giflib: a minimal GIF around the non-empty LZW sub-blocks
// that PIL decodes, up to `end`, then a block terminator.
std::vector<std::uint8_t> gif_stream(const EncodedImage& file, const Frame& frame, int width,
                                     int height, std::size_t end) {
  std::vector<std::uint8_t> s = {'G', 'I', 'F', '8', '9', 'a'};
  const auto put16 = [&](int v) {
    s.push_back(static_cast<std::uint8_t>(v & 0xff));
    s.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  put16(width);
  put16(height);
  s.insert(s.end(), {0, 0, 0, kImage});  // no global table
  put16(0);
  put16(0);
  put16(width);
  put16(height);
  s.push_back(0);  // not interlaced (rows are placed here), no local table
  s.push_back(static_cast<std::uint8_t>(frame.code_size));
  for (std::size_t pos = frame.data; pos < end;) {
    const std::size_t length = file.data[pos];
    if (length > 0) s.insert(s.end(), file.data + pos, file.data + pos + 1 + length);
    pos += 1 + length;
  }
  s.push_back(0);
  s.push_back(kTrailer);
  return s;
}

struct GifStream {
  std::vector<std::uint8_t> bytes;
  std::size_t pos = 0;
};

int read_stream(GifFileType* gif, GifByteType* out, int n) {
  auto* s = static_cast<GifStream*>(gif->UserData);
  const std::size_t count = std::min(static_cast<std::size_t>(n), s->bytes.size() - s->pos);
  std::memcpy(out, s->bytes.data() + s->pos, count);
  s->pos += count;
  return static_cast<int>(count);
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int error = 0;
    DGifCloseFile(gif, &error);
  }
};

// Row of the frame that the i-th decoded line fills: interlaced GIFs store rows 0, 8, 16, ...,
// then 4, 12, ..., then 2, 6, ..., then 1, 3, ...
std::vector<int> row_order(int height, bool interlaced) {
  std::vector<int> rows;
  rows.reserve(static_cast<std::size_t>(height));
  if (!interlaced) {
    for (int y = 0; y < height; ++y) rows.push_back(y);
    return rows;
  }
  constexpr int kStart[] = {0, 4, 2, 1};
  constexpr int kStep[] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int y = kStart[pass]; y < height; y += kStep[pass]) rows.push_back(y);
  }
  return rows;
}

}  // namespace

cv::Mat decode_gif(const EncodedImage& file) {
  if (file.size < 13) truncated(file, "in its header");
  if (std::memcmp(file.data, "GIF87a", 6) != 0 && std::memcmp(file.data, "GIF89a", 6) != 0) {
    image_fail(file, "is a GIF file of version '" +
                         std::string(reinterpret_cast<const char*>(file.data), 6) +
                         "', which PIL does not read either (GIF87a, GIF89a)");
  }
  const int screen_width = gif_u16(file.data + 6);
  const int screen_height = gif_u16(file.data + 8);
  const std::uint8_t screen_flags = file.data[10];
  std::size_t pos = 13;
  ColourTable global;
  if (screen_flags & 0x80) {
    global = read_table(file, &pos, 2 << (screen_flags & 7), "global colour table");
  }
  const Frame frame = read_first_frame(file, pos);

  // PIL grows the canvas to hold the frame; an extent of x 0..0 stands for the whole canvas.
  const int width = std::max(screen_width, frame.x + frame.width);
  const int height = std::max(screen_height, frame.y + frame.height);
  check_image_size(file, width, height);
  int left = frame.x;
  int top = frame.y;
  int frame_width = frame.width;
  int frame_height = frame.height;
  if (left == 0 && frame_width == 0) {
    top = 0;
    frame_width = width;
    frame_height = height;
  }
  if (frame_width <= 0 || frame_height <= 0) {
    image_fail(file, "has an empty first frame (" + std::to_string(frame.width) + " x " +
                         std::to_string(frame.height) + "), which PIL does not read either");
  }
  if (frame_width > 0xffff || frame_height > 0xffff) {
    image_fail(file, "has a first frame of " + std::to_string(frame_width) + " x " +
                         std::to_string(frame_height) + " pixels, more than GIF can describe");
  }
  if (frame.code_size > 8) {
    image_fail(file, "has an LZW code size of " + std::to_string(frame.code_size) +
                         ", above the 8 that GIF allows, which oodflow does not decode");
  }

  cv::Mat indices(height, width, CV_8UC1,
                  cv::Scalar(frame.transparency >= 0 ? frame.transparency : 0));
  const std::int64_t pixels = std::int64_t{frame_width} * frame_height;
  const CodeScan scan = check_codes(file, frame.data, frame.code_size, pixels);
  if (scan.result == CodeCheck::kTruncated) truncated(file, "in its first frame's image data");
  if (scan.result == CodeCheck::kBroken) {
    image_fail(file, "has broken LZW codes in its first frame, which PIL refuses too");
  }
  GifStream stream;
  stream.bytes = gif_stream(file, frame, frame_width, frame_height, scan.end);
  int error = 0;
  const std::unique_ptr<GifFileType, GifCloser> gif(DGifOpen(&stream, read_stream, &error));
  // PIL reads these codes; giflib stops at an end code before the last pixel, which PIL reads
  // past when more of the file follows.
  const auto fail = [&](int code) {
    const char* what = GifErrorString(code);
    image_fail(file,
               std::string("has an end code before the last pixel of its first frame, which PIL "
                           "reads past and oodflow does not (giflib: ") +
                   (what ? what : "unknown error") + ")");
  };
  if (!gif) fail(error);
  GifRecordType record = UNDEFINED_RECORD_TYPE;
  if (DGifGetRecordType(gif.get(), &record) == GIF_ERROR) fail(gif->Error);
  if (DGifGetImageDesc(gif.get()) == GIF_ERROR) fail(gif->Error);
  std::vector<GifPixelType> line(static_cast<std::size_t>(frame_width));
  for (const int row : row_order(frame_height, frame.interlaced)) {
    if (DGifGetLine(gif.get(), line.data(), frame_width) == GIF_ERROR) fail(gif->Error);
    std::memcpy(indices.ptr<std::uint8_t>(top + row) + left, line.data(), line.size());
  }

  // PIL's palette: the local table, else the global one, unless it is the grey ramp. (A grey
  // ramp local table over a global palette gives mode L, whose convert("RGB") shows the global
  // palette's colours: that is the global table here.)
  const ColourTable* table = nullptr;
  if (frame.local.present && !frame.local.grey_ramp) {
    table = &frame.local;
  } else if (global.present && !global.grey_ramp) {
    table = &global;
  }
  if (table == nullptr) return indices;
  cv::Mat rgb(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* in = indices.ptr<std::uint8_t>(y);
    std::uint8_t* out = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < width; ++x) std::memcpy(out + 3 * x, table->palette[in[x]], 3);
  }
  return rgb;
}

}  // namespace oodflow::extract
