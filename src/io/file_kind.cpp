#include "oodflow/io/file_kind.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "oodflow/core/error.h"

namespace oodflow::io {
namespace {

bool starts_with(const std::uint8_t* data, std::size_t size, const char* magic, std::size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Markup after optional blanks and a UTF-8 byte-order mark: what a web server sends back for
// a missing file or a login page.
bool is_markup(const std::uint8_t* data, std::size_t size) {
  std::size_t i = starts_with(data, size, "\xef\xbb\xbf", 3) ? 3 : 0;
  while (i < size && std::isspace(data[i])) ++i;
  std::string head;
  for (std::size_t j = i; j < size && head.size() < 16; ++j) {
    head.push_back(static_cast<char>(std::tolower(data[j])));
  }
  for (const char* tag : {"<!doctype", "<html", "<?xml", "<head", "<body", "<!--"}) {
    if (head.compare(0, std::strlen(tag), tag) == 0) return true;
  }
  return false;
}

// Text as editors and spreadsheets write it: no NUL and no control bytes but blanks, in
// any 8-bit encoding (UTF-8, Latin-1, cp1252), or UTF-16 with its byte-order mark.
bool is_text(const std::uint8_t* data, std::size_t size) {
  if (starts_with(data, size, "\xff\xfe", 2) || starts_with(data, size, "\xfe\xff", 2)) return true;
  for (std::size_t i = 0; i < size; ++i) {
    const std::uint8_t c = data[i];
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
    if (c == 0x7f) return false;
  }
  return true;
}

bool is_image(const std::uint8_t* data, std::size_t size) {
  return starts_with(data, size, "\x89PNG", 4) || starts_with(data, size, "\xff\xd8\xff", 3) ||
         starts_with(data, size, "GIF8", 4) || starts_with(data, size, "BM", 2) ||
         starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4) ||
         (starts_with(data, size, "RIFF", 4) && size >= 12 &&
          std::memcmp(data + 8, "WEBP", 4) == 0);
}

bool is_idx(const std::uint8_t* data, std::size_t size) {
  if (size < 4 || data[0] != 0 || data[1] != 0) return false;
  const std::uint8_t type = data[2];
  const bool known_type = type == 0x08 || type == 0x09 || (type >= 0x0b && type <= 0x0e);
  return known_type && data[3] >= 1 && data[3] <= 8;
}

bool is_safetensors(const std::uint8_t* data, std::size_t size) {
  return size >= 9 && data[8] == '{' && data[7] == 0 && data[6] == 0;
}

// The kinds of bytes a file named as `named` may hold.
bool compatible(FileKind named, FileKind found, const std::string& name, const std::uint8_t* data,
                std::size_t size) {
  switch (named) {
    case FileKind::kImage: {
      // Plain PNM (P1-P3) is text; other images are binary data this sniffer may not know.
      const bool pnm = ends_with(name, ".ppm") || ends_with(name, ".pgm") ||
                       ends_with(name, ".pbm") || ends_with(name, ".pnm");
      return found == FileKind::kImage || found == FileKind::kUnknown ||
             (pnm && found == FileKind::kText);
    }
    case FileKind::kText:
      // Binary data of no known kind goes to the text reader, which names what is wrong
      // with it (UTF-16 without a byte-order mark, a NUL byte).
      return found == FileKind::kText || found == FileKind::kEmpty || found == FileKind::kUnknown;
    case FileKind::kSafetensors:
      // A plausible header length: the safetensors parser names what is wrong after it (a
      // header that does not start with '{', bad JSON) better than its first bytes would.
      return found == named || (found == FileKind::kUnknown && size >= 9 && data[7] == 0 &&
                                data[6] == 0 && data[5] == 0);
    case FileKind::kUnknown:
      return true;
    default:
      return found == named;
  }
}

}  // namespace

const char* file_kind_name(FileKind kind) {
  switch (kind) {
    case FileKind::kUnknown:
      return "binary data";
    case FileKind::kEmpty:
      return "an empty file";
    case FileKind::kText:
      return "text";
    case FileKind::kHtml:
      return "an HTML page";
    case FileKind::kGzip:
      return "gzip data";
    case FileKind::kZip:
      return "a zip archive";
    case FileKind::kNpy:
      return "a .npy array";
    case FileKind::kSafetensors:
      return "a safetensors file";
    case FileKind::kIdx:
      return "an IDX file";
    case FileKind::kImage:
      return "an image file";
  }
  return "?";
}

FileKind sniff_file_kind(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return FileKind::kEmpty;
  if (starts_with(data, size, "\x1f\x8b", 2)) return FileKind::kGzip;
  if (starts_with(data, size, "\x93NUMPY", 6)) return FileKind::kNpy;
  if (starts_with(data, size, "PK\x03\x04", 4) || starts_with(data, size, "PK\x05\x06", 4)) {
    return FileKind::kZip;
  }
  if (is_idx(data, size)) return FileKind::kIdx;
  if (is_safetensors(data, size)) return FileKind::kSafetensors;
  if (is_image(data, size)) return FileKind::kImage;
  if (is_markup(data, size)) return FileKind::kHtml;
  return is_text(data, std::min<std::size_t>(size, 4096)) ? FileKind::kText : FileKind::kUnknown;
}

FileKind kind_from_name(const std::string& path) {
  const std::string name = lower(path.substr(path.find_last_of('/') + 1));
  if (ends_with(name, ".gz") || ends_with(name, ".gzip")) return FileKind::kGzip;
  if (ends_with(name, ".npy")) return FileKind::kNpy;
  if (ends_with(name, ".npz")) return FileKind::kZip;
  if (ends_with(name, ".safetensors")) return FileKind::kSafetensors;
  if (ends_with(name, "-ubyte") || ends_with(name, ".idx") || ends_with(name, ".idx1") ||
      ends_with(name, ".idx3")) {
    return FileKind::kIdx;
  }
  if (ends_with(name, ".txt") || ends_with(name, ".csv") || ends_with(name, ".tsv") ||
      ends_with(name, ".lst")) {
    return FileKind::kText;
  }
  for (const char* ext : {".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".pnm", ".bmp", ".tif",
                          ".tiff", ".webp", ".gif"}) {
    if (ends_with(name, ext)) return FileKind::kImage;
  }
  return FileKind::kUnknown;
}

std::string describe_file_start(const std::uint8_t* data, std::size_t size) {
  const FileKind kind = sniff_file_kind(data, size);
  if (kind == FileKind::kEmpty) return "is empty";
  std::ostringstream out;
  // The printable start as text ("<!DOCTYP"), else the first bytes in hex.
  std::size_t shown = 0;
  while (shown < std::min<std::size_t>(size, 8) && data[shown] >= 0x20 && data[shown] < 0x7f &&
         data[shown] != '\'') {
    ++shown;
  }
  if (shown >= 3 || shown == size) {
    out << "starts with '" << std::string(reinterpret_cast<const char*>(data), shown) << "'";
  } else {
    out << "starts with bytes" << std::hex << std::setfill('0');
    for (std::size_t i = 0; i < std::min<std::size_t>(size, 4); ++i) {
      out << ' ' << std::setw(2) << int{data[i]};
    }
  }
  switch (kind) {
    case FileKind::kHtml:
      out << " (an HTML page? a failed download leaves one)";
      break;
    case FileKind::kText:
      out << " (text)";
      break;
    case FileKind::kUnknown:
      break;
    case FileKind::kZip:
      out << " (a zip archive: a .npz or a TorchScript .pt?)";
      break;
    default:
      out << " (" << file_kind_name(kind) << "?)";
  }
  return out.str();
}

void check_kind_matches_name(const std::string& path, const std::uint8_t* data, std::size_t size) {
  const FileKind found = sniff_file_kind(data, size);
  const FileKind named = kind_from_name(path);
  const std::string name = lower(path.substr(path.find_last_of('/') + 1));
  if (found == FileKind::kHtml) {
    const std::string start = describe_file_start(data, size);
    OODFLOW_FAIL("'" << path << "' is an HTML page"
                     << (named == FileKind::kUnknown
                             ? std::string()
                             : std::string(", not ") + file_kind_name(named))
                     << ": it " << start.substr(0, start.find(" (")) << " (a failed download or "
                     << "an error page leaves one); fetch the file again");
  }
  OODFLOW_CHECK(compatible(named, found, name, data, size),
                "'" << path << "' is named like " << file_kind_name(named) << " but is not: it "
                    << describe_file_start(data, size));
}

void refuse_archive(const std::string& path, const std::uint8_t* data, std::size_t size) {
  const FileKind kind = sniff_file_kind(data, size);
  OODFLOW_CHECK(kind != FileKind::kZip,
                "'" << path << "' is a zip archive (an .npz of several arrays?); oodflow reads "
                    << "one array per .npy file: save it with np.save");
  OODFLOW_CHECK(kind != FileKind::kGzip,
                "'" << path << "' is gzip-compressed; decompress it first (gunzip)");
}

}  // namespace oodflow::io
