// Feature preprocessing applied identically before training and scoring (docs/method.md:
// the paper's recipe): L2 normalisation (the reference recipe), per-dimension standardisation with
// statistics of the training set, or none. It is also the single place where input rows are
// checked: a NaN or inf feature, or a zero vector under L2, is an error naming the file and the
// sample.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oodflow {

enum class Normalization { kL2, kStandardize, kNone };

/// "l2", "standardize", "none".
const char* normalization_name(Normalization kind);
/// All names, in display order (for option validation and help).
std::vector<std::string> normalization_names();
/// Inverse of normalization_name; throws Error listing the known names.
Normalization parse_normalization(const std::string& name);

class Normalizer {
 public:
  explicit Normalizer(Normalization kind = Normalization::kL2) : kind_(kind) {}
  /// Standardisation with given per-dimension mean and std (std > 0).
  static Normalizer standardize(std::vector<float> mean, std::vector<float> std);

  Normalization kind() const { return kind_; }
  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& std() const { return std_; }

  /// Checks and transforms `n` rows [n, dim] in place. `row_index[i]` is the sample number
  /// in `source` used in error messages (nullptr: rows are numbered from `first_row`).
  void apply(float* rows, std::int64_t n, std::int64_t dim, const std::string& source,
             std::int64_t first_row = 0, const std::int64_t* row_index = nullptr) const;

 private:
  Normalization kind_;
  std::vector<float> mean_;
  std::vector<float> std_;
};

/// Accumulates per-dimension mean and std over rows (for --normalize standardize), in double.
class MomentAccumulator {
 public:
  explicit MomentAccumulator(std::int64_t dim) : sum_(dim, 0.0), sum_sq_(dim, 0.0) {}
  void add(const float* rows, std::int64_t n);
  /// Population std with a floor of 1e-6 (a constant dimension maps to 0, not NaN).
  Normalizer finish() const;

 private:
  std::vector<double> sum_;
  std::vector<double> sum_sq_;
  std::int64_t count_ = 0;
};

}  // namespace oodflow
