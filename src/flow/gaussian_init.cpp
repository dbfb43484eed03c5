#include "oodflow/flow/gaussian_init.h"

#include <torch/torch.h>

#include <algorithm>

#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"

namespace oodflow::flow {

GaussianFit fit_gaussian(const io::FeatureFile& data, const Normalizer& normalizer,
                         const std::vector<std::int64_t>& rows,
                         const std::vector<std::int64_t>* class_of_row, std::int64_t classes,
                         double shrinkage, bool with_covariance) {
  torch::NoGradGuard no_grad;
  const std::int64_t d = data.dim();
  const auto n = static_cast<std::int64_t>(rows.size());
  OODFLOW_CHECK(n > 0, "'" << data.path() << "': no rows to fit a Gaussian to");
  const std::int64_t groups = class_of_row != nullptr ? classes : 1;
  torch::Tensor sums = torch::zeros({groups, d}, torch::kFloat64);
  torch::Tensor counts = torch::zeros({groups}, torch::kFloat64);
  torch::Tensor second = torch::zeros({d, d}, torch::kFloat64);
  torch::Tensor chunk = torch::empty({kStreamChunkRows, d}, torch::kFloat32);
  for (std::int64_t begin = 0; begin < n; begin += kStreamChunkRows) {
    const std::int64_t count = std::min(kStreamChunkRows, n - begin);
    float* out = chunk.data_ptr<float>();
    data.gather_rows(rows.data() + begin, count, out);
    normalizer.apply(out, count, d, data.path(), 0, rows.data() + begin);
    const torch::Tensor x = chunk.narrow(0, 0, count).to(torch::kFloat64);
    torch::Tensor group = torch::zeros({count}, torch::kLong);
    if (class_of_row != nullptr) {
      group = torch::tensor(std::vector<std::int64_t>(class_of_row->begin() + begin,
                                                      class_of_row->begin() + begin + count),
                            torch::kLong);
    }
    sums.index_add_(0, group, x);
    counts.index_add_(0, group, torch::ones({count}, torch::kFloat64));
    if (with_covariance) second.addmm_(x.t(), x);
  }
  OODFLOW_CHECK((counts > 0).all().item<bool>(),
                "'" << data.path() << "': a class has no training rows");
  GaussianFit fit;
  const double total = static_cast<double>(n);
  fit.mean = sums.sum(0) / total;
  const torch::Tensor group_means = sums / counts.unsqueeze(1);
  if (class_of_row != nullptr) {
    fit.class_means = group_means;
    fit.class_priors = counts / total;
  }
  if (with_covariance) {
    // sum_i (x_i - m_g(i))(x_i - m_g(i))^T = sum_i x_i x_i^T - sum_g n_g m_g m_g^T.
    torch::Tensor cov = (second - group_means.t().mm(group_means * counts.unsqueeze(1))) / total;
    cov = 0.5 * (cov + cov.t());
    const double mean_eigenvalue = cov.trace().item<double>() / static_cast<double>(d);
    fit.covariance =
        (1 - shrinkage) * cov + shrinkage * mean_eigenvalue * torch::eye(d, torch::kFloat64);
  }
  return fit;
}

void initialize_as_gaussian(Flow& flow, const GaussianFit& fit) {
  torch::NoGradGuard no_grad;
  const FlowConfig& config = flow.config();
  OODFLOW_CHECK(config.arch == "glow",
                "--init gaussian needs glow's invertible linear layer to whiten with; "
                    << config.arch << " has none");
  const auto [chol, info] = torch::linalg_cholesky_ex(fit.covariance);
  OODFLOW_CHECK(info.item<int>() == 0,
                "--init gaussian: the covariance of the training features is not positive "
                "definite (dimension "
                    << config.dim << ")");
  const torch::Tensor whitening = torch::linalg_solve_triangular(
      chol, torch::eye(config.dim, torch::kFloat64), /*upper=*/false);
  bool first_actnorm = true;
  bool first_linear = true;
  for (const auto& layer : flow.layers()) {
    if (auto* norm = dynamic_cast<ActNorm*>(layer.get())) {
      norm->shift.copy_(first_actnorm ? fit.mean.to(norm->shift.options())
                                      : torch::zeros_like(norm->shift));
      norm->log_scale.zero_();
      first_actnorm = false;
    } else if (auto* linear = dynamic_cast<InvertibleLinear*>(layer.get())) {
      if (first_linear)
        linear->set_weight(linear->weight().to(torch::kCPU, torch::kFloat64).mm(whitening));
      first_linear = false;
    }
  }
  if (config.base == "class") {
    OODFLOW_CHECK(fit.class_means.defined(), "internal: a class base needs class means");
    flow.init_class_base(fit.class_means, fit.class_priors);
  }
}

}  // namespace oodflow::flow
