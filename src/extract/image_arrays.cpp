// Sources whose images are one array: IDX files (MNIST, Fashion-MNIST) and .npy arrays.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "image_sources.h"
#include "oodflow/io/dtype.h"
#include "oodflow/io/idx.h"
#include "oodflow/io/labels.h"
#include "oodflow/io/npy.h"

namespace oodflow::extract {
namespace {

// An [N, H, W] or [N, H, W, C] array of uint8 (0..255) or float32 (0..1) pixels, owned
// elsewhere (a decompressed buffer or a memory map) and shared by the source.
struct PixelArray {
  std::shared_ptr<const void> owner;
  const std::uint8_t* data = nullptr;
  int depth = CV_8U;
  std::int64_t count = 0;
  int height = 0;
  int width = 0;
  int channels = 1;
};

class ArraySource : public ImageSource {
 public:
  ArraySource(std::string format, std::string path, PixelArray pixels,
              std::vector<std::int64_t> labels, std::string labels_path)
      : format_(std::move(format)),
        path_(std::move(path)),
        pixels_(std::move(pixels)),
        labels_(std::move(labels)),
        labels_path_(std::move(labels_path)) {}

  std::int64_t size() const override { return pixels_.count; }
  bool has_labels() const override { return !labels_.empty(); }
  std::int64_t label(std::int64_t i) const override {
    return labels_.empty() ? -1 : labels_[static_cast<std::size_t>(i)];
  }
  std::string name(std::int64_t i) const override { return path_ + "#" + std::to_string(i); }
  cv::Mat load(std::int64_t i) const override {
    const PixelArray& a = pixels_;
    const std::size_t image_bytes = static_cast<std::size_t>(a.height) * a.width * a.channels *
                                    (a.depth == CV_8U ? 1 : sizeof(float));
    // The memory is read-only; the Mat header is const-cast only to wrap it, and clone()
    // gives the caller an aligned copy it owns.
    return cv::Mat(a.height, a.width, CV_MAKETYPE(a.depth, a.channels),
                   const_cast<std::uint8_t*>(a.data + image_bytes * static_cast<std::size_t>(i)))
        .clone();
  }
  std::string describe() const override {
    nlohmann::json j = {{"format", format_},
                        {"path", path_},
                        {"count", size()},
                        {"image_shape", {pixels_.height, pixels_.width, pixels_.channels}}};
    if (!labels_path_.empty()) j["labels"] = labels_path_;
    return j.dump();
  }

 private:
  std::string format_;
  std::string path_;
  PixelArray pixels_;
  std::vector<std::int64_t> labels_;
  std::string labels_path_;
};

void check_image_shape(const std::vector<std::int64_t>& shape, const std::string& path) {
  OODFLOW_CHECK(shape.size() == 3 || shape.size() == 4,
                "'" << path << "' holds an array of " << shape.size()
                    << " dimensions; images must be [N, H, W] or [N, H, W, C]");
  OODFLOW_CHECK(shape[0] > 0, "'" << path << "' holds no images");
  OODFLOW_CHECK(shape[1] > 0 && shape[2] > 0 && shape[1] <= (1 << 16) && shape[2] <= (1 << 16),
                "'" << path << "' holds images of " << shape[1] << "x" << shape[2]
                    << " pixels; expected 1 to 65536 per side");
  OODFLOW_CHECK(shape.size() == 3 || shape[3] == 1 || shape[3] == 3 || shape[3] == 4,
                "'" << path << "' holds images of " << shape[3]
                    << " channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)");
}

PixelArray pixel_array(std::shared_ptr<const void> owner, const std::uint8_t* data, int depth,
                       const std::vector<std::int64_t>& shape, const std::string& path) {
  check_image_shape(shape, path);
  PixelArray a;
  a.owner = std::move(owner);
  a.data = data;
  a.depth = depth;
  a.count = shape[0];
  a.height = static_cast<int>(shape[1]);
  a.width = static_cast<int>(shape[2]);
  a.channels = shape.size() == 4 ? static_cast<int>(shape[3]) : 1;
  return a;
}

// MNIST's naming: train-images-idx3-ubyte.gz goes with train-labels-idx1-ubyte.gz.
std::string sibling_labels(const std::string& images_path) {
  namespace fs = std::filesystem;
  const fs::path p(images_path);
  std::string name = p.filename().string();
  const auto at = name.find("images-idx3");
  if (at == std::string::npos) return "";
  name.replace(at, 11, "labels-idx1");
  const bool gz = name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0;
  const std::string other = gz ? name.substr(0, name.size() - 3) : name + ".gz";
  for (const std::string& candidate : {name, other}) {
    const fs::path sibling = p.parent_path() / candidate;
    std::error_code ec;
    if (fs::is_regular_file(sibling, ec)) return sibling.string();
  }
  return "";
}

}  // namespace

std::unique_ptr<ImageSource> open_idx_source(const std::string& path,
                                             const std::string& labels_path) {
  auto bytes = std::make_shared<const std::string>(io::read_file_maybe_gzip(path));
  const io::IdxView view =
      io::parse_idx(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size(), path);
  PixelArray pixels = pixel_array(bytes, view.data, CV_8U, view.shape, path);
  const std::string labels_file = labels_path.empty() ? sibling_labels(path) : labels_path;
  std::vector<std::int64_t> labels;
  if (!labels_file.empty()) labels = io::read_labels(labels_file, pixels.count);
  return std::make_unique<ArraySource>("idx", path, std::move(pixels), std::move(labels),
                                       labels_file);
}

std::unique_ptr<ImageSource> open_npy_source(const std::string& path,
                                             const std::string& labels_path) {
  auto file = std::make_shared<const io::NpyFile>(path);
  const io::TensorView& array = file->array();
  std::shared_ptr<const void> owner = file;
  const std::uint8_t* data = array.data;
  int depth = CV_8U;
  if (array.dtype != io::DType::U8) {
    OODFLOW_CHECK(io::is_float_dtype(array.dtype),
                  "'" << path << "' holds " << io::dtype_name(array.dtype)
                      << " images; expected uint8 (0..255) or float (0..1)");
    // Float images become float32 once, so that load() only wraps memory.
    auto converted = std::make_shared<std::vector<float>>(static_cast<std::size_t>(array.numel()));
    io::convert_to_float(array.dtype, array.data, converted->size(), converted->data());
    data = reinterpret_cast<const std::uint8_t*>(converted->data());
    owner = converted;
    depth = CV_32F;
  }
  PixelArray pixels = pixel_array(owner, data, depth, array.shape, path);
  std::vector<std::int64_t> labels;
  if (!labels_path.empty()) labels = io::read_labels(labels_path, pixels.count);
  return std::make_unique<ArraySource>("npy", path, std::move(pixels), std::move(labels),
                                       labels_path);
}

}  // namespace oodflow::extract
