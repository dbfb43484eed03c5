// PBM, PGM and PPM (P1-P6) by the rules of PIL 9.4's PPM plugin: samples are rescaled from
// maxval to 255 with Python's round() (halves to even); grey with maxval above 255 is PIL's
// mode "I" (rescaled to 65535, then clipped to 255 by convert()), except maxval 65535, which
// PIL reads unscaled and clips alike. OpenCV neither rescales nor clips this way.
#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <string>

#include "image_decoders.h"

namespace oodflow::extract {
namespace {

constexpr std::size_t kMaxTokenLength = 10;

bool is_space(std::uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

class PnmReader {
 public:
  explicit PnmReader(const EncodedImage& file) : file_(file) {}

  std::size_t pos() const { return pos_; }
  void seek(std::size_t pos) { pos_ = pos; }
  bool at_end() const { return pos_ >= file_.size; }
  std::uint8_t next() { return file_.data[pos_++]; }

  // A comment runs from '#' to the end of the line (or of the file).
  void skip_comment() {
    while (!at_end()) {
      const std::uint8_t c = next();
      if (c == '\r' || c == '\n') return;
    }
  }

  // A header token as PIL reads it: whitespace before it skipped, comments dropped even
  // inside it, and the one whitespace byte after it consumed.
  long header_number(const char* what) {
    std::string token;
    while (token.size() <= kMaxTokenLength && !at_end()) {
      const std::uint8_t c = next();
      if (is_space(c)) {
        if (token.empty()) continue;
        break;
      }
      if (c == '#') {
        skip_comment();
        continue;
      }
      token.push_back(static_cast<char>(c));
    }
    if (token.empty()) fail(std::string("has no ") + what + " in its header");
    if (token.size() > kMaxTokenLength) fail(std::string("has a ") + what + " of over 10 digits");
    return parse(token, what);
  }

  // A sample of the plain (ASCII) formats: PIL drops comments first, so that one joins the
  // text around it. Returns false at the end of the file.
  bool plain_token(std::string* token) {
    token->clear();
    while (!at_end()) {
      const std::uint8_t c = next();
      if (c == '#') {
        skip_comment();
      } else if (!is_space(c)) {
        token->push_back(static_cast<char>(c));
      } else if (!token->empty()) {
        return true;
      }
    }
    return !token->empty();
  }

  long parse(const std::string& token, const char* what) const {
    std::size_t used = 0;
    long v = -1;
    try {
      v = std::stol(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size()) fail(std::string("has a malformed ") + what + " '" + token + "'");
    return v;
  }

  [[noreturn]] void fail(const std::string& what) const { image_fail(file_, what); }

 private:
  const EncodedImage& file_;
  std::size_t pos_ = 0;
};

// Python's round(v / maxval * out_max): the same double operations, halves to even.
long rescale(long v, long maxval, long out_max) {
  const double scaled = std::nearbyint(static_cast<double>(v) / static_cast<double>(maxval) *
                                       static_cast<double>(out_max));
  return std::min(out_max, static_cast<long>(scaled));
}

// One output byte of a sample: PIL's mode "I" (grey above maxval 255) is clipped by convert().
std::uint8_t sample_byte(long v, long maxval, bool mode_i) {
  if (maxval == 255) return static_cast<std::uint8_t>(v);
  if (mode_i) return clip_to_byte(maxval == 65535 ? v : rescale(v, maxval, 65535));
  return static_cast<std::uint8_t>(rescale(v, maxval, 255));
}

cv::Mat read_bitmap(PnmReader& in, const EncodedImage& file, int w, int h, bool plain) {
  const std::size_t total = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
  const std::size_t row_bytes = (static_cast<std::size_t>(w) + 7) / 8;
  // Checked before allocating: a plain pixel takes a byte at least.
  if (file.size - in.pos() < (plain ? total : row_bytes * static_cast<std::size_t>(h))) {
    in.fail("is a truncated PBM file (its pixels end early)");
  }
  cv::Mat out(h, w, CV_8UC1);
  if (!plain) {
    for (int y = 0; y < h; ++y) {
      const std::uint8_t* row = file.data + in.pos() + row_bytes * static_cast<std::size_t>(y);
      for (int x = 0; x < w; ++x) {
        out.at<std::uint8_t>(y, x) = ((row[x / 8] >> (7 - x % 8)) & 1) != 0 ? 0 : 255;
      }
    }
    return out;
  }
  // PIL checks every character of the data, also past the last pixel.
  std::size_t n = 0;
  std::string token;
  while (in.plain_token(&token)) {
    for (char c : token) {
      if (c != '0' && c != '1') in.fail(std::string("has a PBM pixel '") + c + "' (not 0 or 1)");
      if (n < total) out.data[n++] = c == '1' ? 0 : 255;
    }
  }
  if (n < total) in.fail("is a truncated PBM file (its pixels end early)");
  return out;
}

cv::Mat read_samples(PnmReader& in, const EncodedImage& file, int w, int h, int bands, long maxval,
                     bool plain) {
  const bool mode_i = bands == 1 && maxval > 255;
  const std::size_t total =
      static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * static_cast<std::size_t>(bands);
  // Checked before allocating: a plain sample takes a digit and a separator at least.
  const std::size_t sample_bytes = maxval < 256 ? 1 : 2;
  if ((file.size - in.pos()) / (plain ? 2 : sample_bytes) < total - (plain ? 1 : 0)) {
    in.fail(std::string("is a truncated ") + (bands == 1 ? "PGM" : "PPM") +
            " file (its pixels end early)");
  }
  cv::Mat out(h, w, CV_8UC(bands));
  if (!plain) {
    const std::uint8_t* p = file.data + in.pos();
    for (std::size_t i = 0; i < total; ++i, p += sample_bytes) {
      const long v = sample_bytes == 1 ? p[0] : (p[0] << 8) | p[1];
      out.data[i] = sample_byte(v, maxval, mode_i);
    }
    return out;
  }
  std::string token;
  std::size_t n = 0;
  for (; n < total && in.plain_token(&token); ++n) {
    if (token.size() > kMaxTokenLength) in.fail("has a sample of over 10 digits");
    const long v = in.parse(token, "sample");
    if (v < 0 || v > maxval) {
      in.fail("has a sample " + token + " above its maxval " + std::to_string(maxval));
    }
    out.data[n] = mode_i ? clip_to_byte(rescale(v, maxval, 65535))
                         : static_cast<std::uint8_t>(rescale(v, maxval, 255));
  }
  if (n < total) {
    in.fail(std::string("is a truncated ") + (bands == 1 ? "PGM" : "PPM") +
            " file (its pixels end early)");
  }
  return out;
}

}  // namespace

cv::Mat decode_pnm(const EncodedImage& file) {
  PnmReader in(file);
  const char kind = static_cast<char>(file.data[1]);
  // PIL reads the magic number up to the first whitespace byte: "P6x" is no PPM file.
  in.seek(2);
  if (!in.at_end() && !is_space(in.next())) {
    image_fail(file, "is not a PBM/PGM/PPM file (no whitespace after its magic number)");
  }
  const long w = in.header_number("width");
  const long h = in.header_number("height");
  check_image_size(file, w, h);
  const bool plain = kind <= '3';
  if (kind == '1' || kind == '4') {
    return read_bitmap(in, file, static_cast<int>(w), static_cast<int>(h), plain);
  }
  const long maxval = in.header_number("maxval");
  if (maxval < 1 || maxval > 65535) {
    image_fail(file, "has maxval " + std::to_string(maxval) + " (PIL reads 1 to 65535)");
  }
  const int bands = kind == '2' || kind == '5' ? 1 : 3;
  return read_samples(in, file, static_cast<int>(w), static_cast<int>(h), bands, maxval, plain);
}

}  // namespace oodflow::extract
