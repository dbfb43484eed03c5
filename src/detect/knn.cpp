#include "oodflow/detect/knn.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "oodflow/core/error.h"
#include "oodflow/core/threads.h"

namespace oodflow::detect {
namespace {

using faiss_idx = faiss::Index::idx_t;

// Keeps the k best of two descending top-k lists of one query in `best` (a sorted merge).
void merge_top_k(float* best_sim, std::int64_t* best_idx, const float* new_sim,
                 const faiss_idx* new_idx, std::int64_t k, std::vector<float>& sim_tmp,
                 std::vector<std::int64_t>& idx_tmp) {
  std::int64_t a = 0, b = 0;
  for (std::int64_t out = 0; out < k; ++out) {
    if (new_idx[b] >= 0 && (best_idx[a] < 0 || new_sim[b] > best_sim[a])) {
      sim_tmp[out] = new_sim[b];
      idx_tmp[out] = new_idx[b++];
    } else {
      sim_tmp[out] = best_sim[a];
      idx_tmp[out] = best_idx[a++];
    }
  }
  std::copy(sim_tmp.begin(), sim_tmp.begin() + k, best_sim);
  std::copy(idx_tmp.begin(), idx_tmp.begin() + k, best_idx);
}

}  // namespace

// Not in the anonymous namespace: IvfSearcher::Impl, which has external linkage, holds one.
namespace detail {

// Inverted lists over a bank stored list by list, read in place (faiss only reads them when
// searching). The ids are bank rows, so a list's ids are a slice of 0, 1, ..., N-1.
class MappedInvertedLists : public faiss::InvertedLists {
 public:
  MappedInvertedLists(const float* bank, std::vector<std::int64_t> offsets, std::int64_t dim)
      : faiss::InvertedLists(offsets.size() - 1, static_cast<std::size_t>(dim) * sizeof(float)),
        bank_(reinterpret_cast<const std::uint8_t*>(bank)),
        offsets_(std::move(offsets)),
        ids_(static_cast<std::size_t>(offsets_.back())) {
    std::iota(ids_.begin(), ids_.end(), faiss_idx{0});
  }

  std::size_t list_size(std::size_t list) const override {
    return static_cast<std::size_t>(offsets_[list + 1] - offsets_[list]);
  }
  const std::uint8_t* get_codes(std::size_t list) const override {
    return bank_ + static_cast<std::size_t>(offsets_[list]) * code_size;
  }
  const faiss_idx* get_ids(std::size_t list) const override { return ids_.data() + offsets_[list]; }
  std::size_t add_entries(std::size_t, std::size_t, const faiss_idx*,
                          const std::uint8_t*) override {
    throw Error("internal: the IVF lists of a knn model are read-only");
  }
  void update_entries(std::size_t, std::size_t, std::size_t, const faiss_idx*,
                      const std::uint8_t*) override {
    throw Error("internal: the IVF lists of a knn model are read-only");
  }
  void resize(std::size_t, std::size_t) override {
    throw Error("internal: the IVF lists of a knn model are read-only");
  }

