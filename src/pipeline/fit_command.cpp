#include "oodflow/pipeline/fit_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/core/normalizer.h"
#include "oodflow/core/sampling.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/extract/backbone.h"
#include "oodflow/flow/flow_config.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/classifier_head.h"
#include "oodflow/pipeline/device.h"
#include "oodflow/pipeline/model.h"
#include "oodflow/pipeline/model_records.h"
#include "torch_errors.h"

namespace oodflow::pipeline {
namespace {

// The classifier head from --backbone, or from the backbone that made the features.
detect::ClassifierHead load_head(const FitOptions& o, const io::FeatureFile& features,
                                 const detect::FeatureSet& train) {
  std::string path = o.head;
  std::string recorded_sha;
  if (path.empty()) {
    const auto it = features.metadata().find("backbone");
    const auto backbone = it == features.metadata().end()
                              ? nlohmann::json()
                              : nlohmann::json::parse(it->second, nullptr, false);
    OODFLOW_CHECK(backbone.is_object() && backbone.contains("path"),
                  "--detector " << o.detector << " needs the classifier head, and '" << o.features
                                << "' does not record its backbone: give --backbone "
                                << "BACKBONE.pt");
    path = backbone["path"].get<std::string>();
    recorded_sha = backbone.value("sha256", "");
  }
  extract::BackboneOptions bo;
  bo.path = path;
  const extract::Backbone backbone(bo);
  OODFLOW_CHECK(recorded_sha.empty() || recorded_sha == backbone.sha256(),
                "'" << path << "' is not the backbone that made '" << o.features
                    << "' (its SHA-256 differs from the one recorded); give --backbone "
                       "BACKBONE.pt");
  return find_classifier_head(backbone.linear_layers(), train, o.head_param, path);
}

// Deletes a scratch file when the command ends, also on an error.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(std::string path) : path_(std::move(path)) {}
  ~RemoveOnExit() { std::remove(path_.c_str()); }
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;

 private:
  std::string path_;
};

// A NaN/inf in one training row makes every fitted parameter NaN: name the rows instead of
// blaming the scores they would give. `rows` are the file's row numbers of `set`.
void require_finite_training_rows(const detect::FeatureSet& set,
                                  const std::vector<std::int64_t>& rows, const std::string& path) {
  const std::vector<std::int64_t> bad = set.nonfinite_rows();
  OODFLOW_CHECK(bad.empty(), "'" << path << "' has " << bad.size()
                                 << " training row(s) with a NaN/inf feature (or one beyond "
                                    "float32's range), logit or auxiliary score (the first is row "
                                 << (bad.empty() ? 0 : rows[static_cast<std::size_t>(bad[0])])
                                 << "); a detector cannot be fitted on them");
}

// The training record: what the model was fitted on, and the fit settings it declares.
std::string training_record(const FitOptions& o, const io::FeatureFile& file,
                            const HoldoutSplit& split, const detect::Detector& detector) {
  nlohmann::json record = {{"features", o.features},
                           {"features_sha256", file.sha256()},
                           {"count", split.train.size()},
                           {"held_out", split.held_out.size()},
                           {"val_fraction", o.val_fraction},
                           {"seed", o.seed},
                           {"dim", file.dim()}};
  record.update(nlohmann::json::parse(detector.training_settings()));
  return record.dump();
}

}  // namespace

