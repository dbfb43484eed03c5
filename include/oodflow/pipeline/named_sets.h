// Shared parts of the commands that evaluate sets: "NAME=FILE" arguments, and the final
// step that writes the report's outputs, prints the table and applies the gates.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "oodflow/report/report.h"
#include "oodflow/report/writers.h"

namespace oodflow::pipeline {

/// "NAME=FILE" -> {NAME, FILE} (split at the first '='); a bare FILE is named after its file
/// name without extension. A spec that is the path of an existing file is that file, even when
/// it holds a '=' (sweep folders such as "lr=0.1/feats.safetensors").
std::pair<std::string, std::string> parse_named_set(const std::string& spec);
/// Parses all OOD specs and rejects duplicate names (and the ID name "id").
std::vector<std::pair<std::string, std::string>> parse_named_sets(
    const std::vector<std::string>& specs);

/// One output a command can write from its report: the option that asks for it, where it
/// goes (empty: not asked; "-": stdout) and its writer.
struct ReportOutput {
  std::string option;
  std::string destination;
  report::Writer write = nullptr;
  bool folder = false;  ///< destination is a folder (--svg), checked by the command
};

/// Throws UsageError when more than one output goes to stdout, and Error when a file
/// output's folder is missing or not writable (before any work is done); skips folder
/// outputs.
void check_outputs(const std::vector<ReportOutput>& outputs);

/// Warns about non-finite scores, writes every asked output, and prints the table to stdout
/// unless an output went there; returns 0, or kExitGateFailed when a gate tripped.
int publish_report(const report::Report& report, const std::vector<ReportOutput>& outputs);

}  // namespace oodflow::pipeline
