#include "oodflow/extract/image_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "image_sources.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/idx.h"
#include "oodflow/io/npy.h"

namespace oodflow::extract {
namespace {

// The first bytes tell the formats apart; a name that promises another format than the bytes
// hold (an HTML page saved as `train-images-idx3-ubyte.gz`) is an error, not a fall-back.
SourceFormat detect_format(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return SourceFormat::kFolder;
  std::ifstream in(path, std::ios::binary);
  OODFLOW_CHECK(in, "cannot open '" << path << "': no such file or folder");
  std::uint8_t head[64] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const auto got = static_cast<std::size_t>(in.gcount());
  io::check_kind_matches_name(path, head, got);
  const io::FileKind kind = io::sniff_file_kind(head, got);
  switch (kind) {
    case io::FileKind::kNpy:
      return SourceFormat::kNpy;
    case io::FileKind::kIdx:
    case io::FileKind::kGzip:
      return SourceFormat::kIdx;
    case io::FileKind::kText:
    case io::FileKind::kEmpty:
      return SourceFormat::kList;
    default:
      break;
  }
  OODFLOW_CHECK(kind != io::FileKind::kImage,
                "'" << path << "' is one image; --data takes a folder of images, a list file of "
                    << "image paths, an IDX file or a .npy array of images");
  OODFLOW_FAIL("'" << path << "' is " << io::file_kind_name(kind) << ", not a folder, list file, "
                   << "IDX file or .npy array of images: it "
                   << io::describe_file_start(head, got));
}

}  // namespace

const std::vector<std::string>& source_format_names() {
  static const std::vector<std::string> names = {"auto", "folder", "list", "idx", "npy"};
  return names;
}

SourceFormat parse_source_format(const std::string& name) {
  const auto& names = source_format_names();
  const auto it = std::find(names.begin(), names.end(), name);
  OODFLOW_CHECK(it != names.end(),
                "--format must be auto, folder, list, idx or npy, got '" << name << "'");
  return static_cast<SourceFormat>(it - names.begin());
}

std::unique_ptr<ImageSource> open_image_source(const std::string& path, SourceFormat format,
                                               const std::string& labels_path,
                                               const std::string& root) {
  if (format == SourceFormat::kAuto) format = detect_format(path);
  OODFLOW_CHECK(root.empty() || format == SourceFormat::kList,
                "--root applies to list files; '" << path << "' is a "
                                                  << source_format_names()[static_cast<int>(format)]
                                                  << " source");
  OODFLOW_CHECK(labels_path.empty() || format == SourceFormat::kIdx || format == SourceFormat::kNpy,
                "--labels applies to IDX and .npy sources; '"
                    << path << "' is a " << source_format_names()[static_cast<int>(format)]
                    << " source, whose labels come from "
                    << (format == SourceFormat::kFolder ? "its class folders" : "its lines"));
  switch (format) {
    case SourceFormat::kFolder:
      return open_folder_source(path);
    case SourceFormat::kList:
      return open_list_source(path, root);
    case SourceFormat::kIdx:
      return open_idx_source(path, labels_path);
    case SourceFormat::kNpy:
      return open_npy_source(path, labels_path);
    case SourceFormat::kAuto:
      break;
  }
  OODFLOW_FAIL("internal: unhandled source format");
}

}  // namespace oodflow::extract
