// Maximum-likelihood training of a flow on a feature file: shuffled mini-batches streamed
// from the memory-mapped file, ActNorm data-initialisation on the first batch, Adam, and
// a hard stop (or, when asked, a counted skip) on a non-finite loss.
#pragma once

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/flow/training.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::flow {

/// Trains `flow` in place (it must live on settings.device) on the rows listed in `rows`
/// (ascending), or on every row when it is null. Each epoch visits them in the order
/// shuffled_order (core/sampling.h) gives for their positions in the list.
TrainSummary train_flow(Flow& flow, const io::FeatureFile& data, const Normalizer& normalizer,
                        const TrainSettings& settings,
                        const std::vector<std::int64_t>* rows = nullptr);

}  // namespace oodflow::flow
