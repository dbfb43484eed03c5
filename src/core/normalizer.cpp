#include "oodflow/core/normalizer.h"

#include <cmath>

#include "oodflow/core/error.h"

namespace oodflow {
namespace {

constexpr float kStdFloor = 1e-6f;

// One sample's rows: reject what no detector can score, with the sample named.
void check_finite(const float* row, std::int64_t dim, const std::string& source,
                  std::int64_t sample) {
  for (std::int64_t j = 0; j < dim; ++j) {
    OODFLOW_CHECK(std::isfinite(row[j]), "'" << source << "' sample " << sample << ": feature " << j
                                             << " is " << row[j]
                                             << " (features must be finite numbers within "
                                                "float32's range, +-3.4e38)");
  }
}

}  // namespace

const char* normalization_name(Normalization kind) {
  switch (kind) {
    case Normalization::kL2:
      return "l2";
    case Normalization::kStandardize:
      return "standardize";
    case Normalization::kNone:
      return "none";
  }
  return "?";
}

constexpr Normalization kAllNormalizations[] = {Normalization::kL2, Normalization::kStandardize,
                                                Normalization::kNone};

std::vector<std::string> normalization_names() {
  std::vector<std::string> names;
  for (auto kind : kAllNormalizations) names.emplace_back(normalization_name(kind));
  return names;
}

Normalization parse_normalization(const std::string& name) {
  for (auto kind : kAllNormalizations) {
    if (name == normalization_name(kind)) return kind;
  }
  OODFLOW_FAIL("unknown normalization '" << name << "' (known: l2, standardize, none)");
}

Normalizer Normalizer::standardize(std::vector<float> mean, std::vector<float> std) {
  OODFLOW_CHECK(mean.size() == std.size() && !mean.empty(),
                "standardization needs one mean and one std per dimension");
  for (float s : std) OODFLOW_CHECK(std::isfinite(s) && s > 0, "standardization std must be > 0");
  Normalizer n(Normalization::kStandardize);
  n.mean_ = std::move(mean);
  n.std_ = std::move(std);
  return n;
}

void Normalizer::apply(float* rows, std::int64_t n, std::int64_t dim, const std::string& source,
                       std::int64_t first_row, const std::int64_t* row_index) const {
  if (kind_ == Normalization::kStandardize) {
    OODFLOW_CHECK(static_cast<std::int64_t>(mean_.size()) == dim,
                  "'" << source << "' has features of dimension " << dim
                      << " but the standardization was fitted on dimension " << mean_.size());
  }
  for (std::int64_t i = 0; i < n; ++i) {
    float* row = rows + i * dim;
    const std::int64_t sample = row_index != nullptr ? row_index[i] : first_row + i;
    check_finite(row, dim, source, sample);
    if (kind_ == Normalization::kL2) {
      double norm_sq = 0;
      for (std::int64_t j = 0; j < dim; ++j) norm_sq += static_cast<double>(row[j]) * row[j];
      OODFLOW_CHECK(norm_sq > 0, "'" << source << "' sample " << sample
                                     << ": feature vector has zero norm, cannot L2-normalise it");
      const double inv = 1.0 / std::sqrt(norm_sq);
      for (std::int64_t j = 0; j < dim; ++j) row[j] = static_cast<float>(row[j] * inv);
    } else if (kind_ == Normalization::kStandardize) {
      for (std::int64_t j = 0; j < dim; ++j) row[j] = (row[j] - mean_[j]) / std_[j];
    }
  }
}

void MomentAccumulator::add(const float* rows, std::int64_t n) {
  const auto dim = static_cast<std::int64_t>(sum_.size());
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < dim; ++j) {
      const double v = rows[i * dim + j];
      sum_[j] += v;
      sum_sq_[j] += v * v;
    }
  }
  count_ += n;
}

Normalizer MomentAccumulator::finish() const {
  OODFLOW_CHECK(count_ > 0, "cannot standardize: no samples");
  std::vector<float> mean(sum_.size());
  std::vector<float> std(sum_.size());
  for (std::size_t j = 0; j < sum_.size(); ++j) {
    const double m = sum_[j] / static_cast<double>(count_);
    const double var = std::max(0.0, sum_sq_[j] / static_cast<double>(count_) - m * m);
    mean[j] = static_cast<float>(m);
    std[j] = std::max(kStdFloor, static_cast<float>(std::sqrt(var)));
  }
  return Normalizer::standardize(std::move(mean), std::move(std));
}

}  // namespace oodflow
