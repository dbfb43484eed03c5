// KNN: -||z - z_(k)|| for the L2-normalised feature z and its k-th nearest L2-normalised
// training feature, k = 50 (Sun et al., "Out-of-Distribution Detection with Deep Nearest
// Neighbors", ICML 2022). The training features are the detector's parameters; the search
// is exact and blocked (detect/knn.h).
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/error.h"
#include "oodflow/detect/knn.h"

namespace oodflow::detect {
namespace {

// Rows scaled to unit length; a zero row has no direction and is an error naming it.
std::vector<float> l2_normalised(const FeatureSet& data) {
  std::vector<float> out(data.features);
  for (std::int64_t i = 0; i < data.rows; ++i) {
    float* row = out.data() + i * data.dim;
    double norm = 0;
    for (std::int64_t d = 0; d < data.dim; ++d) norm += double{row[d]} * row[d];
    norm = std::sqrt(norm);
    OODFLOW_CHECK(norm > 0 && std::isfinite(norm),
                  "'" << data.source << "' sample " << i
                      << ": feature vector has zero or non-finite norm, cannot L2-normalise it");
    for (std::int64_t d = 0; d < data.dim; ++d) row[d] = static_cast<float>(row[d] / norm);
  }
  return out;
}

class KnnDetector : public Detector {
 public:
  explicit KnnDetector(const DetectorOptions& o) : k_(o.k), block_size_(o.block_size) {}

  std::string name() const override { return "knn"; }

  void fit(const FeatureSet& train) override {
    OODFLOW_CHECK(k_ >= 1 && k_ <= train.rows,
                  "knn: k = " << k_ << " needs at least that many training samples; '"
                              << train.source << "' has " << train.rows);
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

  DetectorState state() const override {
    DetectorState s;
    DetectorState::Array bank;
    bank.shape = {rows_, dim_};
    bank.single_precision = true;
    bank.floats = bank_;
    bank.owner = owner_;
    s.arrays["bank"] = std::move(bank);
    s.settings = nlohmann::json{{"k", k_}, {"block_size", block_size_}}.dump();
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
