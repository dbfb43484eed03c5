// Scoring with a trained flow: log p(x) in nats for every row of a feature file, streamed in
// batches so that memory stays flat whatever the file size.
#pragma once

#include <string>
#include <vector>

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::flow {

/// One score per row (higher = more in-distribution). `flow` must live on `device`.
std::vector<double> score_features(Flow& flow, const Normalizer& normalizer,
                                   const io::FeatureFile& data, std::int64_t batch_size,
                                   const std::string& device);

}  // namespace oodflow::flow
