#include "oodflow/pipeline/train_command.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/core/sampling.h"
#include "oodflow/core/threads.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/flow/scorer.h"
#include "oodflow/flow/trainer.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/device.h"
#include "oodflow/pipeline/model_records.h"
#include "torch_errors.h"

namespace oodflow::pipeline {
namespace {

constexpr std::int64_t kStatsChunkRows = 4096;
// Rows per forward pass when scoring the held-out samples (score's default batch).
constexpr std::int64_t kCalibrationBatchRows = 4096;

// Per-dimension statistics of the training rows for --normalize standardize, in one
// streaming pass that also rejects non-finite features before any training starts.
Normalizer fit_standardization(const io::FeatureFile& data, const std::vector<std::int64_t>& rows) {
  MomentAccumulator moments(data.dim());
  const Normalizer check_only(Normalization::kNone);
  const auto n = static_cast<std::int64_t>(rows.size());
  std::vector<float> chunk(static_cast<std::size_t>(kStatsChunkRows * data.dim()));
  for (std::int64_t begin = 0; begin < n; begin += kStatsChunkRows) {
    const std::int64_t count = std::min(kStatsChunkRows, n - begin);
    data.gather_rows(rows.data() + begin, count, chunk.data());
    check_only.apply(chunk.data(), count, data.dim(), data.path(), 0, rows.data() + begin);
    moments.add(chunk.data(), count);
  }
  return moments.finish();
}

std::string training_record(const TrainOptions& o, const io::FeatureFile& data,
                            const HoldoutSplit& split) {
  return nlohmann::json{{"features", o.features},
                        {"features_sha256", data.sha256()},
                        {"count", split.train.size()},
                        {"held_out", split.held_out.size()},
                        {"val_fraction", o.val_fraction},
                        {"dim", data.dim()},
                        {"lr", o.lr},
                        {"batch_size", o.batch_size},
                        {"epochs", o.epochs},
                        {"seed", o.seed},
                        {"skip_nonfinite", o.skip_nonfinite},
                        {"optimizer", "adam"}}
      .dump();
}

}  // namespace

void validate(const TrainOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.features.empty(), "--features is required");
    OODFLOW_CHECK(!o.out.empty(), "--out is required");
    OODFLOW_CHECK(o.out != o.features, "--out must differ from --features");
    const auto& archs = flow::flow_arch_names();
    OODFLOW_CHECK(std::find(archs.begin(), archs.end(), o.arch) != archs.end(),
                  "--arch must be glow or realnvp, got '" << o.arch << "'");
    OODFLOW_CHECK(o.blocks >= 0, "--blocks must be >= 1 (0 = default), got " << o.blocks);
    OODFLOW_CHECK(o.hidden >= 0, "--hidden must be >= 1 (0 = feature dimension), got " << o.hidden);
    OODFLOW_CHECK(o.scale_clamp >= 0 && std::isfinite(o.scale_clamp),
                  "--scale-clamp must be >= 0 (0 = off), got " << o.scale_clamp);
    OODFLOW_CHECK(o.epochs >= 1, "--epochs must be >= 1, got " << o.epochs);
    OODFLOW_CHECK(o.lr > 0 && std::isfinite(o.lr), "--lr must be > 0, got " << o.lr);
    OODFLOW_CHECK(o.batch_size >= 1, "--batch-size must be >= 1, got " << o.batch_size);
    OODFLOW_CHECK(o.val_fraction >= 0 && o.val_fraction < 1,
                  "--val-fraction must be in [0, 1), got " << o.val_fraction);
    OODFLOW_CHECK(o.threads >= 0, "--threads must be >= 0 (0 = automatic), got " << o.threads);
    parse_normalization(o.normalize);
    check_device(o.device);
  });
}

flow::TrainSummary run_train(const TrainOptions& o) {
  validate(o);
  check_writable(o.out);
  set_compute_threads(o.threads);
  const io::FeatureFile data = io::FeatureFile::open(o.features);
  const HoldoutSplit split = split_holdout(data.rows(), o.val_fraction, o.seed);
  spdlog::info("train: {} samples of dimension {} from '{}' ({} held out for calibration)",
               split.train.size(), data.dim(), o.features, split.held_out.size());
  check_constant_dimensions("train", data, split.train, /*need_variation=*/true);
  const Normalization normalization = parse_normalization(o.normalize);
  const Normalizer normalizer = normalization == Normalization::kStandardize
                                    ? fit_standardization(data, split.train)
                                    : Normalizer(normalization);
  flow::FlowConfig config;
  config.arch = o.arch;
  config.dim = data.dim();
  config.blocks = o.blocks > 0 ? o.blocks : flow::default_blocks(o.arch);
  config.hidden = o.hidden > 0 ? o.hidden : data.dim();
  config.scale_clamp = o.scale_clamp;

  flow::TrainSettings settings;
  settings.epochs = o.epochs;
  settings.lr = o.lr;
  settings.batch_size = o.batch_size;
  settings.seed = o.seed;
  settings.skip_nonfinite = o.skip_nonfinite;
  settings.device = o.device;

  return with_torch_errors("training on '" + o.features + "'", [&] {
    torch::manual_seed(o.seed);
    flow::Flow flow(config);
    flow.to(torch::Device(o.device));
    spdlog::info(
        "train: {} flow, {} blocks, hidden {}, {} parameters, {} thread(s), device {}", config.arch,
        config.blocks, config.hidden,
        [&] {
          std::int64_t n = 0;
          for (const auto& p : flow.parameters()) n += p.numel();
          return n;
        }(),
        torch_threads(), o.device);
    const flow::TrainSummary summary =
        flow::train_flow(flow, data, normalizer, settings, &split.train);
    const auto score_rows = [&](const std::vector<std::int64_t>& rows) {
      return flow::score_features(flow, normalizer, data, kCalibrationBatchRows, o.device, &rows);
    };
    const metrics::Calibration calibration =
        calibrate("train", split, o.val_fraction, o.seed, score_rows);
    // A flow that cannot score ID samples (constant or denormal feature dimensions make the
    // density degenerate) is no detector: an error, not a file that gives NaN for everything.
    const std::vector<std::int64_t> probe =
        !calibration.rows.empty()
            ? calibration.rows
            : std::vector<std::int64_t>(
                  split.train.begin(),
                  split.train.begin() + std::min<std::size_t>(split.train.size(), 4096));
    require_finite_scores(calibration.rows.empty() ? score_rows(probe) : calibration.scores,
                          o.features, calibration.rows.empty() ? "training" : "held-out");
    flow::save_flow(o.out, flow, normalizer,
                    {{"training", training_record(o, data, split)},
                     {"summary", flow::to_json_text(summary)},
                     {kExtractionKey, extraction_record(data)},
                     {"oodflow_version", OODFLOW_VERSION}},
                    calibration.rows.empty() ? nullptr : &calibration);
    spdlog::info("train: {} steps, mean NLL {:.4f}, last NLL {:.4f}, {:.0f} samples/s; wrote '{}'",
                 summary.steps, summary.mean_nll, summary.last_nll, summary.samples_per_second,
                 o.out);
    if (summary.skipped_batches > 0) {
      spdlog::warn("train: skipped {} batches with a non-finite loss", summary.skipped_batches);
    }
    return summary;
  });
}

}  // namespace oodflow::pipeline
