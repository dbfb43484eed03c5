#include "oodflow/pipeline/model_records.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"

namespace oodflow::pipeline {

std::vector<std::int64_t> constant_dimensions(const io::FeatureFile& features,
                                              const std::vector<std::int64_t>& rows) {
  const std::int64_t dim = features.dim();
  if (rows.empty()) return {};
  std::vector<float> first(static_cast<std::size_t>(dim));
  features.gather_rows(rows.data(), 1, first.data());
  std::vector<char> varies(static_cast<std::size_t>(dim), 0);
  std::vector<float> chunk;
  for (std::size_t begin = 1; begin < rows.size(); begin += kStreamChunkRows) {
    const auto count =
        static_cast<std::int64_t>(std::min<std::size_t>(kStreamChunkRows, rows.size() - begin));
    chunk.resize(static_cast<std::size_t>(count * dim));
    features.gather_rows(rows.data() + begin, count, chunk.data());
    for (std::int64_t i = 0; i < count; ++i) {
      for (std::int64_t j = 0; j < dim; ++j) {
        if (chunk[static_cast<std::size_t>(i * dim + j)] != first[static_cast<std::size_t>(j)]) {
          varies[static_cast<std::size_t>(j)] = 1;
        }
      }
    }
  }
  std::vector<std::int64_t> constant;
  for (std::int64_t j = 0; j < dim; ++j) {
    if (!varies[static_cast<std::size_t>(j)]) constant.push_back(j);
  }
  return constant;
}

void check_constant_dimensions(const std::string& command, const io::FeatureFile& features,
                               const std::vector<std::int64_t>& rows, bool need_variation) {
  const std::vector<std::int64_t> constant = constant_dimensions(features, rows);
  if (constant.empty()) return;
  OODFLOW_CHECK(!need_variation || static_cast<std::int64_t>(constant.size()) < features.dim(),
                "'" << features.path() << "': every feature dimension is constant over the "
                    << rows.size() << " training samples (they are one point); there is no "
                    << "distribution to fit");
  std::string listed;
  constexpr std::size_t kListed = 12;
  for (std::size_t i = 0; i < std::min(constant.size(), kListed); ++i) {
    listed += (i ? ", " : "") + std::to_string(constant[i]);
  }
  if (constant.size() > kListed) listed += ", ...";
  spdlog::warn(
      "{}: {} of {} feature dimensions are constant in the {} training samples of '{}' "
      "(dimension {}): samples that vary there lie outside the training data and score very "
      "low (-inf when the arithmetic overflows)",
      command, constant.size(), features.dim(), rows.size(), features.path(), listed);
}

std::string extraction_record(const io::FeatureFile& features) {
  nlohmann::json record = nlohmann::json::object();
  for (const char* key : {"backbone", "preprocessing", "input_shape"}) {
    const auto it = features.metadata().find(key);
    if (it == features.metadata().end()) continue;
    const auto value = nlohmann::json::parse(it->second, nullptr, false);
    if (!value.is_discarded()) record[key] = value;
  }
  // From the file's API rather than its metadata, so that a version-1 file's ODIN settings
  // are recorded like a version-2 file's.
  nlohmann::json aux = nlohmann::json::object();
  for (const std::string& name : features.aux_score_names()) {
    aux[name] = nlohmann::json::parse(features.aux_settings(name));
  }
  if (!aux.empty()) record[io::kAuxScoresKey] = aux;
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
