// Flow files: a trained flow's parameters and buffers as safetensors, with metadata holding
// the architecture, the feature preprocessing, what it was trained on and the training summary.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::flow {

inline constexpr const char* kFlowFormat = "oodflow.flow";
/// The newest flow file version this oodflow reads: 2 adds the class base (FlowConfig::base),
/// which a version-1 reader would silently score as a normal base. Flows with the normal base
/// are still written as version 1.
inline constexpr int kFlowFormatVersion = 2;

struct LoadedFlow {
  std::shared_ptr<Flow> flow;
  Normalizer normalizer;
  std::map<std::string, std::string> metadata;
  /// SHA-256 of the parameters and buffers (in name order): identical for identical
  /// parameters, whatever the metadata (which holds timings) says.
  std::string parameters_sha256;
  /// Held-out ID scores that fix the detection thresholds (absent with --val-fraction 0).
  std::optional<metrics::Calibration> calibration;
};

/// Writes `flow` (moved to CPU for writing) atomically; `metadata` adds to the format keys.
void save_flow(const std::string& path, Flow& flow, const Normalizer& normalizer,
               const std::map<std::string, std::string>& metadata,
               const metrics::Calibration* calibration = nullptr);

/// Reads a flow file on the CPU; throws Error naming the file when it is not a valid flow.
LoadedFlow load_flow(const std::string& path);

}  // namespace oodflow::flow
