#include "oodflow/io/feature_file.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/core/sha256.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/npy.h"

namespace oodflow::io {
namespace {

bool looks_like_npy(const MappedFile& file) {
  return is_npy(file.data(), file.size());
}

}  // namespace

FeatureFile FeatureFile::open(const std::string& path) {
  FeatureFile f;
  f.file_ = std::make_shared<MappedFile>(path);
  check_kind_matches_name(path, f.file_->data(), f.file_->size());
  refuse_archive(path, f.file_->data(), f.file_->size());
  const FileKind kind = sniff_file_kind(f.file_->data(), f.file_->size());
  OODFLOW_CHECK(kind == FileKind::kNpy || kind == FileKind::kSafetensors,
                "'" << path << "' is not a feature file (.safetensors or .npy [N, D]): it "
                    << describe_file_start(f.file_->data(), f.file_->size()));
  if (looks_like_npy(*f.file_)) {
    NpyArray array = parse_npy(f.file_->data(), f.file_->size(), path);
    f.features_ = array.view;
    f.npy_copy_ = std::move(array.converted);
  } else {
    SafetensorsView view = parse_safetensors(f.file_->data(), f.file_->size(), path);
    const TensorView* features = view.find(kFeaturesTensor);
    OODFLOW_CHECK(features != nullptr,
                  "'" << path
                      << "' has no 'features' tensor; a feature file "
                         "needs features [N, D] (see the README, Feature files)");
    f.features_ = *features;
    if (const TensorView* t = view.find(kLabelsTensor)) f.labels_ = *t;
    if (const TensorView* t = view.find(kLogitsTensor)) f.logits_ = *t;
    if (const TensorView* t = view.find(kSourcesTensor)) f.sources_ = *t;
    if (const TensorView* t = view.find(kOdinTensor)) f.odin_ = *t;
    f.metadata_ = std::move(view.metadata);
  }
  const TensorView& x = f.features_;
  OODFLOW_CHECK(x.shape.size() == 2, "'" << path << "' holds features of " << x.shape.size()
                                         << " dimensions; expected a 2-D [N, D] matrix");
  // Integer and bool features (numpy writes them) are read as float32 like the others, exact
  // up to 2^24: every reader goes through convert_to_float.
  f.rows_ = x.shape[0];
  f.dim_ = x.shape[1];
  OODFLOW_CHECK(f.rows_ > 0, "'" << path << "' holds no samples (empty set)");
  OODFLOW_CHECK(f.dim_ > 0, "'" << path << "' holds features of dimension 0");
  if (f.labels_) {
    OODFLOW_CHECK(f.labels_->shape == std::vector<std::int64_t>{f.rows_} &&
                      (f.labels_->dtype == DType::I64 || f.labels_->dtype == DType::I32),
                  "'" << path << "': labels must be I64 [" << f.rows_ << "]");
  }
  if (f.logits_) {
    OODFLOW_CHECK(f.logits_->shape.size() == 2 && f.logits_->shape[0] == f.rows_ &&
                      is_float_dtype(f.logits_->dtype),
                  "'" << path << "': logits must be a float [" << f.rows_ << ", C] matrix");
  }
  if (f.odin_) {
    OODFLOW_CHECK(
        f.odin_->shape == std::vector<std::int64_t>{f.rows_} && is_float_dtype(f.odin_->dtype),
        "'" << path << "': ODIN scores must be a float [" << f.rows_ << "] vector");
  }
  if (f.sources_) {
    OODFLOW_CHECK(f.sources_->dtype == DType::U8 && f.sources_->shape.size() == 1,
                  "'" << path << "': sources must be a 1-D U8 tensor");
  }
  return f;
}

void FeatureFile::read_rows(std::int64_t begin, std::int64_t count, float* out) const {
  OODFLOW_CHECK(
      begin >= 0 && count >= 0 && begin + count <= rows_,
      "internal: rows [" << begin << ", " << begin + count << ") outside '" << path() << "'");
  const std::size_t row_bytes = static_cast<std::size_t>(dim_) * dtype_size(features_.dtype);
  convert_to_float(features_.dtype, features_.data + static_cast<std::size_t>(begin) * row_bytes,
                   static_cast<std::size_t>(count * dim_), out);
  file_->note_read(static_cast<std::size_t>(count) * row_bytes);
}

void FeatureFile::gather_rows(const std::int64_t* index, std::int64_t n, float* out) const {
  const std::size_t row_bytes = static_cast<std::size_t>(dim_) * dtype_size(features_.dtype);
  // A fault maps the pages around the one touched too (Linux's fault-around, 64 KiB by
  // default): a scattered row costs that much resident memory, however short it is.
  constexpr std::size_t kFaultAroundBytes = std::size_t{64} << 10;
  for (std::int64_t i = 0; i < n; ++i) {
    OODFLOW_CHECK(index[i] >= 0 && index[i] < rows_,
                  "internal: row " << index[i] << " outside '" << path() << "'");
    convert_to_float(features_.dtype,
                     features_.data + static_cast<std::size_t>(index[i]) * row_bytes,
                     static_cast<std::size_t>(dim_), out + i * dim_);
    file_->note_read(std::max(row_bytes, kFaultAroundBytes));
  }
}

void FeatureFile::read_logits(std::int64_t begin, std::int64_t count, float* out) const {
  OODFLOW_CHECK(
      logits_ && begin >= 0 && count >= 0 && begin + count <= rows_,
      "internal: logits rows [" << begin << ", " << begin + count << ") of '" << path() << "'");
  const std::int64_t classes = logits_->shape[1];
  const std::size_t row_bytes = static_cast<std::size_t>(classes) * dtype_size(logits_->dtype);
  convert_to_float(logits_->dtype, logits_->data + static_cast<std::size_t>(begin) * row_bytes,
                   static_cast<std::size_t>(count * classes), out);
}

void FeatureFile::read_odin(std::int64_t begin, std::int64_t count, double* out) const {
  OODFLOW_CHECK(
      odin_ && begin >= 0 && count >= 0 && begin + count <= rows_,
      "internal: ODIN rows [" << begin << ", " << begin + count << ") of '" << path() << "'");
  const std::size_t size = dtype_size(odin_->dtype);
  convert_to_double(odin_->dtype, odin_->data + static_cast<std::size_t>(begin) * size,
                    static_cast<std::size_t>(count), out);
}

std::int64_t FeatureFile::label(std::int64_t i) const {
  if (labels_->dtype == DType::I64) {
    std::int64_t v;
    std::memcpy(&v, labels_->data + 8 * i, 8);
    return v;
  }
  std::int32_t v;
  std::memcpy(&v, labels_->data + 4 * i, 4);
  return v;
}

std::vector<std::int64_t> FeatureFile::labels() const {
  if (!labels_) return {};
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows_));
  for (std::int64_t i = 0; i < rows_; ++i) out[i] = label(i);
  return out;
}

