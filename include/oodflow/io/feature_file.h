// Feature files: the [N, D] matrix of backbone features that train and score read, with
// optional labels [N], logits [N, C], per-sample source paths and named per-sample scores
// computed at extraction (auxiliary scores, e.g. ODIN's). Two formats are read:
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
/// Auxiliary score NAME is the tensor "aux.NAME" [N] (F64 written, any float read); the
/// metadata key `aux_scores` holds a JSON object {NAME: settings object, ...}, one entry per
/// such tensor, in the order they were given to write_feature_file.
inline constexpr const char* kAuxTensorPrefix = "aux.";
inline constexpr const char* kAuxScoresKey = "aux_scores";
/// The settings of an auxiliary score that change its values, as canonical JSON (keys sorted,
/// the free-text `description` left out), so that two records compare equal whatever their
/// wording or key order; "" for "", the text itself when it is not a JSON object.
std::string aux_settings_key(const std::string& settings);
inline constexpr const char* kFeatureFormat = "oodflow.features";
/// Version 2 stores auxiliary scores as above; version 1 (still read) had only ODIN's, as the
/// tensor `odin` with its settings under the metadata key `odin`, read as auxiliary score
/// "odin". Newer versions are refused.
inline constexpr int kFeatureFormatVersion = 2;

class FeatureFile {
 public:
  /// Opens `path` (.safetensors or .npy, detected from the content) and validates it: a 2-D
  /// floating-point matrix with at least one row and one column, consistent optional tensors,
  /// every auxiliary score with its settings record and every record with its tensor.
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
  /// Copies the labels of rows [begin, begin + count) into out[count]; only with has_labels().
  void read_labels(std::int64_t begin, std::int64_t count, std::int64_t* out) const;
  bool has_logits() const { return logits_.has_value(); }
  /// Logits per sample (C); 0 without logits.
  std::int64_t logits_dim() const { return logits_ ? logits_->shape[1] : 0; }
  /// Copies the logits of rows [begin, begin + count) as float into out[count * C].
  void read_logits(std::int64_t begin, std::int64_t count, float* out) const;
  /// Names of the auxiliary scores, in the file's order.
  const std::vector<std::string>& aux_score_names() const { return aux_names_; }
  bool has_aux(const std::string& name) const;
  /// The settings record (JSON object) of auxiliary score `name`; Error when absent.
  std::string aux_settings(const std::string& name) const;
  /// Copies auxiliary score `name` of rows [begin, begin + count) into out[count].
  void read_aux(const std::string& name, std::int64_t begin, std::int64_t count, double* out) const;
  bool has_sources() const { return sources_.has_value(); }
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
  /// Drops the pages read so far from this process's memory now (MappedFile::drop_pages), for
  /// a pass over many files: each map keeps up to its read budget resident otherwise.
  void drop_pages() const { file_->drop_pages(); }

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
  struct AuxTensor {
    std::string settings;  // JSON object
    TensorView values;     // [rows]
  };
  const AuxTensor& aux(const std::string& name) const;
  std::vector<std::string> aux_names_;
  std::vector<AuxTensor> aux_;  // in aux_names_' order
  std::map<std::string, std::string> metadata_;
  std::int64_t rows_ = 0;
  std::int64_t dim_ = 0;
  mutable std::string sha256_;
};

/// A tensor's bytes handed over in pieces, for tensors larger than memory (see TensorSpec).
using ByteStream = std::function<void(const std::function<void(const void*, std::size_t)>&)>;
/// Strings handed over one by one, in order, for lists too long to hold.
using StringStream = std::function<void(const std::function<void(const std::string&)>&)>;

/// One auxiliary score to store: `values` or, instead, `stream` (F64 bytes).
struct AuxColumn {
  std::string name;                ///< stored as tensor "aux." + name
  std::string settings;            ///< JSON object of the settings it was computed with
  const double* values = nullptr;  ///< [rows]
  ByteStream stream;
};

/// What write_feature_file stores; pointers must stay valid during the call.
struct FeatureFileContents {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  const float* features = nullptr;  ///< [rows, dim]
  /// Instead of `features` / `logits` / `labels`: their bytes handed over in pieces (see
  /// TensorSpec); labels as I64.
  ByteStream features_stream;
  ByteStream logits_stream;
  ByteStream labels_stream;
  const std::int64_t* labels = nullptr;  ///< [rows] or null
  const float* logits = nullptr;         ///< [rows, classes] or null
  std::int64_t classes = 0;
  std::vector<AuxColumn> aux;        ///< names unique; their records become metadata aux_scores
  std::vector<std::string> sources;  ///< empty or one per row
  /// Instead of `sources`: one path per row. Called twice, giving the same paths each time:
  /// the tensor's size, which its header records, is counted before its bytes are written.
  StringStream sources_stream;
  std::map<std::string, std::string> metadata;  ///< format keys are added
};

/// Writes an F32 oodflow feature file of the current version atomically.
void write_feature_file(const std::string& path, const FeatureFileContents& contents);

}  // namespace oodflow::io
