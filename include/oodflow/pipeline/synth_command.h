// `oodflow synth`: writes a synthetic benchmark (Gaussian-mixture ID train/test features and
// shifted-mixture OOD features) as feature files, to try the pipeline without any dataset.
#pragma once

#include <cstdint>
#include <string>

namespace oodflow::pipeline {

struct SynthOptions {
  // Folder to write id_train, id_test and ood_* feature files into (created if missing).
  std::string out_dir;
  // Feature dimension.
  std::int64_t dim = 64;
  // Mixture components.
  std::int64_t components = 4;
  // ID training samples.
  std::int64_t train = 20000;
  // ID test samples and samples per OOD set.
  std::int64_t test = 5000;
  // Mean shifts of the OOD sets (one set per value).
  std::string shifts = "0.5,1.0";
  // Seed of everything.
  std::uint64_t seed = 0;
};

void validate(const SynthOptions& options);
void run_synth(const SynthOptions& options);

}  // namespace oodflow::pipeline
