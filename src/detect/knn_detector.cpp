// KNN: -||z - z_(k)|| for the L2-normalised feature z and its k-th nearest L2-normalised
// training feature, k = 50 (Sun et al., "Out-of-Distribution Detection with Deep Nearest
// Neighbors", ICML 2022). The training features are the detector's parameters; the search
// is exact and blocked (detect/knn.h).
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/detect/knn.h"
#include "oodflow/io/safetensors.h"

namespace oodflow::detect {
namespace {

// Scales rows to unit length in place; a zero row has no direction and is an error naming
// it (row i is sample index[i] of `source`, or first + i without an index).
void normalise_rows(float* rows, std::int64_t n, std::int64_t dim, const std::string& source,
                    std::int64_t first, const std::int64_t* index = nullptr) {
  for (std::int64_t i = 0; i < n; ++i) {
    float* row = rows + i * dim;
    double norm = 0;
    for (std::int64_t d = 0; d < dim; ++d) norm += double{row[d]} * row[d];
    norm = std::sqrt(norm);
    OODFLOW_CHECK(norm > 0 && std::isfinite(norm),
                  "'" << source << "' sample " << (index != nullptr ? index[i] : first + i)
                      << ": feature vector has zero or non-finite norm, cannot L2-normalise it");
    for (std::int64_t d = 0; d < dim; ++d) row[d] = static_cast<float>(row[d] / norm);
  }
}

std::vector<float> l2_normalised(const FeatureSet& data) {
  std::vector<float> out(data.features);
  normalise_rows(out.data(), data.rows, data.dim, data.source, 0);
  return out;
}

std::string knn_settings(std::int64_t k, std::int64_t block_size) {
  return nlohmann::json{{"k", k}, {"block_size", block_size}}.dump();
}

void check_k(std::int64_t k, std::int64_t rows, const std::string& source) {
  OODFLOW_CHECK(k >= 1 && k <= rows, "knn: k = " << k << " needs at least that many training "
                                                 << "samples; '" << source << "' has " << rows);
}

class KnnDetector : public Detector {
 public:
  explicit KnnDetector(const DetectorOptions& o) : k_(o.k), block_size_(o.block_size) {}

  std::string name() const override { return "knn"; }
  // The parameters are the training set itself: streamed from the feature file's map into
  // a scratch file in chunks and mapped back, so memory stays flat whatever the set's size.
  Needs needs() const override {
    Needs n;
    n.streamed_fit = true;
    return n;
  }

  void fit(const io::FeatureFile& train, const std::vector<std::int64_t>& rows,
           const FitContext& context) override {
    OODFLOW_CHECK(!context.scratch.empty(), "internal: knn's streamed fit needs a scratch file");
    write_bank(train, rows, context.scratch);
    const auto file = std::make_shared<const io::SafetensorsFile>(context.scratch);
    const io::TensorView& bank = file->view().tensors.at("bank");
    bank_ = reinterpret_cast<const float*>(bank.data);
    owner_ = file;
    storage_.reset();
    rows_ = bank.shape[0];
    dim_ = bank.shape[1];
  }

  void fit(const FeatureSet& train, const FitContext&) override {
    check_k(k_, train.rows, train.source);
    storage_ = std::make_shared<std::vector<float>>(l2_normalised(train));
    bank_ = storage_->data();
    owner_ = storage_;
    rows_ = train.rows;
    dim_ = train.dim;
  }

  std::vector<double> score(const FeatureSet& data) const override {
    require_dim(data, dim_, name());
    const std::vector<float> queries = l2_normalised(data);
    const KnnResult r = knn_search(bank_, rows_, queries.data(), data.rows, dim_, k_, block_size_);
    std::vector<double> out(static_cast<std::size_t>(data.rows));
    for (std::int64_t i = 0; i < data.rows; ++i) {
      // Unit vectors: ||a - b||^2 = 2 - 2 a.b; rounding may push it a hair below zero.
      const double kth = r.similarity[static_cast<std::size_t>(i * k_ + k_ - 1)];
      out[i] = -std::sqrt(std::max(0.0, 2 - 2 * kth));
    }
    return out;
  }

  std::int64_t feature_dim() const override { return dim_; }

  DetectorState state() const override {
    DetectorState s;
    DetectorState::Array bank;
    bank.shape = {rows_, dim_};
    bank.single_precision = true;
    bank.floats = bank_;
    bank.owner = owner_;
    s.arrays["bank"] = std::move(bank);
    s.settings = knn_settings(k_, block_size_);
    return s;
  }

  void restore(const DetectorState& s) override {
    const auto it = s.arrays.find("bank");
    OODFLOW_CHECK(it != s.arrays.end() && it->second.shape.size() == 2,
                  "detector file lacks the knn training bank");
    rows_ = it->second.shape[0];
    dim_ = it->second.shape[1];
    if (it->second.floats != nullptr) {  // the detector file's memory map, not a copy
      bank_ = it->second.floats;
      owner_ = it->second.owner;
    } else {
      storage_ =
          std::make_shared<std::vector<float>>(it->second.values.begin(), it->second.values.end());
      bank_ = storage_->data();
      owner_ = storage_;
    }
    const auto j = nlohmann::json::parse(s.settings);
    k_ = j.at("k").get<std::int64_t>();
    block_size_ = j.at("block_size").get<std::int64_t>();
  }

 private:
  // Writes the L2-normalised listed rows as the safetensors tensor "bank", in chunks.
  void write_bank(const io::FeatureFile& train, const std::vector<std::int64_t>& rows,
                  const std::string& out) const {
    const auto count = static_cast<std::int64_t>(rows.size());
    check_k(k_, count, train.path());
    io::TensorSpec bank{"bank", io::DType::F32, {count, train.dim()}, nullptr, {}};
    bank.stream = [&](const std::function<void(const void*, std::size_t)>& sink) {
      std::vector<float> chunk(static_cast<std::size_t>(kStreamChunkRows * train.dim()));
      for (std::int64_t begin = 0; begin < count; begin += kStreamChunkRows) {
        const std::int64_t n = std::min(kStreamChunkRows, count - begin);
        train.gather_rows(rows.data() + begin, n, chunk.data());
        normalise_rows(chunk.data(), n, train.dim(), train.path(), begin, rows.data() + begin);
        sink(chunk.data(), static_cast<std::size_t>(n * train.dim()) * sizeof(float));
      }
    };
    io::write_safetensors(out, {bank}, {});
  }

  std::int64_t k_;
  std::int64_t block_size_;
  // [rows_, dim_] unit rows: fitted here (storage_) or mapped from the detector file.
  const float* bank_ = nullptr;
  std::shared_ptr<const void> owner_;
  std::shared_ptr<std::vector<float>> storage_;
  std::int64_t rows_ = 0;
  std::int64_t dim_ = 0;
};

}  // namespace

std::unique_ptr<Detector> make_knn_detector(const DetectorOptions& options) {
  return std::make_unique<KnnDetector>(options);
}

}  // namespace oodflow::detect
