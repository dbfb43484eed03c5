// `oodflow train`: fit a normalizing flow to in-distribution training features and write the
// flow file. The flow's own spelling of `oodflow fit --detector glow|realnvp` (same file,
// same scores). Defaults are the reference recipe (docs/method.md: the paper's recipe).
#pragma once

#include <cstdint>
#include <string>

#include "oodflow/core/defaults.h"
#include "oodflow/core/threads.h"
#include "oodflow/flow/training.h"
#include "oodflow/pipeline/fit_command.h"

namespace oodflow::pipeline {

struct TrainOptions {
  // Input ID training features (.safetensors or .npy [N, D]).
  std::string features;
  // Output flow file (.safetensors).
  std::string out;
  // Flow architecture: glow or realnvp.
  std::string arch = "glow";
  // Number of blocks K; 0 = the architecture's default (glow 10, realnvp 4).
  std::int64_t blocks = detect::FlowOptions{}.blocks;
  // Hidden width of the coupling MLPs; 0 = the feature dimension (reference).
  std::int64_t hidden = detect::FlowOptions{}.hidden;
  // Soft clamp c of the coupling log-scale (s -> c tanh(s/c)); 0 = off (reference).
  double scale_clamp = detect::FlowOptions{}.scale_clamp;
  // Passes over the data; one epoch is the method, not a shortcut.
  std::int64_t epochs = flow::TrainSettings{}.epochs;
  // Adam learning rate.
  double lr = flow::TrainSettings{}.lr;
  // Mini-batch size.
  std::int64_t batch_size = flow::TrainSettings{}.batch_size;
  // Feature preprocessing: l2, standardize or none.
  std::string normalize = detect::FlowOptions{}.normalize;
  // Share of the ID training samples held out (chosen by --seed) to calibrate the detection
  // thresholds; 0 = train on all, no thresholds.
  double val_fraction = kValFraction;
  // Seed of initialisation, shuffling and the held-out split.
  std::uint64_t seed = 0;
  // Compute threads (LibTorch and OpenBLAS); 0 = automatic (see core/threads.h).
  int threads = kDefaultThreads;
  // cpu or cuda (or cuda:N).
  std::string device = flow::TrainSettings{}.device;
  // Skip batches with a non-finite loss (counted in the summary) instead of stopping.
  bool skip_nonfinite = false;
};

/// Throws Error naming the option when a value is out of range.
void validate(const TrainOptions& options);

/// The same fit as `fit --detector <arch>` with these settings.
FitOptions fit_options(const TrainOptions& options);

/// Trains and writes options.out (run_fit); returns the training summary.
flow::TrainSummary run_train(const TrainOptions& options);

}  // namespace oodflow::pipeline
