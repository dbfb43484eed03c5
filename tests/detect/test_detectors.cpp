// Every detector against an independent straightforward computation in double precision
// (softmax and logsumexp written out, covariance inverses by cofactors, brute-force
// neighbours), on small random data, plus the properties the interface promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "oodflow/detect/detector.h"
#include "oodflow/detect/knn.h"
#include "test_util.h"

namespace oodflow::detect {
namespace {

// A classifier head whose class c weighs the feature dimensions d with d % classes == c.
ClassifierHead class_head(std::int64_t dim, std::int64_t classes) {
  ClassifierHead h;
  h.classes = classes;
  h.dim = dim;
  h.source = "head.pt";
  for (std::int64_t c = 0; c < classes; ++c) {
    for (std::int64_t d = 0; d < dim; ++d) h.weight.push_back(d % classes == c ? 1.0f : -0.1f);
    h.bias.push_back(0.1f * static_cast<float>(c));
  }
  return h;
}

void set_odin(FeatureSet* s) {
  s->aux = {{"odin", test::kOdinStandinSettings, test::odin_standin(s->logits, s->classes)}};
}

// Non-negative (post-ReLU-like) features around one of `classes` centres; the logits are
// the head's (features W^T + b); ODIN stand-ins from them.
FeatureSet random_set(std::int64_t rows, std::int64_t dim, std::int64_t classes,
                      std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  FeatureSet s;
  s.rows = rows;
  s.dim = dim;
  s.classes = classes;
  s.source = "set" + std::to_string(seed);
  const ClassifierHead head = class_head(dim, classes);
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::int64_t label = i % classes;
    s.labels.push_back(label);
    for (std::int64_t d = 0; d < dim; ++d) {
      s.features.push_back(std::abs(normal(rng) + (d % classes == label ? 3.0f : 0.0f)));
    }
    for (std::int64_t c = 0; c < classes; ++c) {
      double z = head.bias[c];
      for (std::int64_t d = 0; d < dim; ++d) {
        z += double{head.weight[c * dim + d]} * s.features[i * dim + d];
      }
      s.logits.push_back(static_cast<float>(z));
    }
  }
  set_odin(&s);
  return s;
}

// Fits `d` on `train` as the pipeline does: from the rows in memory, or streamed from a
// feature file written from them (knn, flows); with `head` for the models that need one.
void fit_on(Detector& d, const FeatureSet& train, const ClassifierHead* head) {
  FitContext context;
  context.head = head;
  if (!d.needs().streamed_fit) {
    d.fit(train, context);
    return;
  }
  test::TempDir dir;  // a map of the scratch file outlives its directory entry
  test::write_features(dir.path("train.safetensors"), train.features, train.rows, train.dim);
  const io::FeatureFile file = io::FeatureFile::open(dir.path("train.safetensors"));
  std::vector<std::int64_t> rows(static_cast<std::size_t>(train.rows));
  std::iota(rows.begin(), rows.end(), 0);
  context.scratch = dir.path("scratch.safetensors");
  d.fit(file, rows, context);
}

// random_set's head for a training set with classes; none without.
std::optional<ClassifierHead> head_of(const FeatureSet& train) {
  if (train.classes == 0) return std::nullopt;
  return class_head(train.dim, train.classes);
}

std::vector<double> fit_and_score(const std::string& name, const FeatureSet& train,
                                  const FeatureSet& test, DetectorOptions o = {},
                                  std::optional<ClassifierHead> head = std::nullopt) {
  if (!head) head = head_of(train);
  auto d = make_detector(name, o);
  fit_on(*d, train, head ? &*head : nullptr);
  return d->score(test);
}

TEST(Detectors, LogitScoresEqualTheirDefinitions) {
  const FeatureSet train = random_set(50, 4, 5, 1);
  const FeatureSet test = random_set(40, 4, 5, 2);
  const auto msp = fit_and_score("msp", train, test);
  const auto maxlogit = fit_and_score("maxlogit", train, test);
  DetectorOptions hot;
  hot.temperature = 2.5;
  const auto energy = fit_and_score("energy", train, test);
  const auto energy_t = fit_and_score("energy", train, test, hot);
  for (std::int64_t i = 0; i < test.rows; ++i) {
    const float* z = test.logits.data() + i * 5;
    double sum = 0, sum_t = 0, top = -1e300;
    for (int c = 0; c < 5; ++c) {
      sum += std::exp(double{z[c]});
      sum_t += std::exp(z[c] / 2.5);
      top = std::max(top, double{z[c]});
    }
    EXPECT_NEAR(msp[i], std::exp(top) / sum, 1e-12) << i;
    EXPECT_DOUBLE_EQ(maxlogit[i], top);
    EXPECT_NEAR(energy[i], std::log(sum), 1e-9);
    EXPECT_NEAR(energy_t[i], 2.5 * std::log(sum_t), 1e-9);
  }
}

// ReAct: the 90th percentile of all training activations (numpy's linear interpolation),
// features clipped there, the head's logits, their logsumexp.
TEST(Detectors, ReactEqualsItsDefinition) {
  const FeatureSet train = random_set(50, 6, 3, 20);
  const FeatureSet test = random_set(20, 6, 3, 21);
  const auto scores = fit_and_score("react", train, test);
  const ClassifierHead head = class_head(6, 3);
  std::vector<double> all(train.features.begin(), train.features.end());
  std::sort(all.begin(), all.end());
  const double position = 0.9 * static_cast<double>(all.size() - 1);
  const auto below = static_cast<std::size_t>(position);
  const double clip = all[below] + (all[below + 1] - all[below]) * (position - below);
  for (std::int64_t i = 0; i < test.rows; ++i) {
    double sum = 0;
    for (int c = 0; c < 3; ++c) {
      double z = head.bias[c];
      for (int d = 0; d < 6; ++d) {
        z += double{head.weight[c * 6 + d]} * std::min(double{test.features[i * 6 + d]}, clip);
      }
      sum += std::exp(z);
    }
    EXPECT_NEAR(scores[i], std::log(sum), 1e-9) << i;
  }
}

// ViM on a case with a known principal subspace: training features about the origin
// u = -pinv(W) b lie on the axes with decreasing spread, so the covariance is diagonal and
// its top D/2 = 2 eigenvectors are e1 and e2; the residual of h is then the norm of
// (h - u) in dimensions 3 and 4.
TEST(Detectors, VimEqualsItsDefinitionOnAKnownSubspace) {
  const std::int64_t dim = 4, classes = 5;
  FeatureSet train;
  train.dim = dim;
  train.source = "axes";
  ClassifierHead head;
  head.classes = classes;
  head.dim = dim;
  head.source = "head.pt";
  const double u[4] = {1, -2, 0.5, 3};
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0, 1);
  for (std::int64_t c = 0; c < classes; ++c) {
    for (std::int64_t d = 0; d < dim; ++d) head.weight.push_back(normal(rng));
  }
  // b = -W u, so that -pinv(W) b = u (W has full column rank).
  for (std::int64_t c = 0; c < classes; ++c) {
    double b = 0;
    for (std::int64_t d = 0; d < dim; ++d) b -= head.weight[c * dim + d] * u[d];
    head.bias.push_back(static_cast<float>(b));
  }
  const double spread[4] = {8, 4, 1, 0.5};
  for (int d = 0; d < 4; ++d) {
    for (double sign : {1.0, -1.0}) {
      for (int e = 0; e < 4; ++e) {
        train.features.push_back(static_cast<float>(u[e] + (e == d ? sign * spread[d] : 0)));
      }
    }
  }
  train.rows = 8;
  const auto logits_of = [&](const float* h, std::vector<double>* z) {
    z->assign(classes, 0);
    for (std::int64_t c = 0; c < classes; ++c) {
      (*z)[c] = head.bias[c];
      for (std::int64_t d = 0; d < dim; ++d) (*z)[c] += head.weight[c * dim + d] * h[d];
    }
  };
  const auto residual = [&](const float* h) { return std::hypot(h[2] - u[2], h[3] - u[3]); };
  double max_logit_sum = 0, residual_sum = 0;
  std::vector<double> z;
  for (int i = 0; i < 8; ++i) {
    logits_of(&train.features[i * 4], &z);
    max_logit_sum += *std::max_element(z.begin(), z.end());
    residual_sum += residual(&train.features[i * 4]);
  }
  const double alpha = max_logit_sum / residual_sum;
  FeatureSet test = random_set(10, 4, 5, 22);
  const auto scores = fit_and_score("vim", train, test, {}, head);
  for (std::int64_t i = 0; i < test.rows; ++i) {
    logits_of(&test.features[i * 4], &z);
    double sum = 0;
    for (double v : z) sum += std::exp(v);
    // 1e-5: the head's bias is stored as float, so -pinv(W) b is u to float precision only.
    EXPECT_NEAR(scores[i], std::log(sum) - alpha * residual(&test.features[i * 4]), 1e-5) << i;
  }
}