void validate(const FitOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.features.empty(), "--features is required");
    OODFLOW_CHECK(!o.out.empty(), "--out is required");
    OODFLOW_CHECK(o.out != o.features, "--out must differ from --features");
    detect::make_detector(o.detector, o.options);  // the name, with the known ones listed
    OODFLOW_CHECK(o.arch.empty() || o.arch == o.detector,
                  "--arch " << o.arch << " (train's spelling, e.g. from its config file) differs "
                            << "from --detector " << o.detector);
    const detect::DetectorOptions& d = o.options;
    OODFLOW_CHECK(d.k >= 1, "--k must be >= 1, got " << d.k);
    OODFLOW_CHECK(d.block_size >= 1, "--block-size must be >= 1, got " << d.block_size);
    OODFLOW_CHECK(d.knn_index == "flat" || d.knn_index == "ivf",
                  "--index must be flat or ivf, got '" << d.knn_index << "'");
    OODFLOW_CHECK(d.nlist >= 0, "--nlist must be >= 1 (0 = automatic), got " << d.nlist);
    OODFLOW_CHECK(d.nprobe >= 0, "--nprobe must be >= 1 (0 = automatic), got " << d.nprobe);
    OODFLOW_CHECK(d.temperature > 0 && std::isfinite(d.temperature),
                  "--temperature must be > 0, got " << d.temperature);
    OODFLOW_CHECK(d.shrinkage >= 0 && d.shrinkage <= 1,
                  "--shrinkage must be in [0, 1], got " << d.shrinkage);
    OODFLOW_CHECK(d.react_percentile > 0 && d.react_percentile <= 100,
                  "--percentile must be in (0, 100], got " << d.react_percentile);
    OODFLOW_CHECK(o.val_fraction >= 0 && o.val_fraction < 1,
                  "--val-fraction must be in [0, 1), got " << o.val_fraction);
    OODFLOW_CHECK(d.vim_principal >= 0,
                  "--principal must be >= 0 (0 = the paper's rule), got " << d.vim_principal);
    const detect::FlowOptions& f = d.flow;
    OODFLOW_CHECK(f.blocks >= 0, "--blocks must be >= 1 (0 = default), got " << f.blocks);
    OODFLOW_CHECK(f.hidden >= 0, "--hidden must be >= 1 (0 = feature dimension), got " << f.hidden);
    OODFLOW_CHECK(f.scale_clamp >= 0 && std::isfinite(f.scale_clamp),
                  "--scale-clamp must be >= 0 (0 = off), got " << f.scale_clamp);
    OODFLOW_CHECK(f.train.epochs >= 1, "--epochs must be >= 1, got " << f.train.epochs);
    OODFLOW_CHECK(f.train.lr > 0 && std::isfinite(f.train.lr),
                  "--lr must be > 0, got " << f.train.lr);
    OODFLOW_CHECK(f.train.batch_size >= 1, "--batch-size must be >= 1, got " << f.train.batch_size);
    parse_normalization(f.normalize);
    parse_normalization(d.gaussian_normalize);
    auto one_of = [](const std::vector<std::string>& names, const std::string& value,
                     const char* option) {
      std::string known;
      for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
      OODFLOW_CHECK(std::find(names.begin(), names.end(), value) != names.end(),
                    option << " must be one of " << known << ", got '" << value << "'");
    };
    one_of(flow::flow_base_names(), f.base, "--base");
    one_of(flow::class_score_names(), f.class_score, "--class-score");
    one_of(flow::init_names(), f.train.init, "--init");
    one_of(flow::schedule_names(), f.train.schedule, "--schedule");
    OODFLOW_CHECK(f.train.init != "gaussian" || o.detector == "glow",
                  "--init gaussian needs glow (its invertible linear layer whitens the "
                  "features); "
                      << o.detector << " has none");
    OODFLOW_CHECK(f.train.steps >= 0, "--steps must be >= 0 (0 = --epochs), got " << f.train.steps);
    OODFLOW_CHECK(f.train.warmup >= 0, "--warmup must be >= 0, got " << f.train.warmup);
    OODFLOW_CHECK(f.train.noise >= 0 && std::isfinite(f.train.noise),
                  "--noise must be >= 0 (0 = off), got " << f.train.noise);
    OODFLOW_CHECK(f.train.eval_fraction >= 0 && f.train.eval_fraction < 1,
                  "--eval-fraction must be in [0, 1), got " << f.train.eval_fraction);
    OODFLOW_CHECK(f.train.eval_every >= 1, "--eval-every must be >= 1, got " << f.train.eval_every);
    OODFLOW_CHECK(f.train.early_stopping >= 0,
                  "--early-stopping must be >= 0 (0 = off), got " << f.train.early_stopping);
    OODFLOW_CHECK(f.train.early_stopping == 0 || f.train.eval_fraction > 0,
                  "--early-stopping needs held-out rows: pass --eval-fraction (e.g. 0.05)");
    for (const std::int64_t s : f.train.snapshot_steps) {
      OODFLOW_CHECK(s >= 0, "--snapshot-steps must be >= 0, got " << s);
    }
    OODFLOW_CHECK(o.threads >= 0, "--threads must be >= 0 (0 = automatic), got " << o.threads);
    check_device(f.train.device);
  });
}

