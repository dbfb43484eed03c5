#include "oodflow/pipeline/detect_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/extract/aux_scores.h"
#include "oodflow/extract/extractor.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/verdict_file.h"
#include "oodflow/pipeline/device.h"
#include "oodflow/pipeline/extract_command.h"
#include "oodflow/pipeline/model.h"
#include "oodflow/pipeline/model_records.h"
#include "oodflow/pipeline/score_command.h"

namespace oodflow::pipeline {
namespace {

nlohmann::json extraction_of(const Model& model) {
  const nlohmann::json record = metadata_record(model.metadata, kExtractionKey);
  return record.is_object() ? record : nlohmann::json::object();
}

// The threshold: given, or the one the model's held-out ID scores give at --tpr.
double choose_threshold(const DetectOptions& o, const Model& model) {
  if (o.has_threshold) {
    spdlog::info("detect: threshold {} (given)", o.threshold);
    return o.threshold;
  }
  OODFLOW_CHECK(model.calibration.has_value(),
                "'" << model.path << "' has no calibrated thresholds (it was made with "
                    << "--val-fraction 0 or by an older oodflow): give --threshold, or retrain "
                    << "with --val-fraction");
  const metrics::TprThreshold t = model.calibration->at(o.tpr);
  spdlog::info("detect: threshold {:.6g}: accepts {} of {} held-out ID samples (TPR {:.2f}%)",
               t.threshold, t.accepted, t.count, 100.0 * t.accepted / t.count);
  if (!std::isfinite(t.threshold)) {
    spdlog::warn(
        "detect: the calibrated threshold is not finite: the held-out ID scores include "
        "NaN/inf; every finite score is accepted");
  }
  return t.threshold;
}

// A backbone other than the one the model's features came from gives other features: an
// error, unless the user says it is intended.
void check_backbone(const DetectOptions& o, const std::string& recorded, const std::string& actual,
                    const std::string& what) {
  if (recorded.empty() || recorded == actual) return;
  OODFLOW_CHECK(o.allow_backbone_mismatch,
                what << " (SHA-256 " << actual.substr(0, 12) << "...) is not the one recorded in '"
                     << o.model << "' (SHA-256 " << recorded.substr(0, 12)
                     << "..., the backbone of its training features); pass "
                     << "--allow-backbone-mismatch to use it anyway");
  spdlog::warn(
      "detect: {} is not the backbone recorded in '{}' (--allow-backbone-mismatch): verdicts "
      "may be meaningless",
      what, o.model);
}

class Judge {
 public:
  Judge(const DetectOptions& o, double threshold)
      : threshold_(threshold), writer_(o.out, io::parse_verdict_format(o.format)) {}

  void scored(std::int64_t index, const std::string& source, double score) {
    const bool accepted = !std::isnan(score) && score >= threshold_;
    writer_.scored(index, source, score, accepted);
    ++summary_.samples;
    summary_.flagged += !accepted;
  }
  void unreadable(std::int64_t index, const std::string& source, const std::string& reason) {
    writer_.unscored(index, source, "unreadable", reason);
    ++summary_.unreadable;
  }
  void invalid(std::int64_t index, const std::string& source) {
    writer_.unscored(index, source, "invalid",
                     "a feature, logit or auxiliary score is NaN or infinite");
    ++summary_.invalid;
  }
  DetectSummary finish() {
    writer_.finish();
    summary_.threshold = threshold_;
    return summary_;
  }