TEST(Detectors, LogitDetectorsSurviveHugeLogits) {
  FeatureSet s = random_set(3, 2, 3, 3);
  s.logits = {1000, 999, -1000, 0, 0, 0, -5000, -5001, -4999};
  for (const char* name : {"msp", "maxlogit", "energy"}) {
    for (double v : fit_and_score(name, s, s)) EXPECT_TRUE(std::isfinite(v)) << name;
  }
  EXPECT_NEAR(fit_and_score("energy", s, s)[0], 1000 + std::log(1 + std::exp(-1.0)), 1e-9);
}

// 3x3 inverse by cofactors and determinant, in double: the oracle of the Gaussian tests.
struct Inverse3 {
  double m[3][3];  // the inverse
  double det;      // the determinant of the inverted matrix
};
Inverse3 invert3(const double a[3][3]) {
  Inverse3 r{};
  r.det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
          a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
          a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      r.m[i][j] = (a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]) / r.det;
    }
  }
  return r;
}

// Mean, class means and covariance (divided by N) of the rows of `s`, each row centred on
// the overall mean or, with `per_class`, on its class mean.
void moments(const FeatureSet& s, double mean[3], double cov[3][3], bool per_class,
             double class_means[3][3]) {
  std::fill(mean, mean + 3, 0.0);
  double counts[3] = {};
  for (std::int64_t i = 0; i < s.rows; ++i) {
    for (int d = 0; d < 3; ++d) {
      mean[d] += s.features[i * 3 + d] / double(s.rows);
      class_means[s.labels[i]][d] += s.features[i * 3 + d];
    }
    counts[s.labels[i]] += 1;
  }
  for (int c = 0; c < 3; ++c) {
    for (int d = 0; d < 3; ++d) class_means[c][d] /= counts[c];
  }
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) cov[a][b] = 0;
  }
  for (std::int64_t i = 0; i < s.rows; ++i) {
    const double* centre = per_class ? class_means[s.labels[i]] : mean;
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        cov[a][b] += (s.features[i * 3 + a] - centre[a]) * (s.features[i * 3 + b] - centre[b]) /
                     double(s.rows);
      }
    }
  }
}

