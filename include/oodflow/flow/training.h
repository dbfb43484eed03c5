// Settings and summary of flow training (torch-free: the CLI and reports use them).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace oodflow::flow {

struct TrainSettings {
  std::int64_t epochs = 1;  ///< the reference recipe: one epoch
  double lr = 1e-5;         ///< Adam learning rate
  std::int64_t batch_size = 250;
  std::uint64_t seed = 0;       ///< initialisation and shuffling
  bool skip_nonfinite = false;  ///< skip a batch with a non-finite loss instead of failing
  std::string device = "cpu";

  // Beyond the paper's recipe (docs/method.md: recipes); the defaults keep the paper's.
  /// Optimiser steps; 0 = `epochs` passes over the data. With steps the data set's size no
  /// longer sets the training budget (one epoch is 216 steps on 54,000 samples, 5,100 on
  /// ImageNet).
  std::int64_t steps = 0;
  /// Steps of linear learning-rate warm-up from lr / warmup to lr.
  std::int64_t warmup = 0;
  /// "constant" or "cosine" (from lr after the warm-up down to 0 at the last step).
  std::string schedule = "constant";
  /// "data": ActNorm's data-dependent initialisation on the first batch (the paper);
  /// "gaussian": the flow starts as the closed-form Gaussian fit (flow/gaussian_init.h).
  std::string init = "data";
  /// Std of Gaussian noise added to each normalised training batch (not to held-out or
  /// scored rows): a density fitted to L2-normalised features lives on a sphere, and noise
  /// keeps it from collapsing onto it. 0 = off.
  double noise = 0;
  /// Share of the training rows held out (chosen by the seed) to measure the NLL; 0 = none.
  double eval_fraction = 0;
  /// Steps between held-out NLL measurements (and one after the initialisation).
  std::int64_t eval_every = 100;
  /// Stop after this many measurements without a lower held-out NLL and keep the best
  /// parameters; 0 = off. Needs eval_fraction > 0.
  std::int64_t early_stopping = 0;
  /// Steps after which the caller gets the flow (FitContext: snapshot files); 0 = after the
  /// initialisation, before the first step.
  std::vector<std::int64_t> snapshot_steps;
};

/// Schedule names ("constant", "cosine") and init names ("data", "gaussian").
const std::vector<std::string>& schedule_names();
const std::vector<std::string>& init_names();
/// Learning rate at step `step` (0-based) of `total` under settings' lr, warmup, schedule.
double learning_rate(const TrainSettings& settings, std::int64_t step, std::int64_t total);

struct TrainSummary {
  std::int64_t epochs = 0;           ///< epochs started (the last is partial when `steps` ends it)
  std::int64_t steps = 0;            ///< optimiser steps taken
  std::int64_t samples = 0;          ///< samples seen (including skipped batches)
  std::int64_t skipped_batches = 0;  ///< batches with a non-finite loss (with skip_nonfinite)
  double initial_nll = 0;            ///< NLL of the first batch after ActNorm initialisation
  double mean_nll = 0;               ///< mean batch NLL over the last epoch (nats per sample)
  double last_nll = 0;               ///< NLL of the last batch
  double seconds = 0;                ///< wall time from the initialisation to the last step
  double samples_per_second = 0;
  /// Wall time of the first step alone (its working memory is fresh: page faults), seconds.
  double first_step_seconds = 0;
  /// Held-out NLL (nats per sample, -mean log p(x)) after (step, value) steps; empty when
  /// eval_fraction is 0.
  std::vector<std::pair<std::int64_t, double>> heldout_nll;
  std::int64_t eval_rows = 0;   ///< rows held out for it
  std::int64_t best_step = -1;  ///< steps of the kept parameters (early stopping)
  bool stopped_early = false;
};

/// JSON text of a summary, for the flow file's metadata.
std::string to_json_text(const TrainSummary& summary);
/// Inverse of to_json_text; throws on a malformed text.
TrainSummary summary_from_json_text(const std::string& text);

}  // namespace oodflow::flow
