#include "oodflow/inspect/feature_stats.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"
#include "oodflow/core/sampling.h"

namespace oodflow::inspect {
namespace {

// Distinguishes the pairs' random stream from the other seeded streams of oodflow.
constexpr std::uint32_t kPairStream = 0x70616972u;

// L2 norm in double: NaN or inf exactly when the row holds a non-finite value (squares of
// finite floats cannot overflow a double), 0 exactly when every value is zero.
double row_norm(const float* row, std::int64_t dim) {
  double sum = 0;
  for (std::int64_t k = 0; k < dim; ++k) sum += static_cast<double>(row[k]) * row[k];
  return std::sqrt(sum);
}

bool usable(double norm) {
  return std::isfinite(norm) && norm > 0;
}

// Reads rows [begin, begin + count) and keeps the usable ones at the front of `values`, divided
// by their norm when `normalise`; returns how many were kept.
std::int64_t read_usable(const io::FeatureFile& file, std::int64_t begin, std::int64_t count,
                         bool normalise, std::vector<float>& values) {
  const std::int64_t dim = file.dim();
  values.resize(static_cast<std::size_t>(count * dim));
  file.read_rows(begin, count, values.data());
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    const float* row = values.data() + i * dim;
    const double norm = row_norm(row, dim);
    if (!usable(norm)) continue;
    float* out = values.data() + kept * dim;
    for (std::int64_t k = 0; k < dim; ++k) {
      out[k] = normalise ? static_cast<float>(row[k] / norm) : row[k];
    }
    ++kept;
  }
  return kept;
}

// Per class: usable rows, the sum of their unit vectors and of their squared norms (not
// exactly 1 in floating point), in double.
struct ClassSum {
  std::int64_t count = 0;
  std::vector<double> sum;
  double squares = 0;
};

void count_values(const float* row, std::int64_t dim, FeatureStats& s) {
  for (std::int64_t k = 0; k < dim; ++k) {
    s.zero_values += row[k] == 0.0f;
    s.nan_values += std::isnan(row[k]);
    s.inf_values += std::isinf(row[k]);
  }
}

void add_unit_row(const float* row, std::int64_t dim, double norm, ClassSum& c) {
  if (c.sum.empty()) c.sum.assign(static_cast<std::size_t>(dim), 0.0);
  for (std::int64_t k = 0; k < dim; ++k) {
    const double u = row[k] / norm;
    c.sum[k] += u;
    c.squares += u * u;
  }
  ++c.count;
}

// The first pass: value counts, norms, the mean (for the covariance) and the class sums (for
// the tolerance). Returns the usable rows' numbers (for sampled pairs).
std::vector<std::int64_t> scan(const io::FeatureFile& file, const std::vector<std::int64_t>* labels,
                               std::int64_t block_size, FeatureStats& s, std::vector<double>& mean,
                               std::map<std::int64_t, ClassSum>& classes) {
  const std::int64_t dim = file.dim();
  std::vector<std::int64_t> usable_rows;
  std::vector<float> values;
  mean.assign(static_cast<std::size_t>(dim), 0.0);
  double norm_sum = 0;
  for (std::int64_t begin = 0; begin < file.rows(); begin += block_size) {
    const std::int64_t count = std::min(block_size, file.rows() - begin);
    values.resize(static_cast<std::size_t>(count * dim));
    file.read_rows(begin, count, values.data());
    for (std::int64_t i = 0; i < count; ++i) {
      const float* row = values.data() + i * dim;
      count_values(row, dim, s);
      const double norm = row_norm(row, dim);
      if (!std::isfinite(norm)) ++s.nonfinite_rows;
      if (norm == 0) ++s.zero_norm_rows;
      if (!usable(norm)) continue;
      usable_rows.push_back(begin + i);
      s.norm_min = std::min(s.norm_min.value_or(norm), norm);
      s.norm_max = std::max(s.norm_max.value_or(norm), norm);
      norm_sum += norm;
      for (std::int64_t k = 0; k < dim; ++k) mean[k] += row[k];
      if (labels != nullptr) {
        add_unit_row(row, dim, norm, classes[(*labels)[static_cast<std::size_t>(begin + i)]]);
      }
    }
  }
  s.usable_rows = static_cast<std::int64_t>(usable_rows.size());
  if (s.usable_rows > 0) {
    s.norm_mean = norm_sum / static_cast<double>(s.usable_rows);
    for (double& m : mean) m /= static_cast<double>(s.usable_rows);
  }
  return usable_rows;
}

// sum over pairs i < j of a class of u_i . u_j = (||sum_i u_i||^2 - sum_i ||u_i||^2) / 2:
// exact and O(N D), cheaper than any sample of pairs.
std::optional<PairEstimate> tolerance(const std::map<std::int64_t, ClassSum>& classes) {
  double total = 0;
  std::int64_t pairs = 0;
  for (const auto& [label, c] : classes) {
    if (c.count < 2) continue;
    double sum_sq = 0;
    for (const double v : c.sum) sum_sq += v * v;
    total += (sum_sq - c.squares) / 2;
    pairs += c.count * (c.count - 1) / 2;
  }
  if (pairs == 0) return std::nullopt;
  PairEstimate e;
  e.value = total / static_cast<double>(pairs);
  e.pairs = pairs;
  return e;
}

// Second pass: the covariance of the usable rows, centred on the first pass's mean (two-pass:
// no cancellation of large raw moments), and its spectrum.
void spectrum(const io::FeatureFile& file, std::int64_t block_size, const std::vector<double>& mean,
              double share, FeatureStats& s) {
  s.variance_share = share;
  if (s.usable_rows < 2) return;
  const std::int64_t dim = file.dim();
  torch::NoGradGuard no_grad;
  const torch::Tensor centre =
      torch::from_blob(const_cast<double*>(mean.data()), {dim}, torch::kFloat64).clone();
  torch::Tensor cov = torch::zeros({dim, dim}, torch::kFloat64);
  std::vector<float> values;
  for (std::int64_t begin = 0; begin < file.rows(); begin += block_size) {
    const std::int64_t count = std::min(block_size, file.rows() - begin);
    const std::int64_t n = read_usable(file, begin, count, /*normalise=*/false, values);
    if (n == 0) continue;
    const torch::Tensor x =
        torch::from_blob(values.data(), {n, dim}, torch::kFloat32).to(torch::kFloat64) - centre;
    cov.addmm_(x.t(), x);
  }
  cov /= static_cast<double>(s.usable_rows - 1);
  // Ascending; rounding can leave the smallest slightly negative.
  const torch::Tensor eig = torch::linalg::eigvalsh(cov, "L").clamp_min(0).flip({0}).contiguous();
  const double* e = eig.data_ptr<double>();
  double trace = 0;
  for (std::int64_t k = 0; k < dim; ++k) trace += e[k];
  s.total_variance = trace;
  if (trace <= 0) {
    s.effective_rank = 0;
    return;
  }
  s.top_eigenvalue_share = e[0] / trace;
  double held = 0;
  std::int64_t k = 0;
  while (k < dim && held < share * trace) held += e[k++];
  s.effective_rank = k;
}

// Sums exp(2t u.v) over the pairs of two blocks of unit rows (only i < j in a diagonal block);
// exp(-t ||u - v||^2) = exp(2t u.v) exp(-2t), whose constant factor the caller applies once.
// One product buffer serves every block pair: a fresh block x block tensor per product costs
// more in page faults than the product.
class PairTermSum {
 public:
  /// `scaled_a` = 2t a (exact in float for t = 2), `b` [nb, dim].
  double operator()(const torch::Tensor& scaled_a, const torch::Tensor& b, bool diagonal) {
    products_.resize_({scaled_a.size(0), b.size(0)});
    torch::mm_out(products_, scaled_a, b.t());
    products_.exp_();
    if (diagonal) products_.triu_(1);
    return products_.sum(1).sum(0, false, torch::kFloat64).item<double>();
  }

