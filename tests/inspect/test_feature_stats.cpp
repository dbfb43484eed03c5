#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "oodflow/inspect/feature_stats.h"
#include "oodflow/inspect/stats_report.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/labels.h"
#include "oodflow/io/npy.h"
#include "oodflow/pipeline/inspect_command.h"
#include "test_util.h"

namespace oodflow::inspect {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Uniformity of the exact path multiplies float32 unit vectors: each u.v is off by at most
// about D * 2^-24 (< 1e-6 for D <= 16), so each term exp(4 u.v - 4) by a relative 4e-6 and
// their log-mean by as much. 1e-5 leaves room and still catches any wrong pair or weight.
constexpr double kFloatGram = 1e-5;

struct Data {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::vector<float> x;
  std::vector<std::int64_t> y;
};

std::string write(const test::TempDir& dir, const std::string& name, const Data& d,
                  bool labels = true) {
  io::FeatureFileContents c;
  c.rows = d.rows;
  c.dim = d.dim;
  c.features = d.x.data();
  if (labels && !d.y.empty()) c.labels = d.y.data();
  c.metadata = {{"producer", "test"}, {"source", R"({"format":"npy","path":"/data/x.npy"})"}};
  const std::string path = dir.path(name);
  io::write_feature_file(path, c);
  return path;
}

Data gaussian(std::int64_t rows, std::int64_t dim, std::int64_t classes, std::uint32_t seed) {
  Data d{rows, dim, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (std::int64_t i = 0; i < rows; ++i) {
    d.y.push_back(static_cast<std::int64_t>(rng() % classes));
    // A class-dependent mean, so that the tolerance is clearly positive.
    for (std::int64_t k = 0; k < dim; ++k) d.x.push_back(normal(rng) + (k == d.y.back() ? 2 : 0));
  }
  return d;
}

FeatureStats inspect_file(const std::string& path, InspectSettings s = {},
                          const std::vector<std::int64_t>* labels = nullptr) {
  return inspect_features(io::FeatureFile::open(path), labels, s);
}

// The oracle: the definitions, term by term, in double.
std::vector<double> unit(const Data& d, std::int64_t i) {
  std::vector<double> u(d.x.begin() + i * d.dim, d.x.begin() + (i + 1) * d.dim);
  double n = 0;
  for (const double v : u) n += v * v;
  for (double& v : u) v /= std::sqrt(n);
  return u;
}

double direct_uniformity(const Data& d) {
  double sum = 0;
  std::int64_t pairs = 0;
  for (std::int64_t i = 0; i < d.rows; ++i) {
    const auto u = unit(d, i);
    for (std::int64_t j = i + 1; j < d.rows; ++j) {
      const auto v = unit(d, j);
      double dist2 = 0;
      for (std::int64_t k = 0; k < d.dim; ++k) dist2 += (u[k] - v[k]) * (u[k] - v[k]);
      sum += std::exp(-2 * dist2);
      ++pairs;
    }
  }
  return std::log(sum / static_cast<double>(pairs));
}

double direct_tolerance(const Data& d, std::int64_t* pairs) {
  double sum = 0;
  *pairs = 0;
  for (std::int64_t i = 0; i < d.rows; ++i) {
    for (std::int64_t j = i + 1; j < d.rows; ++j) {
      if (d.y[i] != d.y[j]) continue;
      const auto u = unit(d, i);
      const auto v = unit(d, j);
      for (std::int64_t k = 0; k < d.dim; ++k) sum += u[k] * v[k];
      ++*pairs;
    }
  }
  return sum / static_cast<double>(*pairs);
}

TEST(FeatureStats, UniformityAndToleranceMatchTheDirectPairLoop) {
  test::TempDir dir;
  const Data d = gaussian(53, 7, 4, 1);
  const std::string path = write(dir, "f.safetensors", d);
  std::int64_t same_class_pairs = 0;
  const double tolerance = direct_tolerance(d, &same_class_pairs);
  const double uniformity = direct_uniformity(d);
  for (const std::int64_t block : {1, 8, 53, 4096}) {
    InspectSettings s;
    s.block_size = block;
    const FeatureStats f = inspect_file(path, s);
    ASSERT_TRUE(f.uniformity && f.tolerance) << "block " << block;
    EXPECT_TRUE(f.uniformity->exact);
    EXPECT_EQ(f.uniformity->pairs, 53 * 52 / 2);
    EXPECT_NEAR(f.uniformity->value, uniformity, kFloatGram) << "block " << block;
    // The tolerance is summed in double from the stored floats: only rounding differs.
    EXPECT_NEAR(f.tolerance->value, tolerance, 1e-12) << "block " << block;
    EXPECT_EQ(f.tolerance->pairs, same_class_pairs);
    EXPECT_TRUE(f.tolerance->exact);
  }
}

TEST(FeatureStats, KnownValues) {
  test::TempDir dir;
  // Every row the same direction: uniformity 0, tolerance 1. The raw rows differ in scale
  // along that direction only: a covariance of rank 1.
  const Data equal{4, 3, {1, 2, 3, 2, 4, 6, 1, 2, 3, 0.5f, 1, 1.5f}, {0, 0, 0, 0}};
  FeatureStats f = inspect_file(write(dir, "equal.safetensors", equal));
  EXPECT_NEAR(f.uniformity->value, 0, 1e-6);
  EXPECT_NEAR(f.tolerance->value, 1, 1e-12);
  EXPECT_EQ(f.effective_rank, 1);
  EXPECT_NEAR(*f.top_eigenvalue_share, 1, 1e-12);

  // Identical rows: no variance at all, effective rank 0.
  const Data same{3, 2, {1, 1, 1, 1, 1, 1}, {5, 5, 5}};
  f = inspect_file(write(dir, "same.safetensors", same));
  EXPECT_NEAR(f.uniformity->value, 0, 1e-6);
  EXPECT_EQ(f.effective_rank, 0);
  EXPECT_FALSE(f.top_eigenvalue_share);
  EXPECT_EQ(*f.total_variance, 0);

  // Two antipodal points: ||u - v||^2 = 4, uniformity -2 * 4 = -8; tolerance -1.
  const Data antipodal{2, 3, {1, 0, 0, -2, 0, 0}, {1, 1}};
  f = inspect_file(write(dir, "antipodal.safetensors", antipodal));
  EXPECT_NEAR(f.uniformity->value, -8, 1e-6);
  EXPECT_NEAR(f.tolerance->value, -1, 1e-12);
  EXPECT_EQ(f.tolerance->pairs, 1);

  // One class of orthogonal (scaled basis) vectors: u.v = 0, uniformity -4, tolerance 0.
  Data basis{5, 5, std::vector<float>(25, 0), std::vector<std::int64_t>(5, 3)};
  for (int k = 0; k < 5; ++k) basis.x[k * 5 + k] = static_cast<float>(k + 1);
  f = inspect_file(write(dir, "basis.safetensors", basis));
  EXPECT_NEAR(f.uniformity->value, -4, 1e-6);
  EXPECT_NEAR(f.tolerance->value, 0, 1e-12);
  EXPECT_EQ(f.tolerance->pairs, 10);
}

TEST(FeatureStats, SampledUniformityIsSeededAndWithinItsStandardError) {
  test::TempDir dir;
  const std::string path = write(dir, "f.safetensors", gaussian(300, 6, 3, 2));
  const double exact = inspect_file(path).uniformity->value;
  InspectSettings s;
  s.pairs = 20000;
  s.seed = 7;
  s.block_size = 1000;
  const FeatureStats a = inspect_file(path, s);
  const FeatureStats b = inspect_file(path, s);
  ASSERT_TRUE(a.uniformity);
  EXPECT_FALSE(a.uniformity->exact);
  EXPECT_EQ(a.uniformity->pairs, 20000);
  EXPECT_EQ(a.uniformity->seed, 7u);
  EXPECT_EQ(a.uniformity->value, b.uniformity->value);
  EXPECT_EQ(a.uniformity->standard_error, b.uniformity->standard_error);
  EXPECT_GT(a.uniformity->standard_error, 0);
  EXPECT_LT(std::abs(a.uniformity->value - exact), 4 * a.uniformity->standard_error);
  // The block size only groups the work: the same pairs, the same sum order per pair.
  s.block_size = 7;
  EXPECT_NEAR(inspect_file(path, s).uniformity->value, a.uniformity->value, 1e-12);
  s.seed = 8;
  EXPECT_NE(inspect_file(path, s).uniformity->value, a.uniformity->value);
  EXPECT_NE(stats_table(a).find("sampled (20000 pairs, seed 7, standard error"), std::string::npos);

  // Above the exact limit, --pairs 0 samples the default number of pairs.
  InspectSettings automatic;
  automatic.exact_limit = 299;
  automatic.default_pairs = 5000;
  const FeatureStats c = inspect_file(path, automatic);
  EXPECT_FALSE(c.uniformity->exact);
  EXPECT_EQ(c.uniformity->pairs, 5000);
  EXPECT_LT(std::abs(c.uniformity->value - exact), 4 * c.uniformity->standard_error);
  automatic.exact_limit = 300;
  EXPECT_TRUE(inspect_file(path, automatic).uniformity->exact);
}

// Orthonormal rows of a random rotation (Gram-Schmidt in double).
std::vector<std::vector<double>> random_rotation(std::int64_t dim, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> r;
  while (static_cast<std::int64_t>(r.size()) < dim) {
    std::vector<double> v(static_cast<std::size_t>(dim));
    for (double& x : v) x = normal(rng);
    for (const auto& q : r) {
      double dot = 0;
      for (std::int64_t k = 0; k < dim; ++k) dot += v[k] * q[k];
      for (std::int64_t k = 0; k < dim; ++k) v[k] -= dot * q[k];
    }
    double n = 0;
    for (const double x : v) n += x * x;
    for (double& x : v) x /= std::sqrt(n);
    r.push_back(v);
  }
  return r;
}

TEST(FeatureStats, EffectiveRankOfAKnownSpectrum) {
  test::TempDir dir;
  // Rows m +- a_d r_d over a rotated basis r: the sample covariance is exactly
  // sum_d 2 a_d^2 r_d r_d^T / (n - 1), eigenvalues var_d. Shares 50, 80, 95, 98.5, 99.5%: the
  // 99% rank is 5, the top eigenvalue holds 50%.
  const std::vector<double> variances = {50, 30, 15, 3.5, 1, 0.3, 0.2};
  const std::int64_t dim = 7;
  const std::int64_t n = 2 * dim;
  const auto r = random_rotation(dim, 3);
  Data d{n, dim, {}, {}};
  for (std::int64_t e = 0; e < dim; ++e) {
    const double a = std::sqrt(variances[e] * static_cast<double>(n - 1) / 2);
    for (const double sign : {1.0, -1.0}) {
      for (std::int64_t k = 0; k < dim; ++k) {
        d.x.push_back(static_cast<float>(5 + sign * a * r[e][k]));  // mean 5: centring matters
      }
    }
  }
  FeatureStats f = inspect_file(write(dir, "spectrum.safetensors", d));
  EXPECT_EQ(f.effective_rank, 5);
  EXPECT_NEAR(*f.top_eigenvalue_share, 0.5, 1e-5);
  EXPECT_NEAR(*f.total_variance, 100, 1e-4);
  EXPECT_EQ(f.variance_share, 0.99);
  // A block of one row per pass gives the same covariance.
  InspectSettings s;
  s.block_size = 1;
  EXPECT_EQ(inspect_file(dir.path("spectrum.safetensors"), s).effective_rank, 5);

  // Gaussian with variances 100, 10, 1 and five of 1e-4: the top two hold 110/111 = 99.1%.
  Data g{20000, 8, {}, {}};
  std::mt19937 rng(4);
  std::normal_distribution<float> normal;
  const float sd[] = {10, 3.16227766f, 1, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f};
  for (std::int64_t i = 0; i < g.rows; ++i) {
    for (std::int64_t k = 0; k < g.dim; ++k) g.x.push_back(100 + sd[k] * normal(rng));
  }
  f = inspect_file(write(dir, "gaussian.safetensors", g));
  EXPECT_EQ(f.effective_rank, 2);
  EXPECT_NEAR(*f.top_eigenvalue_share, 100.0 / 111, 0.01);

  // Rows confined to a 3-dimensional subspace of R^10 (plus an offset): rank 3.
  Data sub{500, 10, {}, {}};
  const auto basis = random_rotation(10, 5);
  for (std::int64_t i = 0; i < sub.rows; ++i) {
    const double c[] = {normal(rng), normal(rng), normal(rng)};
    for (std::int64_t k = 0; k < sub.dim; ++k) {
      sub.x.push_back(
          static_cast<float>(1 + c[0] * basis[0][k] + c[1] * basis[1][k] + c[2] * basis[2][k]));
    }
  }
  EXPECT_EQ(inspect_file(write(dir, "subspace.safetensors", sub)).effective_rank, 3);
}

TEST(FeatureStats, CountsValuesAndExcludedRows) {
  test::TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Data d{7,
               3,
               {0,     0,     0,   // zero norm: excluded
                1,     nan,   0,   // non-finite: excluded
                kInf,  1,     2,   // non-finite: excluded
                3,     4,     0,   // norm 5
                0,     -0.0f, 12,  // norm 12
                -kInf, nan,   1,   // non-finite: excluded
                1,     2,     2},  // norm 3
               {0, 1, 1, 2, 2, 2, 2}};
  const FeatureStats f = inspect_file(write(dir, "crafted.safetensors", d));
  EXPECT_EQ(f.rows, 7);
  EXPECT_EQ(f.dim, 3);
  EXPECT_EQ(f.dtype, "F32");
  EXPECT_EQ(f.zero_values, 7);  // -0.0 counts as zero
  EXPECT_EQ(f.nan_values, 2);
  EXPECT_EQ(f.inf_values, 2);
  EXPECT_EQ(f.nonfinite_rows, 3);
  EXPECT_EQ(f.zero_norm_rows, 1);
  EXPECT_EQ(f.usable_rows, 3);
  EXPECT_EQ(*f.norm_min, 3);
  EXPECT_EQ(*f.norm_max, 12);
  EXPECT_NEAR(*f.norm_mean, (5.0 + 12 + 3) / 3, 1e-12);
  const std::map<std::int64_t, std::int64_t> classes = {{0, 1}, {1, 2}, {2, 4}};
  EXPECT_EQ(f.class_counts, classes);
  // Class 2 keeps three usable rows: (3,4,0)/5, (0,0,1), (1,2,2)/3.
  const double cosines = 0.0 + (3.0 + 8) / 15 + 2.0 / 3;
  ASSERT_TRUE(f.tolerance);
  EXPECT_EQ(f.tolerance->pairs, 3);
  EXPECT_NEAR(f.tolerance->value, cosines / 3, 1e-12);
  ASSERT_TRUE(f.uniformity);
  EXPECT_EQ(f.uniformity->pairs, 3);
  EXPECT_TRUE(std::isfinite(f.uniformity->value));

  const nlohmann::json j = nlohmann::json::parse(stats_json(f));
  EXPECT_EQ(j["values"]["zero"], 7);
  EXPECT_EQ(j["rows_excluded"]["total"], 4);
  EXPECT_EQ(j["rows_excluded"]["non_finite"], 3);
  EXPECT_EQ(j["usable_rows"], 3);
  EXPECT_EQ(j["labels"]["classes"][2]["label"], 2);
  EXPECT_EQ(j["labels"]["classes"][2]["count"], 4);
  EXPECT_EQ(j["metadata"]["source"]["path"], "/data/x.npy");
  EXPECT_EQ(j["metadata"]["producer"], "test");
}

TEST(FeatureStats, FewerThanTwoUsableRowsGiveNoPairFigures) {
  test::TempDir dir;
  const Data d{3, 2, {0, 0, 3, 4, 0, 0}, {0, 0, 0}};
  const FeatureStats f = inspect_file(write(dir, "one.safetensors", d));
  EXPECT_EQ(f.usable_rows, 1);
  EXPECT_FALSE(f.uniformity);
  EXPECT_FALSE(f.tolerance);
  EXPECT_FALSE(f.effective_rank);
  EXPECT_EQ(*f.norm_mean, 5);
  const nlohmann::json j = nlohmann::json::parse(stats_json(f));
  EXPECT_TRUE(j["uniformity"].is_null());
  EXPECT_TRUE(j["tolerance"].is_null());
  EXPECT_TRUE(j["spectrum"]["effective_rank"].is_null());
  EXPECT_NE(stats_table(f).find("n/a (fewer than two usable rows)"), std::string::npos);
  // Every class a singleton: labels, but no same-class pair.
  const Data singletons{3, 2, {1, 0, 0, 1, 1, 1}, {0, 1, 2}};
  const FeatureStats g = inspect_file(write(dir, "singletons.safetensors", singletons));
  EXPECT_TRUE(g.has_labels);
  EXPECT_FALSE(g.tolerance);
  EXPECT_NE(stats_table(g).find("no class has two usable rows"), std::string::npos);
}

TEST(FeatureStats, NpyFilesAndGivenLabels) {
  test::TempDir dir;
  const Data d = gaussian(40, 5, 3, 6);
  test::write_bytes(dir.path("f.npy"), io::serialize_npy(io::DType::F32, {40, 5}, d.x.data()));
  FeatureStats f = inspect_file(dir.path("f.npy"));
  EXPECT_FALSE(f.has_labels);
  EXPECT_FALSE(f.tolerance);
  EXPECT_TRUE(f.producer.empty());
  nlohmann::json j = nlohmann::json::parse(stats_json(f));
  EXPECT_TRUE(j["labels"].is_null());
  EXPECT_TRUE(j["tolerance"].is_null());
  EXPECT_TRUE(j["metadata"]["source"].is_null());
  EXPECT_NE(stats_table(f).find("n/a (no labels; give --labels-from FILE)"), std::string::npos);

  std::int64_t pairs = 0;
  const double expected = direct_tolerance(d, &pairs);
  f = inspect_file(dir.path("f.npy"), {}, &d.y);
  EXPECT_NEAR(f.tolerance->value, expected, 1e-12);
  EXPECT_EQ(f.tolerance->pairs, pairs);

  // Given labels replace the file's own.
  Data relabelled = d;
  for (auto& y : relabelled.y) y = 0;
  f = inspect_file(write(dir, "zeros.safetensors", relabelled), {}, &d.y);
  EXPECT_NEAR(f.tolerance->value, expected, 1e-12);
  const std::vector<std::int64_t> short_labels(39, 0);
  test::expect_error([&] { inspect_file(dir.path("f.npy"), {}, &short_labels); },
                     {"39 labels", "40 rows", "f.npy"});
}

TEST(FeatureStats, SettingsOutOfRangeNameTheOption) {
  InspectSettings s;
  s.block_size = 0;
  test::expect_error([&] { validate(s); }, {"--block-size"});
  s = {};
  s.pairs = -1;
  test::expect_error([&] { validate(s); }, {"--pairs"});
  s = {};
  s.exact_limit = -1;
  test::expect_error([&] { validate(s); }, {"--exact-limit"});
}

std::string idx_labels(const std::vector<std::uint8_t>& labels) {
  std::string bytes = {0, 0, 8, 1, 0, 0, 0, static_cast<char>(labels.size())};
  bytes.append(labels.begin(), labels.end());
  return bytes;
}

TEST(InspectLabels, ReadsNpyIdxAndFeatureFiles) {
  test::TempDir dir;
  const std::vector<std::int64_t> y64 = {2, 0, 1};
  const std::vector<std::int32_t> y32 = {2, 0, 1};
  test::write_bytes(dir.path("y64.npy"), io::serialize_npy(io::DType::I64, {3}, y64.data()));
  test::write_bytes(dir.path("y32.npy"), io::serialize_npy(io::DType::I32, {3}, y32.data()));
  test::write_bytes(dir.path("y.idx"), idx_labels({2, 0, 1}));
  const Data d{3, 2, {1, 2, 3, 4, 5, 6}, y64};
  write(dir, "with.safetensors", d);
  write(dir, "without.safetensors", d, /*labels=*/false);
  for (const char* name : {"y64.npy", "y32.npy", "y.idx", "with.safetensors"}) {
    EXPECT_EQ(io::read_labels_any(dir.path(name), 3, "rows"), y64) << name;
  }
  test::expect_error([&] { io::read_labels_any(dir.path("without.safetensors"), 3, "rows"); },
                     {"without.safetensors", "without labels"});
  test::expect_error([&] { io::read_labels_any(dir.path("y.idx"), 4, "rows of 'f.npy'"); },
                     {"y.idx", "holds 3 labels for 4 rows of 'f.npy'"});
  test::expect_error([&] { io::read_labels_any(dir.path("with.safetensors"), 4, "rows"); },
                     {"with.safetensors", "3 labels for 4 rows"});
  const std::vector<float> floats = {1, 2, 3};
  test::write_bytes(dir.path("float.npy"), io::serialize_npy(io::DType::F32, {3}, floats.data()));
  test::expect_error([&] { io::read_labels_any(dir.path("float.npy"), 3, "rows"); },
                     {"float.npy", "integer vector"});
}

TEST(InspectCommand, WritesJsonAndTakesLabelsFromAnotherFile) {
  test::TempDir dir;
  const Data d = gaussian(30, 4, 2, 9);
  const std::string labelled = write(dir, "labelled.safetensors", d);
  test::write_bytes(dir.path("f.npy"), io::serialize_npy(io::DType::F32, {30, 4}, d.x.data()));
  test::write_bytes(dir.path("y.npy"), io::serialize_npy(io::DType::I64, {30}, d.y.data()));
  std::int64_t pairs = 0;
  const double expected = direct_tolerance(d, &pairs);

  pipeline::InspectOptions o;
  o.features = dir.path("f.npy");
  o.out = dir.path("report.json");
  o.json = true;
  for (const std::string& labels : {dir.path("y.npy"), labelled}) {
    o.labels_from = labels;
    EXPECT_EQ(pipeline::run_inspect(o), 0);
    const nlohmann::json j = nlohmann::json::parse(test::read_bytes(o.out));
    EXPECT_EQ(j["format"], "oodflow.inspect");
    EXPECT_EQ(j["rows"], 30);
    EXPECT_EQ(j["labels"]["source"], labels);
    EXPECT_NEAR(j["tolerance"]["value"].get<double>(), expected, 1e-12);
    EXPECT_EQ(j["tolerance"]["pairs"], pairs);
    EXPECT_EQ(j["uniformity"]["method"], "exact");
    EXPECT_TRUE(j["uniformity"]["standard_error"].is_null());
  }
  o.labels_from.clear();
  EXPECT_EQ(pipeline::run_inspect(o), 0);
  EXPECT_TRUE(nlohmann::json::parse(test::read_bytes(o.out))["tolerance"].is_null());

  // A labels file of another length names both files and both counts.
  const std::vector<std::int64_t> short_labels(29, 0);
  test::write_bytes(dir.path("short.npy"),
                    io::serialize_npy(io::DType::I64, {29}, short_labels.data()));
  o.labels_from = dir.path("short.npy");
  test::expect_error([&] { pipeline::run_inspect(o); },
                     {"short.npy", "29 labels", "30 rows", "f.npy"});
  o.labels_from.clear();
  o.settings.block_size = 0;
  EXPECT_THROW(pipeline::run_inspect(o), UsageError);
  o.settings.block_size = 8;
  o.out = o.features;
  EXPECT_THROW(pipeline::run_inspect(o), UsageError);
}

}  // namespace
}  // namespace oodflow::inspect
