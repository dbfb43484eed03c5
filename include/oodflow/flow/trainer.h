// Maximum-likelihood training of a flow on a feature file: shuffled mini-batches streamed
// from the memory-mapped file, ActNorm data-initialisation on the first batch, Adam, and
// a hard stop (or, when asked, a counted skip) on a non-finite loss.
#pragma once

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/flow/training.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::flow {

/// The order of samples in an epoch: a Fisher-Yates shuffle driven by mt19937_64, both fully
/// specified by the standard, so the same seed gives the same order on every platform.
std::vector<std::int64_t> shuffled_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

/// Trains `flow` in place (it must live on settings.device).
TrainSummary train_flow(Flow& flow, const io::FeatureFile& data, const Normalizer& normalizer,
                        const TrainSettings& settings);

}  // namespace oodflow::flow
