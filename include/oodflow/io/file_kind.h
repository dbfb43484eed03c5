// What a file really is, from its first bytes, and what its name promises. A failed download
// leaves an HTML page under the name `train-images-idx3-ubyte.gz`; a reader that trusts the
// bytes alone then takes it for another format (a list of images) and fails far from the
// cause. Readers call check_kind_matches_name() first: a name that promises one format and
// bytes that are another give one error naming the file and what it starts with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace oodflow::io {

enum class FileKind {
  kUnknown,      ///< binary data of no kind listed here
  kEmpty,        ///< no bytes
  kText,         ///< printable text (UTF-8), no NUL bytes
  kHtml,         ///< an HTML or XML page (what a failed download saves)
  kGzip,         ///< gzip data (1f 8b)
  kZip,          ///< a zip archive: .npz, TorchScript .pt
  kNpy,          ///< NumPy .npy ("\x93NUMPY")
  kSafetensors,  ///< 8-byte header length, then a JSON object
  kIdx,          ///< IDX (00 00 type ndims), as MNIST's files
  kImage,        ///< PNG, JPEG, BMP, GIF, TIFF, WebP, PNM
};

/// A short English name of the kind ("gzip data", "an HTML page", ...).
const char* file_kind_name(FileKind kind);

/// The kind the first bytes show (`size` may be the whole file or its first 64+ bytes).
FileKind sniff_file_kind(const std::uint8_t* data, std::size_t size);

/// The kind the file name promises by its extension (".gz", ".npy", ".safetensors", ".npz",
/// "-ubyte"/".idx", image extensions), or kUnknown when the name promises nothing.
FileKind kind_from_name(const std::string& path);

/// One phrase for what the bytes are: "starts with '<!DOCTY' (an HTML page?)", "is empty",
/// "starts with bytes 50 4b 03 04 (a zip archive?)".
std::string describe_file_start(const std::uint8_t* data, std::size_t size);

/// Throws Error when the name of `path` promises a kind that the bytes contradict, e.g.
/// "'x.gz' is not gzip data: it starts with '<!DOCTY' (an HTML page? a failed download
/// leaves one)". Also refuses an HTML page under any name (no reader of oodflow takes one).
void check_kind_matches_name(const std::string& path, const std::uint8_t* data, std::size_t size);

/// Throws Error for a zip archive (an .npz holds several arrays: "save one with np.save") or
/// gzip data, for the readers that take neither (features, scores).
void refuse_archive(const std::string& path, const std::uint8_t* data, std::size_t size);

}  // namespace oodflow::io