 private:
  torch::Tensor products_ = torch::empty({0}, torch::kFloat32);
};

PairEstimate exact_uniformity(const io::FeatureFile& file, std::int64_t block_size,
                              std::int64_t n) {
  torch::NoGradGuard no_grad;
  const std::int64_t dim = file.dim();
  const std::int64_t total = n * (n - 1) / 2;
  Progress progress("uniformity " + file.path(), total, "pairs");
  PairTermSum pair_terms;
  std::vector<float> outer, inner;
  double sum = 0;
  std::int64_t done = 0;
  for (std::int64_t i = 0; i < file.rows(); i += block_size) {
    const std::int64_t na =
        read_usable(file, i, std::min(block_size, file.rows() - i), true, outer);
    if (na == 0) continue;
    const torch::Tensor a = torch::from_blob(outer.data(), {na, dim}, torch::kFloat32);
    const torch::Tensor scaled_a = a * (2 * kUniformityT);
    sum += pair_terms(scaled_a, a, /*diagonal=*/true);
    done += na * (na - 1) / 2;
    for (std::int64_t j = i + block_size; j < file.rows(); j += block_size) {
      const std::int64_t nb =
          read_usable(file, j, std::min(block_size, file.rows() - j), true, inner);
      if (nb == 0) continue;
      sum += pair_terms(scaled_a, torch::from_blob(inner.data(), {nb, dim}, torch::kFloat32),
                        /*diagonal=*/false);
      done += na * nb;
      progress.update(done, "");
    }
    progress.update(done, "");
  }
  progress.finish("");
  PairEstimate e;
  e.value = std::log(sum / static_cast<double>(total)) - 2 * kUniformityT;
  e.pairs = total;
  return e;
}

// Mean of the pair term over `pairs` pairs of distinct usable rows drawn uniformly with
// replacement; the standard error of its log by the delta method, sd / (mean sqrt(pairs)).
PairEstimate sampled_uniformity(const io::FeatureFile& file, std::int64_t block_size,
                                const std::vector<std::int64_t>& rows, std::int64_t pairs,
                                std::uint64_t seed) {
  const std::int64_t dim = file.dim();
  const auto n = static_cast<std::uint64_t>(rows.size());
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    kPairStream};
  std::mt19937_64 rng(seq);
  Progress progress("uniformity " + file.path(), pairs, "pairs");
  std::vector<std::int64_t> first, second;
  std::vector<float> a, b;
  double sum = 0, sum_sq = 0;
  for (std::int64_t done = 0; done < pairs;) {
    const std::int64_t batch = std::min(block_size, pairs - done);
    first.resize(static_cast<std::size_t>(batch));
    second.resize(static_cast<std::size_t>(batch));
    for (std::int64_t p = 0; p < batch; ++p) {
      const std::uint64_t i = uniform_below(rng, n);
      std::uint64_t j = uniform_below(rng, n - 1);
      j += j >= i;  // uniform over the other n - 1 rows
      first[p] = rows[i];
      second[p] = rows[j];
    }
    a.resize(static_cast<std::size_t>(batch * dim));
    b.resize(static_cast<std::size_t>(batch * dim));
    file.gather_rows(first.data(), batch, a.data());
    file.gather_rows(second.data(), batch, b.data());
    for (std::int64_t p = 0; p < batch; ++p) {
      const float* u = a.data() + p * dim;
      const float* v = b.data() + p * dim;
      double dot = 0;
      for (std::int64_t k = 0; k < dim; ++k) dot += static_cast<double>(u[k]) * v[k];
      const double cosine = dot / (row_norm(u, dim) * row_norm(v, dim));
      const double term = std::exp(2 * kUniformityT * (cosine - 1));
      sum += term;
      sum_sq += term * term;
    }
    done += batch;
    progress.update(done, "");
  }
  progress.finish("");
  const double m = static_cast<double>(pairs);
  const double mean = sum / m;
  const double variance = pairs > 1 ? std::max(0.0, (sum_sq - m * mean * mean) / (m - 1)) : 0.0;
  PairEstimate e;
  e.value = std::log(mean);
  e.exact = false;
  e.pairs = pairs;
  e.seed = seed;
  e.standard_error = std::sqrt(variance / m) / mean;
  return e;
}