double quadratic(const Inverse3& p, const double* x, const double* mu) {
  double q = 0;
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) q += (x[a] - mu[a]) * p.m[a][b] * (x[b] - mu[b]);
  }
  return q;
}

TEST(Detectors, GaussianAndMahalanobisEqualClosedForms) {
  const FeatureSet train = random_set(300, 3, 3, 4);
  const FeatureSet test = random_set(30, 3, 3, 5);
  DetectorOptions exact;
  exact.shrinkage = 0;
  const auto gaussian = fit_and_score("gaussian", train, test, exact);
  const auto mahalanobis = fit_and_score("mahalanobis", train, test, exact);
  double mean[3], cov[3][3], class_means[3][3] = {}, shared[3][3], unused[3][3] = {};
  moments(train, mean, cov, false, class_means);
  moments(train, mean, shared, true, unused);
  const Inverse3 p = invert3(cov);
  const Inverse3 ps = invert3(shared);
  for (std::int64_t i = 0; i < test.rows; ++i) {
    const double x[3] = {test.features[i * 3], test.features[i * 3 + 1], test.features[i * 3 + 2]};
    // log N(x; mu, S) = -(q + log det S + d log 2 pi) / 2 (p.det is det S).
    const double expected =
        -0.5 * (quadratic(p, x, mean) + std::log(p.det) + 3 * std::log(2 * M_PI));
    EXPECT_NEAR(gaussian[i], expected, 1e-9) << i;
    double best = 1e300;
    for (int c = 0; c < 3; ++c) best = std::min(best, quadratic(ps, x, class_means[c]));
    EXPECT_NEAR(mahalanobis[i], -best, 1e-9) << i;
  }
}

TEST(Detectors, SingularCovarianceIsShrunkNotNaN) {
  const FeatureSet train = random_set(5, 20, 2, 6);  // 5 samples in 20 dimensions
  const FeatureSet test = random_set(10, 20, 2, 7);
  for (const char* name : {"gaussian", "mahalanobis"}) {
    for (double v : fit_and_score(name, train, test)) EXPECT_TRUE(std::isfinite(v)) << name;
    DetectorOptions none;
    none.shrinkage = 0;
    test::expect_error([&] { fit_and_score(name, train, test, none); },
                       {"covariance", "singular", "shrinkage"});
  }
}

