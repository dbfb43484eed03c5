#include "oodflow/io/labels.h"

#include <fstream>

#include "oodflow/core/error.h"
#include "oodflow/io/dtype.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/idx.h"
#include "oodflow/io/npy.h"

namespace oodflow::io {
namespace {

void check_count(const std::string& path, std::size_t found, std::int64_t count,
                 const std::string& counted) {
  OODFLOW_CHECK(static_cast<std::int64_t>(found) == count,
                "'" << path << "' holds " << found << " labels for " << count << " " << counted);
}

// A safetensors file starts with its header's 8-byte length, then the JSON header '{'; IDX
// starts with two zero bytes and .npy with "\x93NUMPY", so the ninth byte tells them apart.
bool looks_like_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  return in.read(head, sizeof head) && head[8] == '{' && !is_npy(head, sizeof head);
}

}  // namespace

std::vector<std::int64_t> read_labels(const std::string& path, std::int64_t count,
                                      const std::string& counted) {
  std::vector<std::int64_t> labels;
  const std::string bytes = read_file_maybe_gzip(path);
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (is_npy(bytes.data(), bytes.size())) {
    const NpyArray array = parse_npy(data, bytes.size(), path);
    const TensorView& v = array.view;
    OODFLOW_CHECK(v.shape.size() == 1 &&
                      (v.dtype == DType::I64 || v.dtype == DType::I32 || v.dtype == DType::U8),
                  "'" << path << "' must hold a 1-D integer vector of labels");
    std::vector<double> values(static_cast<std::size_t>(v.shape[0]));
    if (v.dtype == DType::U8) {
      labels.assign(v.data, v.data + v.nbytes);
    } else {
      convert_to_double(v.dtype, v.data, values.size(), values.data());
      labels.assign(values.begin(), values.end());
    }
  } else {
    const IdxView v = parse_idx(data, bytes.size(), path);
    OODFLOW_CHECK(v.shape.size() == 1, "'" << path << "' is an IDX file of " << v.shape.size()
                                           << " dimensions; a labels file has one ([N])");
    labels.assign(v.data, v.data + v.nbytes);
  }
  check_count(path, labels.size(), count, counted);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    OODFLOW_CHECK(labels[i] >= 0, "'" << path << "': the label at index " << i << " (" << labels[i]
                                      << ") is negative");
  }
  return labels;
}

std::vector<std::int64_t> read_labels_any(const std::string& path, std::int64_t count,
                                          const std::string& counted) {
  if (!looks_like_safetensors(path)) return read_labels(path, count, counted);
  const FeatureFile file = FeatureFile::open(path);
  OODFLOW_CHECK(file.has_labels(), "'" << path << "' is a feature file without labels");
  std::vector<std::int64_t> labels = file.labels();
  check_count(path, labels.size(), count, counted);
  return labels;
}

}  // namespace oodflow::io
