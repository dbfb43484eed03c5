#include "oodflow/flow/scorer.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "oodflow/core/allocator.h"
#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"

namespace oodflow::flow {

std::vector<double> score_rows(Flow& flow, const Normalizer& normalizer, float* features,
                               std::int64_t n, const std::string& device, const std::string& source,
                               std::int64_t first, const std::int64_t* index) {
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

std::vector<double> score_features(Flow& flow, const Normalizer& normalizer,
                                   const io::FeatureFile& data, std::int64_t batch_size,
                                   const std::string& device,
                                   const std::vector<std::int64_t>* rows) {
  OODFLOW_CHECK(data.dim() == flow.config().dim,
                "'" << data.path() << "' has features of dimension " << data.dim()
                    << " but the flow was trained on dimension " << flow.config().dim);
  keep_large_allocations_in_heap();
  const std::int64_t n = rows != nullptr ? static_cast<std::int64_t>(rows->size()) : data.rows();
  std::vector<double> scores;
  scores.reserve(static_cast<std::size_t>(n));
  std::vector<float> batch(static_cast<std::size_t>(std::min(batch_size, n) * data.dim()));
  Progress progress("score " + data.path(), n, "samples");
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    const std::int64_t count = std::min(batch_size, n - begin);
    if (rows != nullptr) {
      data.gather_rows(rows->data() + begin, count, batch.data());
    } else {
      data.read_rows(begin, count, batch.data());
    }
    const std::vector<double> log_p =
        score_rows(flow, normalizer, batch.data(), count, device, data.path(), begin,
                   rows != nullptr ? rows->data() + begin : nullptr);
    scores.insert(scores.end(), log_p.begin(), log_p.end());
    progress.update(begin + count, "");
  }
  progress.finish("");
  return scores;
}

}  // namespace oodflow::flow