TEST(Detectors, KnnBlockedSearchEqualsBruteForce) {
  const FeatureSet bank = random_set(300, 16, 4, 8);
  const FeatureSet queries = random_set(25, 16, 4, 9);
  const auto unit = [](const FeatureSet& s) {
    std::vector<double> out(s.features.begin(), s.features.end());
    for (std::int64_t i = 0; i < s.rows; ++i) {
      double n = 0;
      for (std::int64_t d = 0; d < s.dim; ++d) n += out[i * s.dim + d] * out[i * s.dim + d];
      for (std::int64_t d = 0; d < s.dim; ++d) out[i * s.dim + d] /= std::sqrt(n);
    }
    return out;
  };
  const auto b = unit(bank);
  const auto q = unit(queries);
  std::vector<float> bf(b.begin(), b.end()), qf(q.begin(), q.end());
  const std::int64_t k = 7;
  for (std::int64_t block : {1, 7, 64, 299, 300, 1000}) {
    const KnnResult r = knn_search(bf.data(), 300, qf.data(), 25, 16, k, block);
    for (std::int64_t i = 0; i < 25; ++i) {
      std::vector<std::pair<double, std::int64_t>> all;
      for (std::int64_t j = 0; j < 300; ++j) {
        double dist2 = 0;
        for (std::int64_t d = 0; d < 16; ++d) {
          const double diff = q[i * 16 + d] - b[j * 16 + d];
          dist2 += diff * diff;
        }
        all.emplace_back(dist2, j);
      }
      std::sort(all.begin(), all.end());
      std::set<std::int64_t> expected, got;
      for (std::int64_t n = 0; n < k; ++n) {
        expected.insert(all[n].second);
        got.insert(r.index[i * k + n]);
      }
      EXPECT_EQ(got, expected) << "block " << block << ", query " << i;
    }
  }
  DetectorOptions o;
  o.k = k;
  o.block_size = 13;
  const auto scores = fit_and_score("knn", bank, queries, o);
  for (std::int64_t i = 0; i < 25; ++i) {
    std::vector<double> d;
    for (std::int64_t j = 0; j < 300; ++j) {
      double dist2 = 0;
      for (std::int64_t x = 0; x < 16; ++x) {
        dist2 += (q[i * 16 + x] - b[j * 16 + x]) * (q[i * 16 + x] - b[j * 16 + x]);
      }
      d.push_back(std::sqrt(dist2));
    }
    std::nth_element(d.begin(), d.begin() + (k - 1), d.end());
    EXPECT_NEAR(scores[i], -d[k - 1], 1e-5) << i;
  }
}

// The streamed fit (for banks larger than memory) writes the very file that fitting in
// memory and saving writes, over several chunks of rows.
TEST(Detectors, KnnStreamedFitWritesTheSameFile) {
  test::TempDir dir;
  const FeatureSet set = random_set(9000, 5, 3, 30);
  test::write_features(dir.path("train.safetensors"), set.features, set.rows, set.dim);
  const io::FeatureFile file = io::FeatureFile::open(dir.path("train.safetensors"));
  DetectorOptions o;
  o.k = 7;
  auto knn = make_detector("knn", o);
  knn->fit(FeatureSet::load(file), {});
  knn->save(dir.path("memory.safetensors"), {{"training", "x"}}, nullptr);
  std::vector<std::int64_t> rows(9000);
  std::iota(rows.begin(), rows.end(), 0);
  FitContext context;
  context.scratch = dir.path("scratch.safetensors");
  auto streamed = make_detector("knn", o);
  ASSERT_TRUE(streamed->needs().streamed_fit);
  streamed->fit(file, rows, context);
  streamed->save(dir.path("streamed.safetensors"), {{"training", "x"}}, nullptr);
  EXPECT_EQ(test::read_bytes(dir.path("streamed.safetensors")),
            test::read_bytes(dir.path("memory.safetensors")));
  // The same with an IVF index: the bank stored list by list, centroids, offsets, recall.
  DetectorOptions ivf = o;
  ivf.knn_index = "ivf";
  auto ivf_memory = make_detector("knn", ivf);
  ivf_memory->fit(FeatureSet::load(file), {});
  ivf_memory->save(dir.path("ivf_memory.safetensors"), {{"training", "x"}}, nullptr);
  auto ivf_streamed = make_detector("knn", ivf);
  ivf_streamed->fit(file, rows, context);
  ivf_streamed->save(dir.path("ivf_streamed.safetensors"), {{"training", "x"}}, nullptr);
  EXPECT_EQ(test::read_bytes(dir.path("ivf_streamed.safetensors")),
            test::read_bytes(dir.path("ivf_memory.safetensors")));
  o.k = 9001;
  test::expect_error([&] { make_detector("knn", o)->fit(file, rows, context); },
                     {"k = 9001", "has 9000"});
}

