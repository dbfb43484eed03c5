// What a user should know about a feature file before trusting a detector on it: its size and
// provenance, the values that cannot be used (zeros, NaN, inf), the spread of its norms, how
// many directions hold its variance, its classes, and the two quantities that explain when a
// flow on L2-normalised features works (paper, §5):
//   uniformity (Wang & Isola 2020) = log E[exp(-t ||u - v||^2)] over pairs of unit rows, t = 2:
//     0 when every row is the same, -2t = -4 for orthogonal rows, -4t = -8 for antipodal ones;
//   tolerance (Wang & Liu 2021) = E[u . v] over pairs of rows of the same class.
// Pairs are unordered pairs of distinct usable rows. A row with a zero norm or a non-finite value
// cannot be normalised: it is left out of every figure below but the value counts, and counted.
//
// Cost: the value counts, norms, tolerance and covariance read the file twice, O(N D + N D^2)
// flops. Exact uniformity multiplies blocks of rows, N^2 D flops (read block by block from the
// memory map); above `exact_limit` usable rows (or when `pairs` > 0) it is estimated from
// `pairs` random pairs instead, with its standard error. Memory: block_size x (3 D + block_size)
// floats, D x D doubles for the covariance, D doubles per class and 8 bytes per row.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oodflow/io/feature_file.h"

namespace oodflow::inspect {

/// The t of the uniformity.
inline constexpr double kUniformityT = 2.0;

struct InspectSettings {
  // Rows per block of the exact pair loop and of every pass over the file (bounds memory).
  std::int64_t block_size = 4096;
  // Random pairs for the uniformity; 0 = all pairs exactly up to `exact_limit` usable rows,
  // `default_pairs` random pairs above.
  std::int64_t pairs = 0;
  // Largest number of usable rows whose uniformity is computed over all pairs by default.
  std::int64_t exact_limit = 100000;
  // Random pairs drawn when the rows exceed `exact_limit` and `pairs` is 0.
  std::int64_t default_pairs = 10000000;
  // Seed of the random pairs.
  std::uint64_t seed = 0;
  // Share of the variance the effective rank must hold.
  double variance_share = 0.99;
};

/// An average over pairs: over all of them, or over a seeded random sample.
struct PairEstimate {
  double value = 0;
  bool exact = true;
  std::int64_t pairs = 0;     ///< pairs averaged over (all of them when exact)
  std::uint64_t seed = 0;     ///< sampled only
  double standard_error = 0;  ///< sampled only (delta method); 0 when exact
};

struct FeatureStats {
  std::string path;
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::string dtype;  ///< as stored: "F32", "F16", "BF16", "F64"
  /// Metadata values as written (JSON text for source and backbone); empty when absent.
  std::string producer;
  std::string source;
  std::string backbone;
  std::string preprocessing;
  /// Name and settings (JSON object) of each auxiliary score, in the file's order.
  std::vector<std::pair<std::string, std::string>> aux_scores;

  /// Over all rows x dim values as oodflow reads them (converted to float32).
  std::int64_t zero_values = 0;
  std::int64_t nan_values = 0;
  std::int64_t inf_values = 0;
  /// Rows left out: non-finite (a NaN or inf value) or, otherwise, of norm zero.
  std::int64_t nonfinite_rows = 0;
  std::int64_t zero_norm_rows = 0;
  std::int64_t usable_rows = 0;
  /// L2 norms of the usable rows (when there is at least one).
  std::optional<double> norm_min, norm_mean, norm_max;

  /// Covariance of the usable rows as stored (not normalised): the smallest k whose k largest
  /// eigenvalues hold `variance_share` of the trace (0 when the trace is 0), the share of the
  /// largest, and the trace. Needs two usable rows.
  std::optional<std::int64_t> effective_rank;
  double variance_share = 0;
  std::optional<double> top_eigenvalue_share;
  std::optional<double> total_variance;

  /// Rows per label over all rows; empty without labels.
  std::map<std::int64_t, std::int64_t> class_counts;
  bool has_labels = false;
  /// Where the labels came from ("" without; set by the caller, e.g. run_inspect).
  std::string labels_source;

  /// Need two usable rows (uniformity) and a class with two usable rows (tolerance); the
  /// tolerance is always exact.
  std::optional<PairEstimate> uniformity;
  std::optional<PairEstimate> tolerance;
};

/// Inspects `file`; `labels` (one per row, or null) replace the file's own labels when given.
/// Throws Error when `labels` does not have one entry per row or a setting is out of range.
FeatureStats inspect_features(const io::FeatureFile& file, const std::vector<std::int64_t>* labels,
                              const InspectSettings& settings);

/// Throws Error naming the option (--block-size, --pairs, ...) of a setting out of range.
void validate(const InspectSettings& settings);

}  // namespace oodflow::inspect