 private:
  const std::uint8_t* bank_;
  std::vector<std::int64_t> offsets_;
  std::vector<faiss_idx> ids_;
};

}  // namespace detail

KnnResult knn_search(const float* bank, std::int64_t bank_rows, const float* queries,
                     std::int64_t query_rows, std::int64_t dim, std::int64_t k,
                     std::int64_t block_rows) {
  OODFLOW_CHECK(k >= 1 && k <= bank_rows && block_rows >= 1,
                "internal: k = " << k << " of " << bank_rows << " rows, block " << block_rows);
  const auto nk = static_cast<std::size_t>(query_rows * k);
  KnnResult out;
  out.similarity.assign(nk, -std::numeric_limits<float>::infinity());
  out.index.assign(nk, -1);
  std::vector<float> sim(nk);
  std::vector<faiss_idx> idx(nk);
  std::vector<float> sim_tmp(static_cast<std::size_t>(k));
  std::vector<std::int64_t> idx_tmp(static_cast<std::size_t>(k));
  for (std::int64_t begin = 0; begin < bank_rows; begin += block_rows) {
    const std::int64_t rows = std::min(block_rows, bank_rows - begin);
    const std::int64_t kk = std::min(k, rows);
    faiss::knn_inner_product(queries, bank + begin * dim, static_cast<std::size_t>(dim),
                             static_cast<std::size_t>(query_rows), static_cast<std::size_t>(rows),
                             static_cast<std::size_t>(kk), sim.data(), idx.data());
    for (std::int64_t q = 0; q < query_rows; ++q) {
      faiss_idx* block_idx = idx.data() + q * kk;
      for (std::int64_t j = 0; j < kk; ++j) {
        if (block_idx[j] >= 0) block_idx[j] += begin;
      }
      if (kk < k) {  // a short last block: pad it to k with empty places
        std::vector<float> s(sim.data() + q * kk, sim.data() + (q + 1) * kk);
        std::vector<faiss_idx> i(block_idx, block_idx + kk);
        s.resize(static_cast<std::size_t>(k), -std::numeric_limits<float>::infinity());
        i.resize(static_cast<std::size_t>(k), -1);
        merge_top_k(out.similarity.data() + q * k, out.index.data() + q * k, s.data(), i.data(), k,
                    sim_tmp, idx_tmp);
      } else {
        merge_top_k(out.similarity.data() + q * k, out.index.data() + q * k, sim.data() + q * k,
                    block_idx, k, sim_tmp, idx_tmp);
      }
    }
  }
  return out;
}

std::vector<float> train_ivf_centroids(const float* rows, std::int64_t n, std::int64_t dim,
                                       std::int64_t nlist, std::uint64_t seed) {
  OODFLOW_CHECK(nlist >= 1 && n >= nlist,
                "internal: " << nlist << " IVF lists from " << n << " training rows");
  faiss::ClusteringParameters cp;
  cp.spherical = true;  // inner-product search on unit rows: centroids on the sphere too
  cp.seed = static_cast<int>(seed % 2147483647u);
  cp.min_points_per_centroid = 1;  // the caller chooses the sample; no faiss warning
  cp.max_points_per_centroid = static_cast<int>(std::max<std::int64_t>(1, n / nlist + 1));
  faiss::Clustering clustering(static_cast<int>(dim), static_cast<std::size_t>(nlist), cp);
  faiss::IndexFlatIP assigner(dim);
  clustering.train(n, rows, assigner);
  return clustering.centroids;
}

std::vector<std::int64_t> assign_ivf_lists(const float* centroids, std::int64_t nlist,
                                           const float* rows, std::int64_t n, std::int64_t dim) {
  faiss::IndexFlatIP quantizer(dim);
  quantizer.add(nlist, centroids);
  std::vector<faiss_idx> lists(static_cast<std::size_t>(n));
  quantizer.assign(n, rows, lists.data());
  return {lists.begin(), lists.end()};
}

IvfLayout ivf_layout(const std::vector<std::int64_t>& list_of, std::int64_t nlist) {
  IvfLayout out;
  out.offsets.assign(static_cast<std::size_t>(nlist + 1), 0);
  for (const std::int64_t l : list_of) ++out.offsets[static_cast<std::size_t>(l + 1)];
  std::partial_sum(out.offsets.begin(), out.offsets.end(), out.offsets.begin());
  out.order.resize(list_of.size());
  std::vector<std::int64_t> next(out.offsets.begin(), out.offsets.end() - 1);
  for (std::size_t i = 0; i < list_of.size(); ++i) {
    out.order[static_cast<std::size_t>(next[static_cast<std::size_t>(list_of[i])]++)] =
        static_cast<std::int64_t>(i);
  }
  return out;
}

struct IvfSearcher::Impl {
  faiss::IndexFlatIP quantizer;
  faiss::IndexIVFFlat index;
  detail::MappedInvertedLists lists;

