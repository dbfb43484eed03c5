// Shared parts of the commands that evaluate sets: "NAME=FILE" arguments, and the final
// step that prints the table, writes the report and applies the gates.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "oodflow/metrics/evaluation.h"

namespace oodflow::pipeline {

/// "NAME=FILE" -> {NAME, FILE} (split at the first '='); a bare FILE is named after its file
/// name without extension. A spec that is the path of an existing file is that file, even when
/// it holds a '=' (sweep folders such as "lr=0.1/feats.safetensors").
std::pair<std::string, std::string> parse_named_set(const std::string& spec);
/// Parses all OOD specs and rejects duplicate names (and the ID name "id").
std::vector<std::pair<std::string, std::string>> parse_named_sets(
    const std::vector<std::string>& specs);

/// Evaluates, prints the table to stdout, writes the JSON report when `report_path` is set;
/// returns 0, or kExitGateFailed when a gate is missed.
int publish_evaluation(const metrics::ScoredSet& id, const std::vector<metrics::ScoredSet>& ood,
                       const std::string& detector_json, const std::string& report_path,
                       const std::string& fail_under);

}  // namespace oodflow::pipeline
