// Feature files: the [N, D] matrix of backbone features that train and score read, with
// optional labels [N], logits [N, C] and per-sample source paths. Two formats are read:
// oodflow's .safetensors feature files (README: Files) and plain .npy [N, D] arrays. The file
// is memory-mapped; rows are converted to float only when a batch asks for them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oodflow/io/dtype.h"
#include "oodflow/io/mapped_file.h"
#include "oodflow/io/safetensors.h"

namespace oodflow::io {

/// Tensor names and metadata keys of oodflow feature files.
inline constexpr const char* kFeaturesTensor = "features";
inline constexpr const char* kLabelsTensor = "labels";
inline constexpr const char* kLogitsTensor = "logits";
/// UTF-8 source paths joined by '\n', stored as a U8 tensor (scales to millions of samples,
/// unlike a JSON metadata string).
inline constexpr const char* kSourcesTensor = "sources";
/// ODIN scores [N] (F64) of `extract --odin`, with their settings as JSON in the metadata
/// under the same key (temperature, epsilon, std).
inline constexpr const char* kOdinTensor = "odin";
/// The part of an ODIN settings record that changes the scores (temperature, epsilon, std),
/// as canonical JSON, for comparing records whatever their wording; "" for "".
std::string odin_score_settings(const std::string& record);
inline constexpr const char* kFeatureFormat = "oodflow.features";
inline constexpr int kFeatureFormatVersion = 1;

class FeatureFile {
 public:
  /// Opens `path` (.safetensors or .npy, detected from the content) and validates it: a 2-D
  /// floating-point matrix with at least one row and one column, consistent optional tensors.
  static FeatureFile open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  std::int64_t rows() const { return rows_; }
  std::int64_t dim() const { return dim_; }
  DType dtype() const { return features_.dtype; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Read methods are not safe to call from several threads at once (they count the bytes
  /// read to bound resident memory, see MappedFile::note_read).

  /// Copies rows [begin, begin + count) as float into out[count * dim].
  void read_rows(std::int64_t begin, std::int64_t count, float* out) const;
  /// Copies the rows listed in `index` (any order) as float into out[n * dim].
  void gather_rows(const std::int64_t* index, std::int64_t n, float* out) const;

  bool has_labels() const { return labels_.has_value(); }
  std::vector<std::int64_t> labels() const;
  /// Label of row i (0 <= i < rows()); only with has_labels().
  std::int64_t label(std::int64_t i) const;
  bool has_logits() const { return logits_.has_value(); }
  /// Logits per sample (C); 0 without logits.
  std::int64_t logits_dim() const { return logits_ ? logits_->shape[1] : 0; }
  /// Copies the logits of rows [begin, begin + count) as float into out[count * C].
  void read_logits(std::int64_t begin, std::int64_t count, float* out) const;
  bool has_odin() const { return odin_.has_value(); }
  /// Copies the ODIN scores of rows [begin, begin + count) into out[count].
  void read_odin(std::int64_t begin, std::int64_t count, double* out) const;
  /// Source path of each sample, or empty when the file does not record them.
  std::vector<std::string> sources() const;
  /// The source paths one after the other without holding them all (for streaming over
  /// millions of rows); next() gives "" when the file records none.
  class SourceReader {
   public:
    explicit SourceReader(const FeatureFile& file);
    std::string next();

   private:
    const FeatureFile& file_;
    const char* next_ = nullptr;
    const char* end_ = nullptr;
    std::int64_t read_ = 0;
  };
  /// SHA-256 of the whole file (computed on first call).
  const std::string& sha256() const;

 private:
  FeatureFile() = default;
  std::shared_ptr<MappedFile> file_;
  // The features of a .npy file oodflow cannot use in place (big-endian, Fortran order):
  // converted once, `features_` points here.
  std::shared_ptr<const std::vector<std::uint8_t>> npy_copy_;
  TensorView features_;
  std::optional<TensorView> labels_;
  std::optional<TensorView> logits_;
  std::optional<TensorView> sources_;
  std::optional<TensorView> odin_;
  std::map<std::string, std::string> metadata_;
  std::int64_t rows_ = 0;
  std::int64_t dim_ = 0;
  mutable std::string sha256_;
};

/// What write_feature_file stores; pointers must stay valid during the call.
struct FeatureFileContents {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  const float* features = nullptr;  ///< [rows, dim]
  /// Instead of `features` / `logits`: their bytes handed over in pieces (see TensorSpec).
  std::function<void(const std::function<void(const void*, std::size_t)>&)> features_stream;
  std::function<void(const std::function<void(const void*, std::size_t)>&)> logits_stream;
  const std::int64_t* labels = nullptr;  ///< [rows] or null
  const float* logits = nullptr;         ///< [rows, classes] or null
  std::int64_t classes = 0;
  const double* odin = nullptr;  ///< [rows] or null (needs metadata[kOdinTensor])
  std::function<void(const std::function<void(const void*, std::size_t)>&)> odin_stream;
  std::vector<std::string> sources;             ///< empty or one per row
  std::map<std::string, std::string> metadata;  ///< format keys are added
};

/// Writes an F32 oodflow feature file atomically.
void write_feature_file(const std::string& path, const FeatureFileContents& contents);

}  // namespace oodflow::io