std::string metadata_value(const io::FeatureFile& file, const std::string& key) {
  const auto it = file.metadata().find(key);
  return it == file.metadata().end() ? "" : it->second;
}

}  // namespace

void validate(const InspectSettings& s) {
  OODFLOW_CHECK(s.block_size >= 1, "--block-size must be >= 1, got " << s.block_size);
  OODFLOW_CHECK(s.pairs >= 0, "--pairs must be >= 0 (0 = automatic), got " << s.pairs);
  OODFLOW_CHECK(s.exact_limit >= 0, "--exact-limit must be >= 0, got " << s.exact_limit);
  OODFLOW_CHECK(s.default_pairs >= 1, "internal: default_pairs " << s.default_pairs);
  OODFLOW_CHECK(s.variance_share > 0 && s.variance_share <= 1,
                "the variance share must be in (0, 1], got " << s.variance_share);
}

FeatureStats inspect_features(const io::FeatureFile& file, const std::vector<std::int64_t>* labels,
                              const InspectSettings& settings) {
  validate(settings);
  std::vector<std::int64_t> own_labels;
  if (labels == nullptr && file.has_labels()) {
    own_labels = file.labels();
    labels = &own_labels;
  }
  OODFLOW_CHECK(
      labels == nullptr || static_cast<std::int64_t>(labels->size()) == file.rows(),
      labels->size() << " labels for the " << file.rows() << " rows of '" << file.path() << "'");
  FeatureStats s;
  s.path = file.path();
  s.rows = file.rows();
  s.dim = file.dim();
  s.dtype = io::dtype_name(file.dtype());
  s.producer = metadata_value(file, "producer");
  s.source = metadata_value(file, "source");
  s.backbone = metadata_value(file, "backbone");
  s.preprocessing = metadata_value(file, "preprocessing");
  for (const std::string& name : file.aux_score_names()) {
    s.aux_scores.emplace_back(name, file.aux_settings(name));
  }
  s.has_labels = labels != nullptr;
  if (labels != nullptr) {
    for (const std::int64_t y : *labels) ++s.class_counts[y];
  }

  std::vector<double> mean;
  std::map<std::int64_t, ClassSum> classes;
  const std::vector<std::int64_t> rows = scan(file, labels, settings.block_size, s, mean, classes);
  s.tolerance = tolerance(classes);
  classes.clear();
  spectrum(file, settings.block_size, mean, settings.variance_share, s);
  if (s.usable_rows >= 2) {
    const bool sample = settings.pairs > 0 || s.usable_rows > settings.exact_limit;
    s.uniformity =
        sample ? sampled_uniformity(file, settings.block_size, rows,
                                    settings.pairs > 0 ? settings.pairs : settings.default_pairs,
                                    settings.seed)
               : exact_uniformity(file, settings.block_size, s.usable_rows);
  }
  return s;
}

}  // namespace oodflow::inspect
