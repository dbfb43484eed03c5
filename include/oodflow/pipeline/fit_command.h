// `oodflow fit`: fit any model (detect/detector.h: a flow or a baseline) to in-distribution
// training features and write its model file, which score and detect read. The one fit tail
// of every model: hold-out split, the inputs the model declares, calibration, provenance
// records, atomic write. `oodflow train` is the flow's own spelling of it.
#pragma once

#include <cstdint>
#include <string>

#include "oodflow/core/defaults.h"
#include "oodflow/core/threads.h"
#include "oodflow/detect/detector.h"

namespace oodflow::pipeline {

struct FitOptions {
  // Model name (detect::detector_names()).
  std::string detector;
  // A flow's architecture as train's --arch spells it (train's config files); empty, or the
  // same as `detector`.
  std::string arch;
  // How log lines start: "fit", or "train" when `oodflow train` calls run_fit.
  std::string command = "fit";
  // ID training features (with logits or labels when the detector needs them).
  std::string features;
  // Output detector file (.safetensors).
  std::string out;
  // The backbone whose classifier head the models that need it (ReAct, ViM) use; empty = the
  // backbone recorded in the feature file's metadata (when that file still exists with the recorded
  // SHA-256).
  std::string head;
  // The head's layer name in that backbone ("fc", "head.fc"); empty = the layer that maps
  // the stored features to the stored logits (see pipeline/classifier_head.h).
  std::string head_param;
  // Share of the ID training samples held out (chosen by `seed`) to calibrate the detection
  // thresholds; 0 = fit on all, no thresholds.
  double val_fraction = kValFraction;
  // Seed of the held-out split and of a trained model's initialisation and shuffling.
  std::uint64_t seed = 0;
  // Compute threads (LibTorch and OpenBLAS); 0 = automatic (see core/threads.h).
  int threads = kDefaultThreads;
  // Hyper-parameters (k, block size, temperature, shrinkage, percentile, subspace, flow).
  detect::DetectorOptions options;
};

/// Throws UsageError naming the option when a value is out of range.
void validate(const FitOptions& options);

/// Fits and writes options.out; returns what fitting measured (Detector::fit_summary(), a
/// JSON object, "" for models that record nothing).
std::string run_fit(const FitOptions& options);

}  // namespace oodflow::pipeline
