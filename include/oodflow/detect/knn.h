// k-nearest-neighbour search by inner product (on L2-normalised rows: the cosine), done by
// faiss (Johnson et al., "Billion-scale similarity search with GPUs", 2019) on the bank where
// it lies, usually a memory map of the model file, without copying it into an index:
//  - exact: faiss::knn_inner_product, the routine behind faiss's IndexFlatIP, over blocks of
//    bank rows (one pass over the bank whatever the number of queries); memory
//    O(queries x k) plus faiss's fixed-size GEMM tiles. Cost: 2 N Q D flops.
//  - IVF: faiss's IndexIVFFlat whose inverted lists are the bank's rows stored list by list
//    (fit writes them so), read in place: a query scans the nprobe lists whose centroids are
//    closest, about nprobe / nlist of the bank. Approximate: its recall is measured at fit.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace oodflow::detect {

struct KnnResult {
  std::vector<float> similarity;    ///< [queries, k], descending per query
  std::vector<std::int64_t> index;  ///< [queries, k], rows of the bank
};

/// The k most similar bank rows of every query, exactly (rows L2-normalised by the caller:
/// the similarity is then the cosine, and squared distance = 2 - 2 similarity). The bank is
/// read in blocks of `block_rows` rows, each searched for all queries, and the top-k merged.
/// Between tied rows the index may differ from a search over the whole bank; the k-th
/// similarity cannot. Throws oodflow::Error on k outside [1, bank_rows] or block_rows < 1.
KnnResult knn_search(const float* bank, std::int64_t bank_rows, const float* queries,
                     std::int64_t query_rows, std::int64_t dim, std::int64_t k,
                     std::int64_t block_rows);

/// Spherical k-means centroids [nlist, dim] of `rows` [n, dim] unit rows (faiss::Clustering,
/// 20 iterations, seeded), the coarse quantizer of an IVF index. Needs n >= nlist.
std::vector<float> train_ivf_centroids(const float* rows, std::int64_t n, std::int64_t dim,
                                       std::int64_t nlist, std::uint64_t seed);

/// The list (most similar centroid) of each of `n` rows [n, dim].
std::vector<std::int64_t> assign_ivf_lists(const float* centroids, std::int64_t nlist,
                                           const float* rows, std::int64_t n, std::int64_t dim);

/// The IVF storage order of rows assigned to lists (`list_of[i]` in [0, nlist)): `offsets`
/// [nlist + 1] (list l = positions [offsets[l], offsets[l + 1])) and `order`, the row stored
/// at each position (rows of one list keep their order).
struct IvfLayout {
  std::vector<std::int64_t> offsets;
  std::vector<std::int64_t> order;
};
IvfLayout ivf_layout(const std::vector<std::int64_t>& list_of, std::int64_t nlist);

/// Approximate search on an IVF layout: `bank` [N, dim] holds list 0's rows, then list 1's,
/// ...; list l is rows [list_offsets[l], list_offsets[l + 1]). Nothing is copied: the
/// centroids, bank and offsets must outlive the searcher. Indices returned are bank rows.
class IvfSearcher {
 public:
  IvfSearcher(const float* centroids, std::int64_t nlist, const float* bank,
              std::vector<std::int64_t> list_offsets, std::int64_t dim);
  ~IvfSearcher();
  IvfSearcher(const IvfSearcher&) = delete;
  IvfSearcher& operator=(const IvfSearcher&) = delete;

  /// The k most similar rows among the nprobe lists closest to each query. A query whose
  /// lists hold fewer than k rows gets similarity -inf (index -1) in the missing places.
  KnnResult search(const float* queries, std::int64_t query_rows, std::int64_t k,
                   std::int64_t nprobe) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// How an approximate search compares to the exact one on the same queries.
struct KnnRecall {
  std::int64_t queries = 0;
  double recall_at_k = 0;      ///< mean share of the exact k nearest rows found
  double kth_exact = 0;        ///< share of queries whose k-th similarity is the exact one
  double max_score_error = 0;  ///< largest |k-th distance difference| (score units)
  double mean_score_error = 0;
};

/// Compares `approx` to `exact` (both [queries, k] from searches of the same bank).
KnnRecall compare_knn(const KnnResult& approx, const KnnResult& exact, std::int64_t k);

/// The KNN score of a k-th similarity s of unit vectors: -||a - b|| = -sqrt(2 - 2 s) (0 when
/// rounding puts s a hair above 1).
double knn_distance_score(double kth_similarity);

}  // namespace oodflow::detect