std::vector<std::string> FeatureFile::sources() const {
  std::vector<std::string> out;
  if (!sources_) return out;
  const char* p = reinterpret_cast<const char*>(sources_->data);
  const char* end = p + sources_->nbytes;
  while (p <= end && static_cast<std::int64_t>(out.size()) < rows_) {
    const char* nl =
        static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (nl == nullptr) nl = end;
    out.emplace_back(p, nl);
    p = nl + 1;
  }
  OODFLOW_CHECK(
      static_cast<std::int64_t>(out.size()) == rows_,
      "'" << path() << "' lists " << out.size() << " source paths for " << rows_ << " samples");
  return out;
}

FeatureFile::SourceReader::SourceReader(const FeatureFile& file) : file_(file) {
  if (file.sources_) {
    next_ = reinterpret_cast<const char*>(file.sources_->data);
    end_ = next_ + file.sources_->nbytes;
  }
}

std::string FeatureFile::SourceReader::next() {
  if (!file_.sources_) return {};
  OODFLOW_CHECK(
      next_ != nullptr && next_ <= end_ && read_ < file_.rows_,
      "'" << file_.path() << "' lists fewer source paths than its " << file_.rows_ << " samples");
  const char* nl =
      static_cast<const char*>(std::memchr(next_, '\n', static_cast<std::size_t>(end_ - next_)));
  if (nl == nullptr) nl = end_;
  std::string out(next_, nl);
  next_ = nl + 1;
  ++read_;
  return out;
}

const std::string& FeatureFile::sha256() const {
  if (sha256_.empty()) {
    sha256_ = sha256_hex(file_->data(), file_->size(), std::size_t{16} << 20,
                         [this](std::size_t bytes) { file_->note_read(bytes); });
  }
  return sha256_;
}

std::string odin_score_settings(const std::string& record) {
  if (record.empty()) return "";
  const auto j = nlohmann::json::parse(record, nullptr, false);
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : {"temperature", "epsilon", "std"}) {
    if (j.is_object() && j.contains(key)) out[key] = j[key];
  }
  return out.dump();
}

void write_feature_file(const std::string& path, const FeatureFileContents& c) {
  OODFLOW_CHECK(c.rows > 0 && c.dim > 0,
                "refusing to write an empty feature file '" << path << "'");
  OODFLOW_CHECK(c.sources.empty() || static_cast<std::int64_t>(c.sources.size()) == c.rows,
                "internal: " << c.sources.size() << " sources for " << c.rows << " rows");
  std::vector<TensorSpec> tensors;
  tensors.push_back({kFeaturesTensor, DType::F32, {c.rows, c.dim}, c.features, c.features_stream});
  if (c.labels != nullptr) tensors.push_back({kLabelsTensor, DType::I64, {c.rows}, c.labels});
  if (c.logits != nullptr || c.logits_stream) {
    tensors.push_back({kLogitsTensor, DType::F32, {c.rows, c.classes}, c.logits, c.logits_stream});
  }
  if (c.odin != nullptr || c.odin_stream) {
    OODFLOW_CHECK(c.metadata.count(kOdinTensor) == 1,
                  "internal: ODIN scores without their settings for '" << path << "'");
    tensors.push_back({kOdinTensor, DType::F64, {c.rows}, c.odin, c.odin_stream});
  }
  std::string joined;
  if (!c.sources.empty()) {
    for (std::size_t i = 0; i < c.sources.size(); ++i) {
      OODFLOW_CHECK(c.sources[i].find('\n') == std::string::npos,
                    "source path with a newline cannot be stored: '" << c.sources[i] << "'");
      if (i > 0) joined.push_back('\n');
      joined += c.sources[i];
    }
    tensors.push_back(
        {kSourcesTensor, DType::U8, {static_cast<std::int64_t>(joined.size())}, joined.data()});
  }
  auto metadata = c.metadata;
  metadata["format"] = kFeatureFormat;
  metadata["format_version"] = std::to_string(kFeatureFormatVersion);
  metadata["count"] = std::to_string(c.rows);
  metadata["dim"] = std::to_string(c.dim);
  write_safetensors(path, tensors, metadata);
}

}  // namespace oodflow::io
