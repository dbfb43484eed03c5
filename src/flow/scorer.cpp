#include "oodflow/flow/scorer.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "oodflow/core/allocator.h"
#include "oodflow/core/error.h"

namespace oodflow::flow {

std::vector<double> score_rows(Flow& flow, const Normalizer& normalizer, float* features,
                               std::int64_t n, const std::string& device, const std::string& source,
                               std::int64_t first, const std::int64_t* index) {
  (void)keep_large_allocations_in_heap();
  torch::NoGradGuard no_grad;
  flow.eval();
  const std::int64_t dim = flow.config().dim;
  normalizer.apply(features, n, dim, source, first, index);
  const torch::Tensor x = torch::from_blob(features, {n, dim}, torch::kFloat32);
  const torch::Tensor log_p =
      flow.log_prob(x.to(torch::Device(device))).to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<double> scores(log_p.data_ptr<double>(), log_p.data_ptr<double>() + n);
  // The input is finite (the normalizer checked it); a NaN can only come from overflow far
  // outside the training data (inf - inf), so that sample ranks as the most OOD.
  for (double& s : scores) {
    if (std::isnan(s)) s = -std::numeric_limits<double>::infinity();
  }
  return scores;
}

}  // namespace oodflow::flow
