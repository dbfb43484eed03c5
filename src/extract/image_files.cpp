// Sources of image files: folders (torchvision's ImageFolder convention) and list files.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "image_sources.h"
#include "oodflow/io/image_list.h"

namespace oodflow::extract {
namespace fs = std::filesystem;
namespace {

// torchvision's IMG_EXTENSIONS, matched case-insensitively.
constexpr const char* kImageExtensions[] = {".jpg", ".jpeg", ".png",  ".ppm", ".bmp",
                                            ".pgm", ".tif",  ".tiff", ".webp"};

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find_if(std::begin(kImageExtensions), std::end(kImageExtensions),
                      [&](const char* e) { return ext == e; }) != std::end(kImageExtensions);
}

// Directory listings report errors (permission denied, a folder removed meanwhile) as one
// line naming the folder instead of a std::filesystem_error.
template <typename Fn>
auto listing(const fs::path& dir, Fn&& fn) {
  try {
    return fn();
  } catch (const fs::filesystem_error& e) {
    OODFLOW_FAIL("cannot list folder '" << dir.string() << "': " << e.code().message());
  }
}

bool is_folder(const fs::directory_entry& entry) {
  std::error_code ec;
  return entry.is_directory(ec);
}

// Image files directly inside `dir`, sorted by name.
std::vector<std::string> images_in(const fs::path& dir) {
  std::vector<std::string> names;
  listing(dir, [&] {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!is_folder(entry) && has_image_extension(entry.path())) {
        names.push_back(entry.path().filename().string());
      }
    }
  });
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  for (const auto& n : names) paths.push_back((dir / n).string());
  return paths;
}

// torchvision walks each class folder with sorted(os.walk(...)): folders in the order of
// their path strings, files sorted within each folder.
std::vector<std::string> images_under(const fs::path& dir) {
  std::vector<std::string> dirs = {dir.string()};
  // Unreadable sub-folders are passed over, as os.walk does for torchvision.
  listing(dir, [&] {
    for (const auto& entry :
         fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink |
                                                   fs::directory_options::skip_permission_denied)) {
      if (is_folder(entry)) dirs.push_back(entry.path().string());
    }
  });
  std::sort(dirs.begin(), dirs.end());
  std::vector<std::string> paths;
  for (const auto& d : dirs) {
    for (auto& p : images_in(d)) paths.push_back(std::move(p));
  }
  return paths;
}

class FileListSource : public ImageSource {
 public:
  FileListSource(std::string format, std::string root, std::vector<std::string> paths,
                 std::vector<std::int64_t> labels, std::vector<std::string> classes)
      : format_(std::move(format)),
        root_(std::move(root)),
        paths_(std::move(paths)),
        labels_(std::move(labels)),
        classes_(std::move(classes)) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(paths_.size()); }
  bool has_labels() const override { return !labels_.empty(); }
  std::int64_t label(std::int64_t i) const override {
    return labels_.empty() ? -1 : labels_[static_cast<std::size_t>(i)];
  }
  std::string name(std::int64_t i) const override { return paths_[static_cast<std::size_t>(i)]; }
  cv::Mat load(std::int64_t i) const override {
    return decode_image_file(paths_[static_cast<std::size_t>(i)]);
  }
  std::string describe() const override {
    nlohmann::json j = {{"format", format_}, {"path", root_}, {"count", size()}};
    if (!classes_.empty()) j["classes"] = classes_;
    if (!data_root_.empty()) j["root"] = data_root_;
    return j.dump();
  }
  void set_root(std::string root) { data_root_ = std::move(root); }

 private:
  std::string format_;
  std::string root_;
  std::vector<std::string> paths_;
  std::vector<std::int64_t> labels_;
  std::vector<std::string> classes_;
  std::string data_root_;
};

}  // namespace

std::unique_ptr<ImageSource> open_folder_source(const std::string& path) {
  const fs::path root(path);
  std::error_code ec;
  OODFLOW_CHECK(fs::is_directory(root, ec), "'" << path << "' is not a readable folder");
  std::vector<std::string> classes;
  listing(root, [&] {
    for (const auto& entry : fs::directory_iterator(root)) {
      if (is_folder(entry)) classes.push_back(entry.path().filename().string());
    }
  });
  std::sort(classes.begin(), classes.end());
  std::vector<std::string> paths;
  std::vector<std::int64_t> labels;
  if (classes.empty()) {
    paths = images_in(root);
  } else {
    for (std::size_t c = 0; c < classes.size(); ++c) {
      auto files = images_under(root / classes[c]);
      OODFLOW_CHECK(!files.empty(), "'" << path << "': class folder '" << classes[c]
                                        << "' holds no image files (.jpg .jpeg .png .ppm .bmp "
                                           ".pgm .tif .tiff .webp); remove it or add images");
      for (auto& f : files) {
        paths.push_back(std::move(f));
        labels.push_back(static_cast<std::int64_t>(c));
      }
    }
  }
  OODFLOW_CHECK(!paths.empty(), "'" << path
                                    << "' holds no image files (.jpg .jpeg .png .ppm .bmp .pgm "
                                       ".tif .tiff .webp) and no class folders");
  return std::make_unique<FileListSource>("folder", path, std::move(paths), std::move(labels),
                                          std::move(classes));
}

std::unique_ptr<ImageSource> open_list_source(const std::string& path, const std::string& root) {
  std::ifstream in(path);
  OODFLOW_CHECK(in, "cannot open list file '" << path << "'");
  std::error_code ec;
  OODFLOW_CHECK(
      root.empty() || fs::is_directory(root, ec),
      "--root '" << root << "' is not a folder (the data root of the list '" << path << "')");
  io::ImageList list = io::parse_image_list(in, path);
  const fs::path base = root.empty() ? fs::path(path).parent_path() : fs::path(root);
  for (auto& file : list.paths) {
    const fs::path p(file);
    if (!p.is_absolute() && !base.empty()) file = (base / p).string();
  }
  auto source = std::make_unique<FileListSource>(
      "list", path, std::move(list.paths), std::move(list.labels), std::vector<std::string>{});
  if (!root.empty()) source->set_root(root);
  return source;
}

}  // namespace oodflow::extract
