#include "oodflow/io/feature_file.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/core/sha256.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/npy.h"
#include "text.h"

namespace oodflow::io {
namespace {

// Version 1 stored one auxiliary score, ODIN's, as this tensor with its settings under the
// metadata key of the same name; its free text was under "perturbation".
constexpr const char* kLegacyOdin = "odin";
constexpr const char* kLegacyDescriptionKey = "perturbation";
// Free text of a settings record: wording, never a setting.
constexpr const char* kDescriptionKey = "description";

bool looks_like_npy(const MappedFile& file) {
  return is_npy(file.data(), file.size());
}

// The format version of an oodflow feature file; files of other producers (no `format`) are
// read as the current version. A newer version may lay its data out differently: refused.
int format_version(const std::map<std::string, std::string>& metadata, const std::string& path) {
  const auto format = metadata.find("format");
  const auto version = metadata.find("format_version");
  if (format == metadata.end() || format->second != kFeatureFormat || version == metadata.end()) {
    return kFeatureFormatVersion;
  }
  const std::string& text = version->second;
  int v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  OODFLOW_CHECK(error == std::errc() && end == text.data() + text.size() && v >= 1,
                "'" << path << "' has a malformed format_version '" << text << "' (corrupt)");
  OODFLOW_CHECK(v <= kFeatureFormatVersion, "'" << path << "' is a feature file of format version "
                                                << v << "; this oodflow reads versions 1 to "
                                                << kFeatureFormatVersion
                                                << ": update oodflow to read it");
  return v;
}

struct NamedAux {
  std::string name;
  std::string settings;
  TensorView values;
};

// Every record of the metadata's aux_scores object with its tensor, in the record's order,
// after checking that no aux tensor lacks a record.
std::vector<NamedAux> aux_scores(const SafetensorsView& view, const std::string& path) {
  std::vector<NamedAux> out;
  const auto record = view.metadata.find(kAuxScoresKey);
  if (record != view.metadata.end()) {
    const auto records = nlohmann::ordered_json::parse(record->second, nullptr, false);
    OODFLOW_CHECK(records.is_object(), "'" << path << "' has malformed '" << kAuxScoresKey
                                           << "' metadata (not a JSON object)");
    for (const auto& item : records.items()) {
      OODFLOW_CHECK(!item.key().empty() && item.value().is_object(),
                    "'" << path << "': the settings record of auxiliary score '" << item.key()
                        << "' is not a JSON object or the name is empty");
      const TensorView* t = view.find(kAuxTensorPrefix + item.key());
      OODFLOW_CHECK(t != nullptr, "'" << path << "' records settings of auxiliary score '"
                                      << item.key() << "' but has no tensor '" << kAuxTensorPrefix
                                      << item.key() << "' (corrupt)");
      out.push_back({item.key(), item.value().dump(), *t});
    }
  }
  const std::string prefix = kAuxTensorPrefix;
  for (const auto& tensor : view.tensors) {
    if (tensor.first.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string name = tensor.first.substr(prefix.size());
    const bool recorded =
        std::any_of(out.begin(), out.end(), [&](const NamedAux& a) { return a.name == name; });
    OODFLOW_CHECK(recorded, "'" << path << "' has tensor '" << tensor.first
                                << "' but no settings record for it in its '" << kAuxScoresKey
                                << "' metadata (corrupt)");
  }
  return out;
}

// A version-1 file's ODIN scores as the auxiliary score of the same name.
std::vector<NamedAux> legacy_aux_scores(const SafetensorsView& view, const std::string& path) {
  const TensorView* t = view.find(kLegacyOdin);
  const auto record = view.metadata.find(kLegacyOdin);
  if (t == nullptr && record == view.metadata.end()) return {};
  OODFLOW_CHECK(t != nullptr && record != view.metadata.end(),
                "'" << path << "' (format version 1) has "
                    << (t == nullptr ? "a settings record but no tensor '"
                                     : "a tensor but no settings record '")
                    << kLegacyOdin << "' (corrupt)");
  auto settings = nlohmann::ordered_json::parse(record->second, nullptr, false);
  OODFLOW_CHECK(settings.is_object(), "'" << path << "' has a malformed '" << kLegacyOdin
                                          << "' settings record (not a JSON object)");
  // Renamed so that the record compares equal to version 2's (aux_settings_key).
  if (settings.contains(kLegacyDescriptionKey)) {
    settings[kDescriptionKey] = settings[kLegacyDescriptionKey];
    settings.erase(kLegacyDescriptionKey);
  }
  return {{kLegacyOdin, settings.dump(), *t}};
}

// The bytes of `lines` joined by '\n', handed over kStreamChunkRows lines at a time: never
// all of them in one string. `lines` must outlive the stream.
ByteStream joined_lines(const StringStream& lines) {
  return [&lines](const auto& sink) {
    std::string piece;
    std::int64_t count = 0;
    lines([&](const std::string& line) {
      if (count > 0) piece.push_back('\n');
      piece += line;
      if (++count % kStreamChunkRows == 0) {
        sink(piece.data(), piece.size());
        piece.clear();
      }
    });
    sink(piece.data(), piece.size());
  };
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
    const std::vector<NamedAux> aux = format_version(view.metadata, path) == 1
                                          ? legacy_aux_scores(view, path)
                                          : aux_scores(view, path);
    for (const NamedAux& a : aux) {
      f.aux_names_.push_back(a.name);
      f.aux_.push_back({a.settings, a.values});
    }
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
  for (std::size_t i = 0; i < f.aux_.size(); ++i) {
    const TensorView& t = f.aux_[i].values;
    OODFLOW_CHECK(t.shape == std::vector<std::int64_t>{f.rows_} && is_float_dtype(t.dtype),
                  "'" << path << "': auxiliary score '" << f.aux_names_[i] << "' must be a float ["
                      << f.rows_ << "] vector");
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
  for (std::int64_t i = 0; i < n; ++i) {
    OODFLOW_CHECK(index[i] >= 0 && index[i] < rows_,
                  "internal: row " << index[i] << " outside '" << path() << "'");
  }
  const std::uint8_t* map = file_->data();
  if (features_.data < map || features_.data >= map + file_->size()) {  // a converted copy
    for (std::int64_t i = 0; i < n; ++i) {
      convert_to_float(features_.dtype,
                       features_.data + static_cast<std::size_t>(index[i]) * row_bytes,
                       static_cast<std::size_t>(dim_), out + i * dim_);
    }
    return;
  }
  // Scattered rows are read, not faulted in through the map (MappedFile::read_at): resident
  // memory stays flat whatever the kernel's page-cache folios.
  const auto base = static_cast<std::size_t>(features_.data - map);
  std::vector<std::uint8_t> row(features_.dtype == DType::F32 ? 0 : row_bytes);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::size_t offset = base + static_cast<std::size_t>(index[i]) * row_bytes;
    float* dst = out + i * dim_;
    if (features_.dtype == DType::F32) {
      file_->read_at(offset, row_bytes, dst);
    } else {
      file_->read_at(offset, row_bytes, row.data());
      convert_to_float(features_.dtype, row.data(), static_cast<std::size_t>(dim_), dst);
    }
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
  file_->note_read(static_cast<std::size_t>(count) * row_bytes);
}

bool FeatureFile::has_aux(const std::string& name) const {
  return std::find(aux_names_.begin(), aux_names_.end(), name) != aux_names_.end();
}

const FeatureFile::AuxTensor& FeatureFile::aux(const std::string& name) const {
  const auto it = std::find(aux_names_.begin(), aux_names_.end(), name);
  if (it == aux_names_.end()) {
    std::string known;
    for (const auto& n : aux_names_) known += (known.empty() ? "" : ", ") + n;
    OODFLOW_FAIL("'" << path() << "' has no auxiliary score '" << name << "' (it has "
                     << (known.empty() ? "none" : known) << ")");
  }
  return aux_[static_cast<std::size_t>(it - aux_names_.begin())];
}

std::string FeatureFile::aux_settings(const std::string& name) const {
  return aux(name).settings;
}

void FeatureFile::read_aux(const std::string& name, std::int64_t begin, std::int64_t count,
                           double* out) const {
  const TensorView& t = aux(name).values;
  OODFLOW_CHECK(begin >= 0 && count >= 0 && begin + count <= rows_,
                "internal: rows [" << begin << ", " << begin + count << ") of auxiliary score '"
                                   << name << "' of '" << path() << "'");
  const std::size_t size = dtype_size(t.dtype);
  convert_to_double(t.dtype, t.data + static_cast<std::size_t>(begin) * size,
                    static_cast<std::size_t>(count), out);
  file_->note_read(static_cast<std::size_t>(count) * size);
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

void FeatureFile::read_labels(std::int64_t begin, std::int64_t count, std::int64_t* out) const {
  OODFLOW_CHECK(
      labels_ && begin >= 0 && count >= 0 && begin + count <= rows_,
      "internal: labels of rows [" << begin << ", " << begin + count << ") of '" << path() << "'");
  for (std::int64_t i = 0; i < count; ++i) out[i] = label(begin + i);
  file_->note_read(static_cast<std::size_t>(count) * dtype_size(labels_->dtype));
}

std::vector<std::int64_t> FeatureFile::labels() const {
  if (!labels_) return {};
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows_));
  read_labels(0, rows_, out.data());
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
  file_.file_->note_read(out.size() + 1);
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

std::string aux_settings_key(const std::string& settings) {
  if (settings.empty()) return "";
  nlohmann::json j = nlohmann::json::parse(settings, nullptr, false);
  if (!j.is_object()) return settings;
  j.erase(kDescriptionKey);
  return j.dump();  // keys sorted
}

void write_feature_file(const std::string& path, const FeatureFileContents& c) {
  OODFLOW_CHECK(c.rows > 0 && c.dim > 0,
                "refusing to write an empty feature file '" << path << "'");
  std::vector<TensorSpec> tensors;
  tensors.push_back({kFeaturesTensor, DType::F32, {c.rows, c.dim}, c.features, c.features_stream});
  if (c.labels != nullptr || c.labels_stream) {
    tensors.push_back({kLabelsTensor, DType::I64, {c.rows}, c.labels, c.labels_stream});
  }
  if (c.logits != nullptr || c.logits_stream) {
    tensors.push_back({kLogitsTensor, DType::F32, {c.rows, c.classes}, c.logits, c.logits_stream});
  }
  // In the order given: readers list the scores in this order.
  nlohmann::ordered_json records = nlohmann::ordered_json::object();
  for (const AuxColumn& a : c.aux) {
    OODFLOW_CHECK(!a.name.empty() && !records.contains(a.name),
                  "internal: auxiliary score name '" << a.name << "' empty or given twice for '"
                                                     << path << "'");
    auto settings = nlohmann::ordered_json::parse(a.settings, nullptr, false);
    OODFLOW_CHECK(settings.is_object() && (a.values != nullptr || a.stream),
                  "internal: auxiliary score '" << a.name << "' for '" << path
                                                << "' without values or settings object");
    records[a.name] = std::move(settings);
    tensors.push_back({kAuxTensorPrefix + a.name, DType::F64, {c.rows}, a.values, a.stream});
  }
  // Paths held or streamed go the same way (joined_lines).
  StringStream sources = c.sources_stream;
  if (!sources && !c.sources.empty()) {
    sources = [&c](const std::function<void(const std::string&)>& each) {
      for (const std::string& s : c.sources) each(s);
    };
  }
  if (sources) {
    // The header, written first, records the tensor's size: a first pass counts it.
    std::int64_t count = 0;
    std::int64_t bytes = 0;
    sources([&](const std::string& s) {
      OODFLOW_CHECK(s.find('\n') == std::string::npos,
                    "source path with a newline cannot be stored: " << detail::quoted_text(s));
      bytes += static_cast<std::int64_t>(s.size()) + (count > 0 ? 1 : 0);
      ++count;
    });
    OODFLOW_CHECK(count == c.rows, "internal: " << count << " sources for " << c.rows << " rows");
    tensors.push_back({kSourcesTensor, DType::U8, {bytes}, nullptr, joined_lines(sources)});
  }
  auto metadata = c.metadata;
  metadata.erase(kAuxScoresKey);
  if (!c.aux.empty()) metadata[kAuxScoresKey] = records.dump();
  metadata["format"] = kFeatureFormat;
  metadata["format_version"] = std::to_string(kFeatureFormatVersion);
  metadata["count"] = std::to_string(c.rows);
  metadata["dim"] = std::to_string(c.dim);
  write_safetensors(path, tensors, metadata);
}

}  // namespace oodflow::io
