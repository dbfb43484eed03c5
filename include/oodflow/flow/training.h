// Settings and summary of flow training (torch-free: the CLI and reports use them).
#pragma once

#include <cstdint>
#include <string>

namespace oodflow::flow {

struct TrainSettings {
  std::int64_t epochs = 1;  ///< the reference recipe: one epoch
  double lr = 1e-5;         ///< Adam learning rate
  std::int64_t batch_size = 250;
  std::uint64_t seed = 0;       ///< initialisation and shuffling
  bool skip_nonfinite = false;  ///< skip a batch with a non-finite loss instead of failing
  std::string device = "cpu";
};

struct TrainSummary {
  std::int64_t epochs = 0;
  std::int64_t steps = 0;            ///< optimiser steps taken
  std::int64_t samples = 0;          ///< samples seen (including skipped batches)
  std::int64_t skipped_batches = 0;  ///< batches with a non-finite loss (with skip_nonfinite)
  double initial_nll = 0;            ///< NLL of the first batch after ActNorm initialisation
  double mean_nll = 0;               ///< mean batch NLL over the last epoch (nats per sample)
  double last_nll = 0;               ///< NLL of the last batch
  double seconds = 0;
  double samples_per_second = 0;
};

/// JSON text of a summary, for the flow file's metadata.
std::string to_json_text(const TrainSummary& summary);
/// Inverse of to_json_text; throws on a malformed text.
TrainSummary summary_from_json_text(const std::string& text);

}  // namespace oodflow::flow
