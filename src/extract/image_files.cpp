// Sources of image files: folders (torchvision's ImageFolder convention) and list files.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_sources.h"
#include "oodflow/io/image_list.h"
#include "oodflow/io/mapped_file.h"

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

// Decoders accept some truncated files without an error: libjpeg fills the missing part of a
// JPEG with grey (PIL refuses it: "image file is truncated"), and libpng prints its complaint
// to stderr. Both formats end with a marker that a cut file lacks.
void check_complete(const std::uint8_t* data, std::size_t size, const std::string& path) {
  const auto starts_with = [&](std::initializer_list<std::uint8_t> magic) {
    return size >= magic.size() && std::equal(magic.begin(), magic.end(), data);
  };
  if (starts_with({0xff, 0xd8, 0xff})) {
    // The end-of-image marker must follow the last start-of-scan: entropy-coded data cannot
    // contain either marker (0xff bytes are stuffed), an embedded thumbnail's EOI comes
    // before the main scan.
    std::size_t last_sos = 0;
    std::size_t last_eoi = 0;
    for (std::size_t i = 0; i + 1 < size; ++i) {
      if (data[i] != 0xff) continue;
      if (data[i + 1] == 0xda) last_sos = i;
      if (data[i + 1] == 0xd9) last_eoi = i;
    }
    if (last_sos == 0 || last_eoi < last_sos) {
      throw ImageError("'" + path + "' is a truncated JPEG file (no end-of-image marker)");
    }
  } else if (starts_with({0x89, 'P', 'N', 'G'})) {
    static const std::uint8_t kIend[] = {'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (size < 8 + sizeof kIend ||
        !std::equal(std::begin(kIend), std::end(kIend), data + size - sizeof kIend)) {
      throw ImageError("'" + path + "' is a truncated PNG file (no IEND chunk at its end)");
    }
  }
}

}  // namespace

cv::Mat decode_image_file(const std::string& path) {
  cv::Mat decoded;
  try {
    const io::MappedFile file(path);
    check_complete(file.data(), file.size(), path);
    const cv::Mat bytes(1, static_cast<int>(file.size()), CV_8U,
                        const_cast<std::uint8_t*>(file.data()));
    // UNCHANGED keeps grey as grey and does not apply EXIF rotation, as PIL's loader.
    decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  } catch (const ImageError&) {
    throw;
  } catch (const Error& e) {
    throw ImageError(e.what());
  } catch (const cv::Exception& e) {
    throw ImageError("'" + path + "' cannot be decoded: " + e.err);
  }
  if (decoded.empty()) {
    throw ImageError("'" + path + "' is not a decodable image (corrupt or unsupported format)");
  }
  if (decoded.depth() == CV_16U) {
    // The high byte, as PIL reads 16-bit colour PNGs (PIL clips 16-bit grey at 255 instead,
    // which would make most such images white).
    cv::Mat high(decoded.size(), CV_MAKETYPE(CV_8U, decoded.channels()));
    const int values = decoded.cols * decoded.channels();
    for (int y = 0; y < decoded.rows; ++y) {
      const auto* in = decoded.ptr<std::uint16_t>(y);
      auto* out = high.ptr<std::uint8_t>(y);
      for (int i = 0; i < values; ++i) out[i] = static_cast<std::uint8_t>(in[i] >> 8);
    }
    decoded = high;
  } else if (decoded.depth() != CV_8U && decoded.depth() != CV_32F) {
    throw ImageError("'" + path + "' has an unsupported pixel type (OpenCV depth " +
                     std::to_string(decoded.depth()) + ")");
  }
  cv::Mat rgb;
  switch (decoded.channels()) {
    case 1:
      return decoded;
    case 3:
      cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
      return rgb;
    case 4:
      cv::cvtColor(decoded, rgb, cv::COLOR_BGRA2RGBA);
      return rgb;
    default:
      cv::extractChannel(decoded, rgb, 0);
      return rgb;
  }
}

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
