// How a model file (flow or baseline detector) stores its calibration: the held-out rows and
// their scores as tensors `calibration.rows` (I64) and `calibration.scores` (F64), so that a
// threshold can be derived for any TPR, and a `calibration` metadata record with the
// thresholds at 90/95/99% TPR and their counts, for people and scripts reading the file.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oodflow/io/safetensors.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::io {

inline constexpr const char* kCalibrationKey = "calibration";
inline constexpr const char* kCalibrationRowsTensor = "calibration.rows";
inline constexpr const char* kCalibrationScoresTensor = "calibration.scores";

/// True for the tensors above (model loaders skip them).
bool is_calibration_tensor(const std::string& name);

/// The two tensors (pointing into `calibration`) and the metadata record.
std::vector<TensorSpec> calibration_tensors(const metrics::Calibration& calibration);
std::string calibration_json(const metrics::Calibration& calibration);

/// The calibration stored in `file`, or nullopt when it has none; throws Error naming the
/// file when the record or tensors are inconsistent.
std::optional<metrics::Calibration> read_calibration(const SafetensorsFile& file);

}  // namespace oodflow::io
