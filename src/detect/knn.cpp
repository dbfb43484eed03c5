#include "oodflow/detect/knn.h"

#include <torch/torch.h>

#include <algorithm>

#include "oodflow/core/error.h"

namespace oodflow::detect {

KnnResult knn_search(const float* bank, std::int64_t bank_rows, const float* queries,
                     std::int64_t query_rows, std::int64_t dim, std::int64_t k,
                     std::int64_t block_size) {
  OODFLOW_CHECK(k >= 1 && k <= bank_rows && block_size >= 1,
                "internal: k = " << k << " of " << bank_rows << " rows, block " << block_size);
  torch::NoGradGuard no_grad;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const torch::Tensor q = torch::from_blob(const_cast<float*>(queries), {query_rows, dim}, opts);
  torch::Tensor best_sim = torch::full({query_rows, 0}, 0.0f, opts);
  torch::Tensor best_idx = torch::zeros({query_rows, 0}, torch::kInt64);
  for (std::int64_t begin = 0; begin < bank_rows; begin += block_size) {
    const std::int64_t rows = std::min(block_size, bank_rows - begin);
    const torch::Tensor b =
        torch::from_blob(const_cast<float*>(bank + begin * dim), {rows, dim}, opts);
    const torch::Tensor sim = torch::cat({best_sim, torch::mm(q, b.t())}, 1);
    const torch::Tensor idx = torch::cat(
        {best_idx, torch::arange(begin, begin + rows, torch::kInt64).expand({query_rows, rows})},
        1);
    // The running top-k: the k best of the previous best and this block. Between tied rows
    // the choice may differ from a search over the whole bank, the k-th similarity cannot.
    const auto [values, positions] =
        torch::topk(sim, std::min(k, sim.size(1)), 1, /*largest=*/true, /*sorted=*/true);
    best_sim = values;
    best_idx = idx.gather(1, positions);
  }
  KnnResult out;
  best_sim = best_sim.contiguous();
  best_idx = best_idx.contiguous();
  out.similarity.assign(best_sim.data_ptr<float>(), best_sim.data_ptr<float>() + best_sim.numel());
  out.index.assign(best_idx.data_ptr<std::int64_t>(),
                   best_idx.data_ptr<std::int64_t>() + best_idx.numel());
  return out;
}

}  // namespace oodflow::detect