// IVF: probing every list is the exact search; probing one is approximate, and the recall
// the fit records is what the scores show against the exact (flat) search.
TEST(Detectors, KnnIvfRecallIsMeasuredAndFullProbeIsExact) {
  test::TempDir dir;
  const FeatureSet train = random_set(800, 16, 4, 40);  // <= 1000 rows: all are recall queries
  const FeatureSet test = random_set(200, 16, 4, 41);
  DetectorOptions flat;
  flat.k = 10;
  auto exact = make_detector("knn", flat);
  exact->fit(train, {});
  const auto exact_test = exact->score(test);
  const auto exact_train = exact->score(train);
  DetectorOptions ivf = flat;
  ivf.knn_index = "ivf";
  ivf.nlist = 16;
  ivf.nprobe = 16;
  auto full = make_detector("knn", ivf);
  full->fit(train, {});
  const auto full_scores = full->score(test);
  for (std::size_t i = 0; i < full_scores.size(); ++i) {
    EXPECT_NEAR(full_scores[i], exact_test[i], 1e-5) << i;
  }
  EXPECT_EQ(nlohmann::json::parse(full->fit_summary())["ivf_recall"]["recall_at_k"], 1.0);

  ivf.nprobe = 1;
  auto one = make_detector("knn", ivf);
  one->fit(train, {});
  const auto recall = nlohmann::json::parse(one->fit_summary())["ivf_recall"];
  EXPECT_EQ(recall["queries"], 800);
  const auto approx_train = one->score(train);
  double kth_exact = 0, max_error = 0;
  for (std::size_t i = 0; i < approx_train.size(); ++i) {
    // An approximate neighbour is never closer than the exact one.
    EXPECT_LE(approx_train[i], exact_train[i] + 1e-6) << i;
    const double error = std::abs(approx_train[i] - exact_train[i]);
    kth_exact += error <= 1e-6 ? 1 : 0;
    max_error = std::max(max_error, error);
  }
  kth_exact /= static_cast<double>(approx_train.size());
  EXPECT_LT(kth_exact, 1.0) << "one probed list of 16 should miss neighbours here";
  EXPECT_NEAR(recall["kth_neighbour_exact"].get<double>(), kth_exact, 2.0 / 800);
  EXPECT_NEAR(recall["max_score_error"].get<double>(), max_error, 1e-5);
  EXPECT_GT(recall["recall_at_k"].get<double>(), 0.0);
  EXPECT_LT(recall["recall_at_k"].get<double>(), 1.0);

  // The model file keeps the layout, the settings and the recall: the same scores after a
  // load, and the label says the search is approximate.
  one->save(dir.path("ivf.safetensors"), {{"training", "x"}}, nullptr);
  const LoadedModel loaded = load_model(dir.path("ivf.safetensors"));
  EXPECT_EQ(loaded.detector->score(test), one->score(test));
  EXPECT_NE(loaded.detector->label().find("IVF 16/1"), std::string::npos)
      << loaded.detector->label();
  ivf.nlist = 801;
  test::expect_error([&] { make_detector("knn", ivf)->fit(train, {}); },
                     {"--nlist 801", "800 training samples"});
}

