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
  // The flow's architecture, preprocessing, recipe and device (the same options as
  // `fit --detector glow|realnvp`); the defaults are the paper's recipe.
  detect::FlowOptions flow;
  // Share of the ID training samples held out (chosen by --seed) to calibrate the detection
  // thresholds; 0 = train on all, no thresholds.
  double val_fraction = kValFraction;
  // Seed of initialisation, shuffling and the held-out split.
  std::uint64_t seed = 0;
  // Compute threads (LibTorch and OpenBLAS); 0 = automatic (see core/threads.h).
  int threads = kDefaultThreads;
};

/// Throws Error naming the option when a value is out of range.
void validate(const TrainOptions& options);

/// The same fit as `fit --detector <arch>` with these settings.
FitOptions fit_options(const TrainOptions& options);

/// Trains and writes options.out (run_fit); returns the training summary.
flow::TrainSummary run_train(const TrainOptions& options);

}  // namespace oodflow::pipeline
