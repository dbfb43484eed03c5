// Maximum-likelihood training of a flow on a feature file: shuffled mini-batches streamed
// from the memory-mapped file, ActNorm data-initialisation on the first batch, Adam, and
// a hard stop (or, when asked, a counted skip) on a non-finite loss.
#pragma once

#include <functional>
#include <vector>

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/flow/training.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::flow {

/// Called with the flow after `step` optimiser steps (TrainSettings::snapshot_steps).
using SnapshotFn = std::function<void(std::int64_t step)>;

/// The ID classes of the listed rows: `values` are the distinct labels in ascending order,
/// `of_row[i]` the index in `values` of rows[i]'s label. Throws Error naming the file when
/// it has no labels (`why` says what needs them).
struct ClassIndex {
  std::vector<std::int64_t> values;
  std::vector<std::int64_t> of_row;
};
ClassIndex index_classes(const io::FeatureFile& data, const std::vector<std::int64_t>& rows,
                         const std::string& why);

/// Trains `flow` in place (it must live on settings.device) on the rows listed in `rows`
/// (ascending), or on every row when it is null. Each epoch visits them in the order
/// shuffled_order (core/sampling.h) gives for their positions in the list; with
/// settings.eval_fraction a seeded share of them is held out first to measure the NLL.
/// A class base needs `class_of_row` (parallel to `rows`, or to every row): the class index
/// of each row. With settings.init "gaussian", or with a class base, one streaming pass
/// fits the Gaussian (flow/gaussian_init.h) before the first step.
TrainSummary train_flow(Flow& flow, const io::FeatureFile& data, const Normalizer& normalizer,
                        const TrainSettings& settings,
                        const std::vector<std::int64_t>* rows = nullptr,
                        const std::vector<std::int64_t>* class_of_row = nullptr,
                        const SnapshotFn& on_snapshot = {});

}  // namespace oodflow::flow