std::string run_fit(const FitOptions& o) {
  validate(o);
  check_writable(o.out);
  set_compute_threads(o.threads);
  const io::FeatureFile file = io::FeatureFile::open(o.features);
  const HoldoutSplit split = split_holdout(file.rows(), o.val_fraction, o.seed);
  const std::unique_ptr<detect::Detector> detector = detect::make_detector(o.detector, o.options);
  const detect::Needs needs = detector->needs();
  detect::require_inputs(needs, detect::Inputs::of(file), file.path(), o.detector);
  spdlog::info("{}: {} on {} samples of dimension {} from '{}' ({} held out for calibration)",
               o.command, detector->label(), split.train.size(), file.dim(), o.features,
               split.held_out.size());
  check_constant_dimensions(o.command, file, split.train, needs.varying_features);

  const std::string scratch = scratch_path_for(o.out, "fit");
  const RemoveOnExit remove_scratch(scratch);
  detect::FitContext context;
  context.seed = o.seed;
  context.command = o.command;
  context.scratch = scratch;
  context.out = o.out;
  context.held_out = &split.held_out;
  detect::FeatureSet train;
  if (!needs.streamed_fit) {
    train = detect::FeatureSet::load(file, split.train);
    require_finite_training_rows(train, split.train, o.features);
  }
  detect::ClassifierHead head;
  if (needs.classifier_head) {
    head = load_head(o, file,
                     needs.streamed_fit ? detect::FeatureSet::load(file, split.train) : train);
    context.head = &head;
  }
  with_torch_errors("fitting " + o.detector + " on '" + o.features + "'", [&] {
    if (needs.streamed_fit) {
      detector->fit(file, split.train, context);
    } else {
      detector->fit(train, context);
    }
  });
  train = detect::FeatureSet();  // the training rows are no longer needed

  const metrics::Calibration calibration = calibrate(
      o.command, split, o.val_fraction, o.seed,
      [&](const std::vector<std::int64_t>& rows) { return score_rows(*detector, file, rows); });
  // A model that cannot score ID samples (constant or denormal feature dimensions make a
  // density degenerate) is no detector: an error, not a file that gives NaN for everything.
  if (calibration.rows.empty()) {
    const std::vector<std::int64_t> probe(
        split.train.begin(),
        split.train.begin() + std::min<std::size_t>(split.train.size(), kScoreBatchRows));
    require_finite_scores(score_rows(*detector, file, probe), o.features, "training");
  } else {
    require_finite_scores(calibration.scores, o.features, "held-out");
  }
  with_torch_errors("writing '" + o.out + "'", [&] {
    detector->save(o.out,
                   {{"training", training_record(o, file, split, *detector)},
                    {kExtractionKey, extraction_record(file)},
                    {"oodflow_version", OODFLOW_VERSION}},
                   calibration.rows.empty() ? nullptr : &calibration);
  });
  spdlog::info("{}: wrote '{}'", o.command, o.out);
  return detector->fit_summary();
}

}  // namespace oodflow::pipeline