 private:
  double threshold_;
  io::VerdictWriter writer_;
  DetectSummary summary_;
};

DetectSummary judge_features(const DetectOptions& o, const Model& model, double threshold) {
  const io::FeatureFile file = io::FeatureFile::open(o.features);
  const std::string recorded = model_backbone_sha256(model.metadata);
  const std::string actual = features_backbone_sha256(file.metadata());
  if (actual.empty()) {
    if (!recorded.empty()) {
      spdlog::info(
          "detect: '{}' records no backbone: it cannot be checked against the one of "
          "the training features of '{}'",
          o.features, o.model);
    }
  } else {
    check_backbone(o, recorded, actual, "the backbone that made '" + o.features + "'");
  }
  check_inputs(model, file);
  Judge judge(o, threshold);
  io::FeatureFile::SourceReader sources(file);
  score_in_chunks(
      model, file, o.batch_size > 0 ? o.batch_size : kScoreBatchRows,
      [&](const detect::FeatureSet& chunk, const std::vector<double>& scores,
          const std::vector<std::int64_t>& invalid) {
        std::size_t next = 0;
        for (std::int64_t i = 0; i < chunk.rows; ++i) {
          if (next < invalid.size() && invalid[next] == i) {
            ++next;
            judge.invalid(chunk.first + i, sources.next());
          } else {
            judge.scored(chunk.first + i, sources.next(), scores[i]);
          }
        }
      },
      NonFiniteRows::kSkip);
  return judge.finish();
}

DetectSummary judge_images(const DetectOptions& o, const Model& model, double threshold) {
  const nlohmann::json extraction = extraction_of(model);
  OODFLOW_CHECK(extraction.contains("backbone") && extraction.contains("preprocessing"),
                "'" << o.model << "' records no backbone and image preprocessing (its training "
                    << "features were not written by oodflow extract), so it cannot judge "
                    << "images: extract their features and give --features");
  const nlohmann::json& recorded = extraction["backbone"];
  extract::BackboneOptions bo;
  bo.path = !o.backbone.empty() ? o.backbone : recorded.value("path", "");
  OODFLOW_CHECK(!o.backbone.empty() || std::ifstream(bo.path).good(),
                "the backbone recorded in '" << o.model << "', '" << bo.path
                                             << "', cannot be opened (a path relative to where "
                                             << "extract ran, or a moved file): give --backbone "
                                             << "PATH");
  bo.method = recorded.value("method", "forward");
  bo.features_key = recorded.value("features_key", "");
  bo.logits_key = recorded.value("logits_key", "");
  bo.device = o.device;
  extract::Backbone backbone(bo);
  check_backbone(o, model_backbone_sha256(model.metadata), backbone.sha256(),
                 "the backbone '" + bo.path + "'");

  extract::ExtractSettings settings;
  settings.preprocessing =
      extract::preprocessing_from_json(extraction["preprocessing"].dump(), o.model);
  settings.batch_size = o.batch_size > 0 ? o.batch_size : kImageBatch;
  settings.workers = o.workers;
  settings.strict = o.strict;
  // Only the scores the model reads are computed: ODIN's costs two more backbone passes.
  extract::request_aux_scores(model.detector->needs().aux_scores, extraction.dump(), &settings,
                              o.model);
  const auto source = extract::open_image_source(
      o.images, extract::parse_source_format(o.source_format), "", o.root);
  spdlog::info("detect: {} images of '{}', backbone '{}'", source->size(), o.images, bo.path);

  Judge judge(o, threshold);
  extract::stream_features(*source, backbone, settings, [&](extract::FeatureBatch& batch) {
    std::vector<double> scores;
    if (batch.rows > 0) {
      OODFLOW_CHECK(model.dim == 0 || batch.dim == model.dim,
                    "the backbone '" << bo.path << "' gives features of dimension " << batch.dim
                                     << " but the " << model.label << " '" << model.path
                                     << "' takes dimension " << model.dim);
      detect::FeatureSet set;
      set.rows = batch.rows;
      set.dim = batch.dim;
      set.features = std::move(batch.features);
      set.classes = batch.classes;
      set.logits = std::move(batch.logits);
      for (auto& a : batch.aux) {
        set.aux.push_back({a.name, std::move(a.settings), std::move(a.values)});
      }
      set.source = o.images;
      set.first = batch.indices.front();
      std::vector<std::int64_t> unscored;  // a finite image gives finite features
      scores = score_chunk(*model.detector, set, NonFiniteRows::kError, &unscored);
    }
    // Rows and unreadable images back in source order.
    std::size_t row = 0;
    std::size_t skipped = 0;
    while (row < batch.indices.size() || skipped < batch.skipped.size()) {
      if (skipped == batch.skipped.size() ||
          (row < batch.indices.size() && batch.indices[row] < batch.skipped[skipped].first)) {
        judge.scored(batch.indices[row], batch.sources[row], scores[row]);
        ++row;
      } else {
        const auto& [index, image] = batch.skipped[skipped++];
        judge.unreadable(index, image.source, image.reason);
      }
    }
  });
  return judge.finish();
}

}  // namespace

void validate(const DetectOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.model.empty(), "--model is required");
    OODFLOW_CHECK(o.features.empty() != o.images.empty(),
                  "give exactly one of --features FILE and --images SOURCE");
    OODFLOW_CHECK(!o.images.empty() || (o.backbone.empty() && o.source_format == "auto"),
                  "--backbone and --source-format apply to --images only");
    OODFLOW_CHECK(o.out.empty() || o.out == "-" || (o.out != o.model && o.out != o.features),
                  "--out must differ from the inputs");
    io::parse_verdict_format(o.format);
    extract::parse_source_format(o.source_format);
    OODFLOW_CHECK(o.tpr > 0 && o.tpr <= 1, "--tpr must be in (0, 1], got " << o.tpr);
    OODFLOW_CHECK(!o.has_threshold || std::isfinite(o.threshold),
                  "--threshold must be a finite number, got " << o.threshold);
    OODFLOW_CHECK(o.batch_size >= 0,
                  "--batch-size must be >= 1 (0 = default), got " << o.batch_size);
    OODFLOW_CHECK(o.workers >= 0 && o.workers <= 256,
                  "--workers must be between 0 and 256, got " << o.workers);
    OODFLOW_CHECK(o.threads >= 0, "--threads must be >= 0 (0 = automatic), got " << o.threads);
    check_device(o.device);
  });
}

