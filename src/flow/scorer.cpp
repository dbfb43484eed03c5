#include "oodflow/flow/scorer.h"

#include <torch/torch.h>

#include "oodflow/core/allocator.h"
#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"

namespace oodflow::flow {

std::vector<double> score_features(Flow& flow, const Normalizer& normalizer,
                                   const io::FeatureFile& data, std::int64_t batch_size,
                                   const std::string& device) {
  OODFLOW_CHECK(data.dim() == flow.config().dim,
                "'" << data.path() << "' has features of dimension " << data.dim()
                    << " but the flow was trained on dimension " << flow.config().dim);
  torch::NoGradGuard no_grad;
  keep_large_allocations_in_heap();
  flow.eval();
  const torch::Device target(device);
  const std::int64_t n = data.rows();
  std::vector<double> scores(static_cast<std::size_t>(n));
  torch::Tensor batch = torch::empty({std::min(batch_size, n), data.dim()}, torch::kFloat32);
  Progress progress("score " + data.path(), n, "samples");
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    const std::int64_t count = std::min(batch_size, n - begin);
    torch::Tensor x = batch.narrow(0, 0, count);
    data.read_rows(begin, count, x.data_ptr<float>());
    normalizer.apply(x.data_ptr<float>(), count, data.dim(), data.path(), begin);
    const torch::Tensor log_p = flow.log_prob(x.to(target)).to(torch::kCPU, torch::kFloat64);
    const double* values = log_p.data_ptr<double>();
    std::copy(values, values + count, scores.begin() + begin);
    progress.update(begin + count, "");
  }
  progress.finish("");
  return scores;
}

}  // namespace oodflow::flow
