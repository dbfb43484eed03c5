#include "oodflow/flow/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <spdlog/spdlog.h>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <numeric>

#include "oodflow/core/allocator.h"
#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"
#include "oodflow/core/sampling.h"
#include "oodflow/core/threads.h"
#include "oodflow/flow/adam.h"
#include "oodflow/flow/gaussian_init.h"

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
  nlohmann::json j = {{"epochs", s.epochs},
                      {"steps", s.steps},
                      {"samples", s.samples},
                      {"skipped_nonfinite_batches", s.skipped_batches},
                      {"initial_nll", s.initial_nll},
                      {"mean_nll", s.mean_nll},
                      {"last_nll", s.last_nll},
                      {"seconds", s.seconds},
                      {"samples_per_second", s.samples_per_second},
                      {"first_step_seconds", s.first_step_seconds}};
  if (!s.heldout_nll.empty()) {
    j["heldout_nll"] = s.heldout_nll;
    j["eval_rows"] = s.eval_rows;
  }
  if (s.best_step >= 0) {
    j["best_step"] = s.best_step;
    j["stopped_early"] = s.stopped_early;
  }
  return j.dump();
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
  if (j.contains("heldout_nll")) {
    s.heldout_nll = j.at("heldout_nll").get<std::vector<std::pair<std::int64_t, double>>>();
    s.eval_rows = j.at("eval_rows").get<std::int64_t>();
  }
  s.first_step_seconds = j.value("first_step_seconds", 0.0);  // absent before issue 18
  s.best_step = j.value("best_step", std::int64_t{-1});
  s.stopped_early = j.value("stopped_early", false);
  return s;
}

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"constant", "cosine"};
  return names;
}

const std::vector<std::string>& init_names() {
  static const std::vector<std::string> names = {"data", "gaussian"};
  return names;
}

double learning_rate(const TrainSettings& s, std::int64_t step, std::int64_t total) {
  if (s.warmup > 0 && step < s.warmup) {
    return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup);
  }
  if (s.schedule != "cosine") return s.lr;
  const double span = static_cast<double>(std::max<std::int64_t>(total - s.warmup, 1));
  const double progress = static_cast<double>(step - s.warmup) / span;
  return 0.5 * s.lr * (1 + std::cos(M_PI * std::min(progress, 1.0)));
}

ClassIndex index_classes(const io::FeatureFile& data, const std::vector<std::int64_t>& rows,
                         const std::string& why) {
  OODFLOW_CHECK(data.has_labels(), "'" << data.path() << "' has no labels, which " << why
                                       << " needs (extract with --labels, or store a 'labels' "
                                          "tensor)");
  ClassIndex index;
  std::vector<std::int64_t> labels;
  labels.reserve(rows.size());
  for (const std::int64_t r : rows) labels.push_back(data.label(r));
  index.values = labels;
  std::sort(index.values.begin(), index.values.end());
  index.values.erase(std::unique(index.values.begin(), index.values.end()), index.values.end());
  index.of_row.reserve(rows.size());
  for (const std::int64_t label : labels) {
    index.of_row.push_back(std::lower_bound(index.values.begin(), index.values.end(), label) -
                           index.values.begin());
  }
  return index;
}