int run_detect(const DetectOptions& o, DetectSummary* summary_out) {
  validate(o);
  if (!o.out.empty() && o.out != "-") check_writable(o.out);
  set_compute_threads(o.threads,
                      o.images.empty() ? Workload::kMatrixProducts : Workload::kBackbone);
  const Model model = load_model(o.model, o.device);
  const double threshold = choose_threshold(o, model);
  const DetectSummary summary =
      o.images.empty() ? judge_features(o, model, threshold) : judge_images(o, model, threshold);
  spdlog::info("detect: {} samples judged by {}: {} in, {} out ({:.2f}%){}", summary.samples,
               model.label, summary.samples - summary.flagged, summary.flagged,
               100.0 * summary.flagged / std::max<std::int64_t>(summary.samples, 1),
               summary.unreadable + summary.invalid > 0
                   ? fmt::format(", {} unreadable, {} invalid", summary.unreadable, summary.invalid)
                   : "");
  if (summary.unreadable > 0) {
    spdlog::warn(
        "detect: {} image(s) could not be read (verdict 'unreadable'; --strict makes "
        "them errors)",
        summary.unreadable);
  }
  if (summary.invalid > 0) {
    spdlog::warn(
        "detect: {} sample(s) have a NaN/inf feature, logit or auxiliary score (verdict 'invalid', "
        "not "
        "scored)",
        summary.invalid);
  }
  if (summary_out != nullptr) *summary_out = summary;
  const std::int64_t failed = summary.flagged + summary.unreadable + summary.invalid;
  if (o.fail_on_ood && failed > 0) {
    spdlog::error(
        "detect: {} sample(s) judged out of distribution, unreadable or invalid "
        "(--fail-on-ood)",
        failed);
    return kExitGateFailed;
  }
  return 0;
}

}  // namespace oodflow::pipeline