class EveryDetector : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryDetector, FiniteScoresOrientedAndSaveLoadRoundTrip) {
  const FeatureSet train = random_set(400, 8, 4, 10);
  const FeatureSet test = random_set(60, 8, 4, 11);
  DetectorOptions o;
  o.k = 10;
  auto d = make_detector(GetParam(), o);
  EXPECT_EQ(d->name(), GetParam());
  const std::optional<ClassifierHead> head = head_of(train);
  fit_on(*d, train, &*head);
  const auto scores = d->score(test);
  ASSERT_EQ(scores.size(), 60u);
  for (double v : scores) EXPECT_TRUE(std::isfinite(v));
  // Higher = more in-distribution: weak features without class structure (and their flat
  // logits) score lower.
  FeatureSet ood = random_set(60, 8, 4, 12);
  std::mt19937_64 rng(13);
  std::uniform_real_distribution<float> weak(0, 0.3f);
  for (float& v : ood.features) v = weak(rng);
  for (float& v : ood.logits) v *= 0.05f;
  set_odin(&ood);
  const auto ood_scores = d->score(ood);
  // ViM scores features near its origin u as typical (small residual, small energy, both
  // about ID size after alpha): its sign is checked by its closed-form test instead. A flow
  // is a density of L2-normalised features, where the weak uniform ones land near the centre
  // of the ID directions: the flows' sign is checked on shifted data (test_train_score).
  const bool flow = d->needs().varying_features;
  if (GetParam() != "vim" && !flow) {
    EXPECT_GT(std::accumulate(scores.begin(), scores.end(), 0.0),
              std::accumulate(ood_scores.begin(), ood_scores.end(), 0.0));
  }

  test::TempDir dir;
  d->save(dir.path("d.safetensors"), {}, nullptr);
  const auto loaded = load_model(dir.path("d.safetensors")).detector;
  EXPECT_EQ(loaded->name(), GetParam());
  EXPECT_EQ(loaded->score(test), scores);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryDetector, ::testing::ValuesIn(detector_names()));

// The odin detector reads the auxiliary score of its name among others, and compares settings
// without their free-text description.
TEST(Detectors, OdinReadsItsAuxiliaryScoreByNameAndComparesItsSettings) {
  const auto odin = make_detector("odin");
  const Needs needs = odin->needs();
  EXPECT_FALSE(needs.features);
  EXPECT_EQ(needs.aux_scores, std::vector<std::string>{"odin"});
  FeatureSet train;
  train.rows = 3;
  train.source = "train.safetensors";
  train.aux = {{"gradnorm", R"({"p":2})", {7, 8, 9}},
               {"odin", R"({"temperature":1000.0,"epsilon":0.0014,"std":[0.5]})", {0.5, 0.25, 1}}};
  odin->fit(train, FitContext{});
  EXPECT_EQ(odin->feature_dim(), 0);
  EXPECT_EQ(odin->score(train), (std::vector<double>{0.5, 0.25, 1}));
  FeatureSet reworded = train;
  reworded.aux[1].settings =
      R"({"description":"other words","std":[0.5],"epsilon":0.0014,"temperature":1000.0})";
  reworded.aux[1].values = {0.125, 0.375, 0.75};
  EXPECT_EQ(odin->score(reworded), (std::vector<double>{0.125, 0.375, 0.75}));
  FeatureSet hotter = train;
  hotter.source = "hot.safetensors";
  hotter.aux[1].settings = R"({"temperature":10.0,"epsilon":0.0014,"std":[0.5]})";
  test::expect_error([&] { odin->score(hotter); },
                     {"hot.safetensors", "\"temperature\":10.0", "\"temperature\":1000.0"});
  FeatureSet other_only = train;
  other_only.aux.erase(other_only.aux.begin() + 1);
  test::expect_error([&] { odin->score(other_only); }, {"train.safetensors", "no 'odin' scores"});
}

TEST(Detectors, MissingInputsAndUnknownNamesAreClearErrors) {
  FeatureSet bare = random_set(20, 4, 2, 12);
  bare.logits.clear();
  bare.labels.clear();
  bare.classes = 0;
  test::expect_error([&] { fit_and_score("energy", bare, bare); },
                     {"set12", "no logits", "energy", "export_backbone.py"});
  test::expect_error([&] { fit_and_score("mahalanobis", bare, bare); },
                     {"set12", "no labels", "mahalanobis"});
  test::expect_error([&] { fit_and_score("vim", bare, bare); },
                     {"set12", "classifier head", "--backbone"});
  test::expect_error([] { make_detector("ssd"); }, {"unknown detector 'ssd'", "knn", "odin"});
  bare.aux.clear();
  test::expect_error([&] { fit_and_score("odin", bare, bare); },
                     {"set12", "no 'odin' scores", "--odin"});
  const FeatureSet wide = random_set(20, 6, 2, 13);
  DetectorOptions o;
  o.k = 5;
  test::expect_error([&] { fit_and_score("knn", bare, wide, o); },
                     {"dimension 6", "fitted on dimension 4"});
  o.k = 50;
  test::expect_error([&] { fit_and_score("knn", bare, bare, o); }, {"k = 50", "has 20"});
}

}  // namespace
}  // namespace oodflow::detect
