#include "oodflow/flow/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/allocator.h"
#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"
#include "oodflow/core/sampling.h"

namespace oodflow::flow {
namespace {

torch::Tensor load_batch(const io::FeatureFile& data, const Normalizer& normalizer,
                         const std::int64_t* index, std::int64_t n, const torch::Device& device) {
  torch::Tensor batch = torch::empty({n, data.dim()}, torch::kFloat32);
  float* rows = batch.data_ptr<float>();
  data.gather_rows(index, n, rows);
  normalizer.apply(rows, n, data.dim(), data.path(), 0, index);
  return batch.to(device);
}

// Dropping the gradients (instead of zeroing them, as LibTorch 1.13's zero_grad does) saves
// one pass over every parameter per step; backward then writes fresh gradients.
void clear_gradients(torch::nn::Module& module) {
  for (auto& p : module.parameters()) p.mutable_grad().reset();
}

bool gradients_finite(const torch::nn::Module& module) {
  for (const auto& p : module.parameters()) {
    if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) return false;
  }
  return true;
}

std::string status_line(double loss, double samples_per_second) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "nll %.4g  %.0f samples/s", loss, samples_per_second);
  return buf;
}

}  // namespace

std::string to_json_text(const TrainSummary& s) {
  return nlohmann::json{{"epochs", s.epochs},
                        {"steps", s.steps},
                        {"samples", s.samples},
                        {"skipped_nonfinite_batches", s.skipped_batches},
                        {"initial_nll", s.initial_nll},
                        {"mean_nll", s.mean_nll},
                        {"last_nll", s.last_nll},
                        {"seconds", s.seconds},
                        {"samples_per_second", s.samples_per_second}}
      .dump();
}

TrainSummary summary_from_json_text(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  TrainSummary s;
  s.epochs = j.at("epochs").get<std::int64_t>();
  s.steps = j.at("steps").get<std::int64_t>();
  s.samples = j.at("samples").get<std::int64_t>();
  s.skipped_batches = j.at("skipped_nonfinite_batches").get<std::int64_t>();
  s.initial_nll = j.at("initial_nll").get<double>();
  s.mean_nll = j.at("mean_nll").get<double>();
  s.last_nll = j.at("last_nll").get<double>();
  s.seconds = j.at("seconds").get<double>();
  s.samples_per_second = j.at("samples_per_second").get<double>();
  return s;
}

TrainSummary train_flow(Flow& flow, const io::FeatureFile& data, const Normalizer& normalizer,
                        const TrainSettings& settings, const std::vector<std::int64_t>* rows) {
  OODFLOW_CHECK(data.dim() == flow.config().dim,
                "'" << data.path() << "' has features of dimension " << data.dim()
                    << " but the flow expects " << flow.config().dim);
  const torch::Device device(settings.device);
  keep_large_allocations_in_heap();
  const std::int64_t n = rows != nullptr ? static_cast<std::int64_t>(rows->size()) : data.rows();
  OODFLOW_CHECK(n > 0, "'" << data.path() << "': no rows to train on");
  const std::int64_t batch = std::min(settings.batch_size, n);
  const std::int64_t steps_per_epoch = (n + batch - 1) / batch;
  const std::int64_t total_steps = steps_per_epoch * settings.epochs;

  torch::optim::Adam optimizer(flow.parameters(), torch::optim::AdamOptions(settings.lr));
  flow.train();
  TrainSummary summary;
  Progress progress("train", total_steps, "steps");
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  std::int64_t step = 0;
  for (std::int64_t epoch = 0; epoch < settings.epochs; ++epoch) {
    std::vector<std::int64_t> order = shuffled_order(n, settings.seed, epoch);
    if (rows != nullptr) {
      for (auto& i : order) i = (*rows)[static_cast<std::size_t>(i)];
    }
    double epoch_nll_sum = 0;
    std::int64_t epoch_batches = 0;
    for (std::int64_t begin = 0; begin < n; begin += batch, ++step) {
      const std::int64_t count = std::min(batch, n - begin);
      const torch::Tensor x = load_batch(data, normalizer, order.data() + begin, count, device);
      if (step == 0) flow.data_init(x);

      clear_gradients(flow);
      const torch::Tensor loss = -flow.log_prob(x).mean();
      const double loss_value = loss.item<double>();
      summary.samples += count;
      if (step == 0) summary.initial_nll = loss_value;
      bool finite = std::isfinite(loss_value);
      if (finite) {
        loss.backward();
        // Only when skipping is allowed: a finite loss with overflowing gradients would
        // otherwise poison the parameters and every later batch.
        if (settings.skip_nonfinite) finite = gradients_finite(flow);
      }
      if (!finite) {
        OODFLOW_CHECK(settings.skip_nonfinite,
                      "training on '" << data.path() << "' diverged at step " << step + 1 << " of "
                                      << total_steps << " (epoch " << epoch + 1 << "): the loss is "
                                      << loss_value << "; lower --lr (now " << settings.lr
                                      << ") or pass --skip-nonfinite to skip such batches");
        ++summary.skipped_batches;
        continue;
      }
      optimizer.step();
      ++summary.steps;
      summary.last_nll = loss_value;
      epoch_nll_sum += loss_value;
      ++epoch_batches;
      progress.update(step + 1,
                      status_line(loss_value, summary.samples / std::max(elapsed(), 1e-9)));
    }
    summary.mean_nll = epoch_batches > 0 ? epoch_nll_sum / epoch_batches : NAN;
    summary.epochs = epoch + 1;
  }
  summary.seconds = elapsed();
  summary.samples_per_second = summary.samples / std::max(summary.seconds, 1e-9);
  OODFLOW_CHECK(summary.steps > 0, "training on '" << data.path() << "' made no step: all "
                                                   << summary.skipped_batches
                                                   << " batches had a non-finite loss");
  for (const auto& p : flow.parameters()) {
    OODFLOW_CHECK(torch::isfinite(p).all().item<bool>(),
                  "training on '" << data.path() << "' produced non-finite parameters");
  }
  progress.finish(status_line(summary.last_nll, summary.samples_per_second));
  return summary;
}

}  // namespace oodflow::flow
