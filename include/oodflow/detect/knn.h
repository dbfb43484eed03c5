// Exact k-nearest-neighbour search by cosine similarity, in blocks: the training bank is
// multiplied block by block with the queries and a running top-k is kept, so memory is
// O(queries x (k + block)) whatever the bank size. Cost: 2 N Q D flops for N bank rows, Q
// queries of dimension D (one GEMM), plus a top-k per block.
#pragma once

#include <cstdint>
#include <vector>

namespace oodflow::detect {

struct KnnResult {
  std::vector<float> similarity;    ///< [queries, k], descending per query
  std::vector<std::int64_t> index;  ///< [queries, k], rows of the bank
};

/// The k most similar bank rows of every query (rows L2-normalised by the caller: the
/// similarity is then the cosine, and squared distance = 2 - 2 similarity).
KnnResult knn_search(const float* bank, std::int64_t bank_rows, const float* queries,
                     std::int64_t query_rows, std::int64_t dim, std::int64_t k,
                     std::int64_t block_size);

}  // namespace oodflow::detect
