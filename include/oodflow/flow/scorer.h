// Scoring with a trained flow: log p(x) in nats of rows in memory. Files are scored in
// chunks by the pipeline's one scoring path (pipeline/model.h), like every other model.
#pragma once

#include <string>
#include <vector>

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::flow {

/// Scores `n` rows of features already in memory, normalising them in place; errors name
/// `source` and the rows' sample numbers (index[i], or first + i without an index).
std::vector<double> score_rows(Flow& flow, const Normalizer& normalizer, float* features,
                               std::int64_t n, const std::string& device, const std::string& source,
                               std::int64_t first, const std::int64_t* index = nullptr);

}  // namespace oodflow::flow
