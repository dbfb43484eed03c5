#include "oodflow/pipeline/fit_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/core/sampling.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/extract/backbone.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/classifier_head.h"
#include "oodflow/pipeline/model_records.h"

namespace oodflow::pipeline {
namespace {

// The classifier head from --head, or from the backbone that made the features.
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
                                << "' does not record its backbone: give --head "
                                << "BACKBONE.pt");
    path = backbone["path"].get<std::string>();
    recorded_sha = backbone.value("sha256", "");
  }
  extract::BackboneOptions bo;
  bo.path = path;
  const extract::Backbone backbone(bo);
  OODFLOW_CHECK(recorded_sha.empty() || recorded_sha == backbone.sha256(),
                "'" << path << "' is not the backbone that made '" << o.features
                    << "' (its SHA-256 differs from the one recorded); give --head BACKBONE.pt");
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
                                    "float32's range), logit or ODIN "
                                    "score (the first is row "
                                 << (bad.empty() ? 0 : rows[static_cast<std::size_t>(bad[0])])
                                 << "); a detector cannot be fitted on them");
}

}  // namespace

void validate(const FitOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.features.empty(), "--features is required");
    OODFLOW_CHECK(!o.out.empty(), "--out is required");
    OODFLOW_CHECK(o.out != o.features, "--out must differ from --features");
    detect::make_detector(o.detector, o.options);  // the name, with the known ones listed
    OODFLOW_CHECK(o.options.k >= 1, "--k must be >= 1, got " << o.options.k);
    OODFLOW_CHECK(o.options.block_size >= 1,
                  "--block-size must be >= 1, got " << o.options.block_size);
    OODFLOW_CHECK(o.options.temperature > 0 && std::isfinite(o.options.temperature),
                  "--temperature must be > 0, got " << o.options.temperature);
    OODFLOW_CHECK(o.options.shrinkage >= 0 && o.options.shrinkage <= 1,
                  "--shrinkage must be in [0, 1], got " << o.options.shrinkage);
    OODFLOW_CHECK(o.options.react_percentile > 0 && o.options.react_percentile <= 100,
                  "--percentile must be in (0, 100], got " << o.options.react_percentile);
    OODFLOW_CHECK(o.val_fraction >= 0 && o.val_fraction < 1,
                  "--val-fraction must be in [0, 1), got " << o.val_fraction);
    OODFLOW_CHECK(
        o.options.vim_principal >= 0,
        "--principal must be >= 0 (0 = the paper's rule), got " << o.options.vim_principal);
  });
}

void run_fit(const FitOptions& o) {
  validate(o);
  check_writable(o.out);
  const io::FeatureFile file = io::FeatureFile::open(o.features);
  const HoldoutSplit split = split_holdout(file.rows(), o.val_fraction, o.seed);
  spdlog::info(
      "fit: {} detector on {} samples of dimension {} from '{}' ({} held out for "
      "calibration)",
      o.detector, split.train.size(), file.dim(), o.features, split.held_out.size());
  check_constant_dimensions("fit", file, split.train, /*need_variation=*/false);
  const std::string training = nlohmann::json{
      {"features", o.features},
      {"features_sha256", file.sha256()},
      {"count", split.train.size()},
      {"held_out", split.held_out.size()},
      {"val_fraction", o.val_fraction},
      {"seed", o.seed},
      {"dim", file.dim()}}.dump();
  const std::map<std::string, std::string> extra = {{"training", training},
                                                    {kExtractionKey, extraction_record(file)},
                                                    {"oodflow_version", OODFLOW_VERSION}};
  std::unique_ptr<detect::Detector> detector;
  // KNN's parameters are the training set itself: streamed from the feature file's map into
  // a file in chunks, so memory stays flat whatever the set's size. Its calibration needs the
  // fitted bank, so the bank goes to a scratch file first and is mapped back.
  const std::string scratch = scratch_path_for(o.out, "knn-bank");
  const RemoveOnExit remove_scratch(scratch);
  if (o.detector == "knn") {
    detect::fit_knn_streamed(file, o.options, split.held_out.empty() ? o.out : scratch, extra,
                             &split.train);
    if (split.held_out.empty()) {
      calibrate("fit", split, o.val_fraction, o.seed, nullptr);  // warns: no thresholds
      spdlog::info("fit: wrote '{}'", o.out);
      return;
    }
    detector = detect::load_detector(scratch);
  } else {
    detect::FeatureSet train = detect::FeatureSet::load(file, split.train);
    require_finite_training_rows(train, split.train, o.features);
    detector = detect::make_detector(o.detector, o.options);
    if (o.detector == "react" || o.detector == "vim") train.head = load_head(o, file, train);
    detector->fit(train);
  }
  const metrics::Calibration calibration = calibrate(
      "fit", split, o.val_fraction, o.seed,
      [&](const auto& rows) { return detector->score(detect::FeatureSet::load(file, rows)); });
  require_finite_scores(calibration.scores, o.features, "held-out");
  detect::save_detector(o.out, *detector, extra, calibration.rows.empty() ? nullptr : &calibration);
  spdlog::info("fit: wrote '{}'", o.out);
}

}  // namespace oodflow::pipeline