  Impl(const float* centroids, std::int64_t nlist, const float* bank,
       std::vector<std::int64_t> offsets, std::int64_t dim)
      : quantizer(dim),
        index(&quantizer, static_cast<std::size_t>(dim), static_cast<std::size_t>(nlist),
              faiss::METRIC_INNER_PRODUCT),
        lists(bank, std::move(offsets), dim) {
    quantizer.add(nlist, centroids);
    index.replace_invlists(&lists, /*own=*/false);
    std::int64_t total = 0;
    for (std::int64_t l = 0; l < nlist; ++l) total += lists.list_size(l);
    index.ntotal = total;
    index.is_trained = true;
  }
};

IvfSearcher::IvfSearcher(const float* centroids, std::int64_t nlist, const float* bank,
                         std::vector<std::int64_t> list_offsets, std::int64_t dim) {
  OODFLOW_CHECK(nlist >= 1 && static_cast<std::int64_t>(list_offsets.size()) == nlist + 1 &&
                    list_offsets.front() == 0 &&
                    std::is_sorted(list_offsets.begin(), list_offsets.end()),
                "knn: the IVF list offsets are not " << nlist + 1
                                                     << " ascending values from 0 (a damaged "
                                                        "model file?)");
  impl_ = std::make_unique<Impl>(centroids, nlist, bank, std::move(list_offsets), dim);
}

IvfSearcher::~IvfSearcher() = default;

KnnResult IvfSearcher::search(const float* queries, std::int64_t query_rows, std::int64_t k,
                              std::int64_t nprobe) const {
  const auto nk = static_cast<std::size_t>(query_rows * k);
  std::vector<float> sim(nk);
  std::vector<faiss_idx> idx(nk);
  faiss::SearchParametersIVF params;
  params.nprobe = static_cast<std::size_t>(std::clamp<std::int64_t>(nprobe, 1, impl_->index.nlist));
  // faiss scans the lists on OpenMP threads, one query each, without BLAS: it gets the
  // threads oodflow gives OpenBLAS (LibTorch keeps its pool at one thread for matrix
  // products, which sets OpenMP's default to one; docs/threads.md).
  const int before = omp_get_max_threads();
  omp_set_num_threads(std::max(1, blas_threads()));
  impl_->index.search(query_rows, queries, k, sim.data(), idx.data(), &params);
  omp_set_num_threads(before);
  for (std::size_t i = 0; i < nk; ++i) {
    if (idx[i] < 0) sim[i] = -std::numeric_limits<float>::infinity();
  }
  KnnResult out;
  out.similarity = std::move(sim);
  out.index.assign(idx.begin(), idx.end());
  return out;
}

KnnRecall compare_knn(const KnnResult& approx, const KnnResult& exact, std::int64_t k) {
  KnnRecall r;
  r.queries = static_cast<std::int64_t>(exact.similarity.size()) / k;
  if (r.queries == 0) return r;
  double found = 0, kth = 0, error_sum = 0;
  for (std::int64_t q = 0; q < r.queries; ++q) {
    const std::set<std::int64_t> truth(exact.index.begin() + q * k,
                                       exact.index.begin() + (q + 1) * k);
    for (std::int64_t j = 0; j < k; ++j) found += truth.count(approx.index[q * k + j]);
    const double a = knn_distance_score(approx.similarity[q * k + k - 1]);
    const double e = knn_distance_score(exact.similarity[q * k + k - 1]);
    const double error = std::abs(a - e);
    kth += error <= 1e-6 ? 1 : 0;
    error_sum += error;
    r.max_score_error = std::max(r.max_score_error, error);
  }
  r.recall_at_k = found / static_cast<double>(r.queries * k);
  r.kth_exact = kth / static_cast<double>(r.queries);
  r.mean_score_error = error_sum / static_cast<double>(r.queries);
  return r;
}

double knn_distance_score(double kth_similarity) {
  return -std::sqrt(std::max(0.0, 2 - 2 * kth_similarity));
}

}  // namespace oodflow::detect
