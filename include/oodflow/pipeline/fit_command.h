// `oodflow fit`: fit a baseline detector (detect/detector.h) to in-distribution training
// features and write its detector file, which `oodflow score --detector` reads.
#pragma once

#include <cstdint>
#include <string>

#include "oodflow/detect/detector.h"

namespace oodflow::pipeline {

struct FitOptions {
  // Detector name (detect::detector_names()).
  std::string detector;
  // ID training features (with logits or labels when the detector needs them).
  std::string features;
  // Output detector file (.safetensors).
  std::string out;
  // The backbone whose classifier head ReAct and ViM use; empty = the backbone recorded in
  // the feature file's metadata (when that file still exists with the recorded SHA-256).
  std::string head;
  // The head's layer name in that backbone ("fc", "head.fc"); empty = the layer that maps
  // the stored features to the stored logits (see pipeline/classifier_head.h).
  std::string head_param;
  // Share of the ID training samples held out (chosen by `seed`) to calibrate the detection
  // thresholds; 0 = fit on all, no thresholds.
  double val_fraction = 0.1;
  std::uint64_t seed = 0;
  // Hyper-parameters (k, block size, temperature, shrinkage, percentile, subspace).
  detect::DetectorOptions options;
};

/// Throws UsageError naming the option when a value is out of range.
void validate(const FitOptions& options);

/// Fits and writes options.out.
void run_fit(const FitOptions& options);

}  // namespace oodflow::pipeline
