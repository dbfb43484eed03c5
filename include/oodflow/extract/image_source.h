// Where images come from: an image folder (torchvision's ImageFolder convention), a list
// file, IDX files (MNIST / Fashion-MNIST) or a .npy array of images. Every source is an
// indexed, read-only collection, so extraction can split it into batches, worker threads and
// shards without knowing which kind it is.
#pragma once

#include <cstdint>
#include <memory>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

#include "oodflow/core/error.h"

namespace oodflow::extract {

/// One image that cannot be read or decoded. Extraction skips it (or stops with --strict);
/// every other Error concerns the whole source.
class ImageError : public Error {
 public:
  using Error::Error;
};

enum class SourceFormat { kAuto, kFolder, kList, kIdx, kNpy };

/// "auto", "folder", "list", "idx", "npy".
const std::vector<std::string>& source_format_names();
SourceFormat parse_source_format(const std::string& name);

class ImageSource {
 public:
  virtual ~ImageSource() = default;

  /// Number of images.
  virtual std::int64_t size() const = 0;
  /// True when every image has an integer label.
  virtual bool has_labels() const = 0;
  /// Label of image i (0 <= i < size()); meaningful only when has_labels().
  virtual std::int64_t label(std::int64_t i) const = 0;
  /// Where image i comes from, as recorded in feature files: a file path, or
  /// "<array file>#<index>" for IDX and .npy sources.
  virtual std::string name(std::int64_t i) const = 0;
  /// Decodes image i: CV_8U (0..255) or CV_32F (0..1), 1 channel or 3/4 in RGB(A) order.
  /// Safe to call from several threads. Throws ImageError when this image is unreadable.
  virtual cv::Mat load(std::int64_t i) const = 0;
  /// A JSON object describing the source (format, path, count, class names) for metadata.
  virtual std::string describe() const = 0;
};

/// Opens `path` as `format` (kAuto, from the bytes: a directory is a folder, the .npy magic
/// an image array, the IDX or gzip magic an IDX file, text a list). `labels_path` gives the labels
/// of IDX and .npy sources (an IDX labels file or an integer .npy vector); empty = none, or for IDX
/// the sibling "*-labels-idx1-ubyte[.gz]" file when it exists. `root` is the folder that the
/// relative paths of a list file are relative to (OpenOOD's data root); empty = the list file's own
/// folder. A name that promises another format than the bytes hold is an Error.
std::unique_ptr<ImageSource> open_image_source(const std::string& path, SourceFormat format,
                                               const std::string& labels_path = "",
                                               const std::string& root = "");

/// Reads and decodes one image file (JPEG, PNG, BMP, WebP, TIFF, PPM/PGM) into the form
/// load() returns; throws ImageError naming the file.
cv::Mat decode_image_file(const std::string& path);

}  // namespace oodflow::extract
