// Scoring with a trained flow: log p(x) in nats for every row of a feature file, streamed in
// batches so that memory stays flat whatever the file size.
#pragma once

#include <string>
#include <vector>

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::flow {

/// One score per row (higher = more in-distribution), of the rows listed in `rows` (in that
/// order) or of every row. `flow` must live on `device`.
std::vector<double> score_features(Flow& flow, const Normalizer& normalizer,
                                   const io::FeatureFile& data, std::int64_t batch_size,
                                   const std::string& device,
                                   const std::vector<std::int64_t>* rows = nullptr);

/// Scores `n` rows of features already in memory, normalising them in place; errors name
/// `source` and the rows' sample numbers (index[i], or first + i without an index).
std::vector<double> score_rows(Flow& flow, const Normalizer& normalizer, float* features,
                               std::int64_t n, const std::string& device, const std::string& source,
                               std::int64_t first, const std::int64_t* index = nullptr);

}  // namespace oodflow::flow
