#include "oodflow/extract/image_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "image_sources.h"
#include "oodflow/io/idx.h"
#include "oodflow/io/npy.h"

namespace oodflow::extract {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first bytes of a file tell IDX (two zero bytes, then the type) and gzip apart from text.
SourceFormat detect_format(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return SourceFormat::kFolder;
  std::ifstream in(path, std::ios::binary);
  OODFLOW_CHECK(in, "cannot open '" << path << "': no such file or folder");
  char head[6] = {};
  in.read(head, sizeof head);
  const auto got = static_cast<std::size_t>(in.gcount());
  if (io::is_npy(head, got)) return SourceFormat::kNpy;
  if (in.gcount() >= 4 && head[0] == 0 && head[1] == 0) return SourceFormat::kIdx;
  if (io::is_gzip(reinterpret_cast<const std::uint8_t*>(head), got)) return SourceFormat::kIdx;
  OODFLOW_CHECK(!ends_with(path, ".npy"), "'" << path << "' is not a valid .npy file (bad magic)");
  return SourceFormat::kList;
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
                                               const std::string& labels_path) {
  if (format == SourceFormat::kAuto) format = detect_format(path);
  OODFLOW_CHECK(labels_path.empty() || format == SourceFormat::kIdx || format == SourceFormat::kNpy,
                "--labels applies to IDX and .npy sources; '"
                    << path << "' is a " << source_format_names()[static_cast<int>(format)]
                    << " source, whose labels come from "
                    << (format == SourceFormat::kFolder ? "its class folders" : "its lines"));
  switch (format) {
    case SourceFormat::kFolder:
      return open_folder_source(path);
    case SourceFormat::kList:
      return open_list_source(path);
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