TrainSummary train_flow(Flow& flow, const io::FeatureFile& data, const Normalizer& normalizer,
                        const TrainSettings& settings, const std::vector<std::int64_t>* rows,
                        const std::vector<std::int64_t>* class_of_row,
                        const SnapshotFn& on_snapshot) {
  OODFLOW_CHECK(data.dim() == flow.config().dim,
                "'" << data.path() << "' has features of dimension " << data.dim()
                    << " but the flow expects " << flow.config().dim);
  const torch::Device device(settings.device);
  (void)keep_large_allocations_in_heap();
  std::vector<std::int64_t> all_rows;
  if (rows == nullptr) {
    all_rows.resize(static_cast<std::size_t>(data.rows()));
    std::iota(all_rows.begin(), all_rows.end(), 0);
    rows = &all_rows;
  }
  const bool class_base = flow.config().base == "class";
  OODFLOW_CHECK(!class_base || (class_of_row != nullptr && class_of_row->size() == rows->size()),
                "internal: a class base needs the class of every training row");

  // The held-out rows of the NLL (and their classes are not needed: it is the marginal).
  std::vector<std::int64_t> train_rows = *rows;
  std::vector<std::int64_t> train_classes =
      class_base ? *class_of_row : std::vector<std::int64_t>{};
  std::vector<std::int64_t> eval_rows;
  if (settings.eval_fraction > 0) {
    const auto total_rows = static_cast<std::int64_t>(rows->size());
    const auto held = std::clamp<std::int64_t>(
        std::llround(settings.eval_fraction * static_cast<double>(total_rows)), 1, total_rows - 1);
    // Epoch -1: a stream of its own, so that the held-out rows do not depend on the epochs.
    std::vector<std::int64_t> positions = shuffled_order(total_rows, settings.seed, -1);
    std::vector<char> is_held(static_cast<std::size_t>(total_rows), 0);
    for (std::int64_t i = 0; i < held; ++i) is_held[static_cast<std::size_t>(positions[i])] = 1;
    train_rows.clear();
    train_classes.clear();
    for (std::int64_t p = 0; p < total_rows; ++p) {
      const auto u = static_cast<std::size_t>(p);
      if (is_held[u]) {
        eval_rows.push_back((*rows)[u]);
      } else {
        train_rows.push_back((*rows)[u]);
        if (class_base) train_classes.push_back((*class_of_row)[u]);
      }
    }
  }

  const auto n = static_cast<std::int64_t>(train_rows.size());
  OODFLOW_CHECK(n > 0, "'" << data.path() << "': no rows to train on");
  const std::int64_t batch = std::min(settings.batch_size, n);
  const std::int64_t steps_per_epoch = (n + batch - 1) / batch;
  const std::int64_t total_steps =
      settings.steps > 0 ? settings.steps : steps_per_epoch * settings.epochs;
  const bool scheduled = settings.warmup > 0 || settings.schedule != "constant";
  if (settings.warmup > 0 && settings.warmup >= total_steps) {
    spdlog::warn(
        "training on '{}': the warm-up ({} steps) is not shorter than the training ({} steps): "
        "the learning rate rises throughout and ends at {:g} (--lr {:g})",
        data.path(), settings.warmup, total_steps,
        learning_rate(settings, total_steps - 1, total_steps), settings.lr);
  }

  // LibTorch's Adam, bit for bit, in one pass per parameter on the BLAS's threads (the
  // elementwise update does not depend on them): at d = 2048 LibTorch's eight passes took
  // about half of a step's time beside the matrix products.
  Adam optimizer(flow.parameters(), settings.lr, std::max(1, blas_threads()));
  flow.train();
  TrainSummary summary;
  summary.eval_rows = static_cast<std::int64_t>(eval_rows.size());
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  // Initialisation, before the first step.
  const std::vector<std::int64_t> first_order = shuffled_order(n, settings.seed, 0);
  std::vector<std::int64_t> first_batch(first_order.begin(), first_order.begin() + batch);
  for (auto& i : first_batch) i = train_rows[static_cast<std::size_t>(i)];
  if (settings.init == "gaussian" || class_base) {
    const GaussianFit fit =
        fit_gaussian(data, normalizer, train_rows, class_base ? &train_classes : nullptr,
                     flow.config().classes, kCovarianceShrinkage, settings.init == "gaussian");
    if (settings.init == "gaussian") {
      initialize_as_gaussian(flow, fit);
    } else {
      flow.data_init(load_batch(data, normalizer, first_batch.data(), batch, device));
      flow.init_class_base(fit.class_means, fit.class_priors);
    }
  } else {
    flow.data_init(load_batch(data, normalizer, first_batch.data(), batch, device));
  }

  // Held-out NLL, early stopping and snapshots: after the initialisation and after steps.
  std::vector<torch::Tensor> best_parameters;
  double best_nll = std::numeric_limits<double>::infinity();
  std::int64_t evaluations_without_gain = 0;
  auto heldout_nll = [&] {
    torch::NoGradGuard no_grad;
    double sum = 0;
    const auto m = static_cast<std::int64_t>(eval_rows.size());
    for (std::int64_t begin = 0; begin < m; begin += kStreamChunkRows) {
      const std::int64_t count = std::min(kStreamChunkRows, m - begin);
      const torch::Tensor x = load_batch(data, normalizer, eval_rows.data() + begin, count, device);
      sum -= flow.log_density(x).to(torch::kFloat64).sum().item<double>();
    }
    return sum / static_cast<double>(m);
  };
  auto checkpoint = [&](std::int64_t done) {
    if (on_snapshot && std::find(settings.snapshot_steps.begin(), settings.snapshot_steps.end(),
                                 done) != settings.snapshot_steps.end()) {
      on_snapshot(done);
    }
    if (eval_rows.empty() || (done % settings.eval_every != 0 && done != total_steps)) return;
    const double nll = heldout_nll();
    summary.heldout_nll.emplace_back(done, nll);
    if (settings.early_stopping <= 0) return;
    if (nll < best_nll) {
      best_nll = nll;
      summary.best_step = done;
      evaluations_without_gain = 0;
      best_parameters.clear();
      for (const auto& p : flow.parameters()) best_parameters.push_back(p.detach().clone());
    } else if (++evaluations_without_gain >= settings.early_stopping) {
      summary.stopped_early = true;
    }
  };
  checkpoint(0);

  // The noise has a generator of its own, seeded like the shuffling: the same seed gives the
  // same flow whatever else drew from torch's global generator (and on any device).
  at::Generator noise_generator = at::detail::createCPUGenerator(settings.seed ^ 0x6e6f697365ULL);
  Progress progress("train", total_steps, "steps");
  std::int64_t step = 0;
  for (std::int64_t epoch = 0; step < total_steps && !summary.stopped_early; ++epoch) {
    const std::vector<std::int64_t> order =
        epoch == 0 ? first_order : shuffled_order(n, settings.seed, epoch);
    std::vector<std::int64_t> order_rows(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      order_rows[i] = train_rows[static_cast<std::size_t>(order[i])];
    }
    double epoch_nll_sum = 0;
    std::int64_t epoch_batches = 0;
    for (std::int64_t begin = 0; begin < n && step < total_steps && !summary.stopped_early;
         begin += batch, ++step) {
      const std::int64_t count = std::min(batch, n - begin);
      const double step_start = elapsed();
      torch::Tensor x = load_batch(data, normalizer, order_rows.data() + begin, count, device);
      if (settings.noise > 0) {
        x = x + settings.noise * torch::randn({count, data.dim()}, noise_generator,
                                              torch::TensorOptions(torch::kFloat32))
                                     .to(device);
      }
      torch::Tensor labels;
      if (class_base) {
        std::vector<std::int64_t> batch_classes(static_cast<std::size_t>(count));
        for (std::int64_t i = 0; i < count; ++i) {
          batch_classes[static_cast<std::size_t>(i)] =
              train_classes[static_cast<std::size_t>(order[static_cast<std::size_t>(begin + i)])];
        }
        labels = torch::tensor(batch_classes, torch::kLong).to(device);
      }

      clear_gradients(flow);
      const torch::Tensor loss = -flow.training_log_likelihood(x, labels).mean();
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
      if (scheduled) {
        const double lr = learning_rate(settings, step, total_steps);
        optimizer.set_lr(lr);
      }
      optimizer.step();
      if (summary.steps == 0) summary.first_step_seconds = elapsed() - step_start;
      ++summary.steps;
      summary.last_nll = loss_value;
      epoch_nll_sum += loss_value;
      ++epoch_batches;
      progress.update(step + 1,
                      status_line(loss_value, summary.samples / std::max(elapsed(), 1e-9)));
      checkpoint(step + 1);
    }
    summary.mean_nll = epoch_batches > 0 ? epoch_nll_sum / epoch_batches : NAN;
    summary.epochs = epoch + 1;
  }
  if (!best_parameters.empty()) {
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& p : flow.parameters()) p.copy_(best_parameters[i++]);
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
