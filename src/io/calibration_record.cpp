#include "oodflow/io/calibration_record.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/metrics/ood_metrics.h"

namespace oodflow::io {

bool is_calibration_tensor(const std::string& name) {
  return name == kCalibrationRowsTensor || name == kCalibrationScoresTensor;
}

std::vector<TensorSpec> calibration_tensors(const metrics::Calibration& c) {
  const auto n = static_cast<std::int64_t>(c.scores.size());
  return {{kCalibrationRowsTensor, DType::I64, {n}, c.rows.data(), {}},
          {kCalibrationScoresTensor, DType::F64, {n}, c.scores.data(), {}}};
}

std::string calibration_json(const metrics::Calibration& c) {
  nlohmann::ordered_json thresholds = nlohmann::ordered_json::array();
  for (double tpr : metrics::kCalibrationTprs) {
    const metrics::TprThreshold t = c.at(tpr);
    thresholds.push_back(
        {{"tpr", tpr},
         {"threshold", std::isfinite(t.threshold) ? nlohmann::ordered_json(t.threshold) : nullptr},
         {"accepted", t.accepted},
         {"count", t.count}});
  }
  const metrics::NonFiniteCounts nonfinite = metrics::count_nonfinite(c.scores);
  return nlohmann::ordered_json{{"source", "held-out ID training samples (never OOD data)"},
                                {"fraction", c.fraction},
                                {"seed", c.seed},
                                {"count", c.scores.size()},
                                {"nonfinite", nonfinite.total()},
                                {"rule", "largest threshold t with share(score >= t) >= tpr"},
                                {"thresholds", thresholds}}
      .dump();
}

std::optional<metrics::Calibration> read_calibration(const SafetensorsFile& file) {
  const auto& meta = file.view().metadata;
  const auto record = meta.find(kCalibrationKey);
  const TensorView* rows = file.view().find(kCalibrationRowsTensor);
  const TensorView* scores = file.view().find(kCalibrationScoresTensor);
  if (record == meta.end() && rows == nullptr && scores == nullptr) return std::nullopt;
  const auto j = nlohmann::json::parse(record == meta.end() ? "" : record->second, nullptr, false);
  OODFLOW_CHECK(rows != nullptr && scores != nullptr && j.is_object() && j.contains("fraction") &&
                    j["fraction"].is_number() && j.contains("seed") &&
                    j["seed"].is_number_unsigned(),
                "'" << file.path() << "' has an incomplete calibration record (corrupt)");
  OODFLOW_CHECK(rows->dtype == DType::I64 && scores->dtype == DType::F64 &&
                    rows->shape.size() == 1 && rows->shape == scores->shape && rows->shape[0] > 0,
                "'" << file.path() << "': the calibration tensors must be I64 and F64 vectors of "
                    << "one length (corrupt)");
  metrics::Calibration c;
  c.fraction = j["fraction"].get<double>();
  c.seed = j["seed"].get<std::uint64_t>();
  const auto n = static_cast<std::size_t>(rows->shape[0]);
  c.rows.resize(n);
  c.scores.resize(n);
  std::memcpy(c.rows.data(), rows->data, rows->nbytes);
  std::memcpy(c.scores.data(), scores->data, scores->nbytes);
  return c;
}

}  // namespace oodflow::io
