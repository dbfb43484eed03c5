// `oodflow train`: fit a normalizing flow to in-distribution training features and write the
// flow file. Defaults are the reference recipe (README: The paper's setting).
#pragma once

#include <cstdint>
#include <string>

#include "oodflow/core/threads.h"
#include "oodflow/flow/training.h"

namespace oodflow::pipeline {

struct TrainOptions {
  // Input ID training features (.safetensors or .npy [N, D]).
  std::string features;
  // Output flow file (.safetensors).
  std::string out;
  // Flow architecture: glow or realnvp.
  std::string arch = "glow";
  // Number of blocks K; 0 = the architecture's default (glow 10, realnvp 4).
  std::int64_t blocks = 0;
  // Hidden width of the coupling MLPs; 0 = the feature dimension (reference).
  std::int64_t hidden = 0;
  // Soft clamp c of the coupling log-scale (s -> c tanh(s/c)); 0 = off (reference).
  double scale_clamp = 0;
  // Passes over the data; one epoch is the method, not a shortcut.
  std::int64_t epochs = 1;
  // Adam learning rate.
  double lr = 1e-5;
  // Mini-batch size.
  std::int64_t batch_size = 250;
  // Feature preprocessing: l2, standardize or none.
  std::string normalize = "l2";
  // Share of the ID training samples held out (chosen by --seed) to calibrate the detection
  // thresholds; 0 = train on all, no thresholds.
  double val_fraction = 0.1;
  // Seed of initialisation, shuffling and the held-out split.
  std::uint64_t seed = 0;
  // Compute threads (LibTorch and OpenBLAS); 0 = automatic (see core/threads.h).
  int threads = kDefaultThreads;
  // cpu or cuda (or cuda:N).
  std::string device = "cpu";
  // Skip batches with a non-finite loss (counted in the summary) instead of stopping.
  bool skip_nonfinite = false;
};

/// Throws Error naming the option when a value is out of range.
void validate(const TrainOptions& options);

/// Trains and writes options.out; returns the training summary.
flow::TrainSummary run_train(const TrainOptions& options);

}  // namespace oodflow::pipeline
