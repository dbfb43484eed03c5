#include "oodflow/pipeline/model_records.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"

namespace oodflow::pipeline {

std::string extraction_record(const io::FeatureFile& features) {
  nlohmann::json record = nlohmann::json::object();
  for (const char* key : {"backbone", "preprocessing", "input_shape", io::kOdinTensor}) {
    const auto it = features.metadata().find(key);
    if (it == features.metadata().end()) continue;
    const auto value = nlohmann::json::parse(it->second, nullptr, false);
    if (!value.is_discarded()) record[key] = value;
  }
  return record.dump();
}

namespace {

std::string sha256_in(const nlohmann::json& backbone) {
  return backbone.is_object() && backbone.contains("sha256") && backbone["sha256"].is_string()
             ? backbone["sha256"].get<std::string>()
             : "";
}

}  // namespace

nlohmann::json metadata_record(const std::map<std::string, std::string>& metadata,
                               const std::string& key) {
  const auto it = metadata.find(key);
  return it == metadata.end() ? nlohmann::json()
                              : nlohmann::json::parse(it->second, nullptr, false);
}

std::string features_backbone_sha256(const std::map<std::string, std::string>& feature_metadata) {
  return sha256_in(metadata_record(feature_metadata, "backbone"));
}

std::string model_backbone_sha256(const std::map<std::string, std::string>& model_metadata) {
  const nlohmann::json extraction = metadata_record(model_metadata, kExtractionKey);
  return extraction.is_object() && extraction.contains("backbone")
             ? sha256_in(extraction["backbone"])
             : "";
}

void require_finite_scores(const std::vector<double>& scores, const std::string& features,
                           const std::string& which) {
  std::int64_t bad = 0;
  for (double s : scores) bad += !std::isfinite(s);
  OODFLOW_CHECK(bad == 0, "the model fitted on '"
                              << features << "' gives non-finite scores to " << bad << " of "
                              << scores.size() << " " << which
                              << " ID samples: the features are degenerate (some dimensions "
                              << "constant, denormal or nearly so); --normalize l2 may "
                              << "help");
}

metrics::Calibration calibrate(
    const std::string& command, const HoldoutSplit& split, double fraction, std::uint64_t seed,
    const std::function<std::vector<double>(const std::vector<std::int64_t>&)>& score) {
  metrics::Calibration c;
  c.fraction = fraction;
  c.seed = seed;
  if (split.held_out.empty()) {
    spdlog::warn(
        "{}: --val-fraction 0: no held-out ID samples, so the model has no calibrated "
        "thresholds (detect will need --threshold)",
        command);
    return c;
  }
  c.rows = split.held_out;
  c.scores = score(split.held_out);
  OODFLOW_CHECK(c.scores.size() == c.rows.size(), "internal: calibration scores miss rows");
  std::string thresholds;
  for (double tpr : metrics::kCalibrationTprs) {
    const metrics::TprThreshold t = c.at(tpr);
    thresholds +=
        fmt::format("{}{:.0f}% at {:.6g}", thresholds.empty() ? "" : ", ", 100 * tpr, t.threshold);
  }
  spdlog::info("{}: calibrated on {} held-out ID samples ({:.3g}%): thresholds {}", command,
               c.rows.size(), 100 * fraction, thresholds);
  if (c.rows.size() < 100) {
    spdlog::warn(
        "{}: only {} held-out ID samples: the thresholds are coarse (the 99% one is "
        "the lowest of them); a larger --val-fraction gives steadier ones",
        command, c.rows.size());
  }
  std::int64_t nonfinite = 0;
  for (double s : c.scores) nonfinite += !std::isfinite(s);
  if (nonfinite > 0) {
    spdlog::warn("{}: {} held-out ID samples have non-finite scores", command, nonfinite);
  }
  return c;
}

}  // namespace oodflow::pipeline
