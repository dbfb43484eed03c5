#include "oodflow/pipeline/named_sets.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/pipeline/score_command.h"

namespace oodflow::pipeline {

namespace {

// The set's name for a bare FILE: the file name without its extension.
std::string name_of_file(const std::string& file) {
  std::string name = file.substr(file.find_last_of('/') + 1);
  const auto dot = name.rfind('.');
  if (dot != std::string::npos && dot > 0) name = name.substr(0, dot);
  return name;
}

bool is_existing_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec) && !std::filesystem::is_directory(path, ec);
}

}  // namespace

std::pair<std::string, std::string> parse_named_set(const std::string& spec) {
  OODFLOW_CHECK(!spec.empty(), "--ood needs NAME=FILE or FILE");
  // Sweep folders put '=' in paths (Hydra's lr=0.1/): a value that names a file is that file,
  // whatever it contains.
  if (is_existing_file(spec)) return {name_of_file(spec), spec};
  const auto eq = spec.find('=');
  if (eq == std::string::npos) return {name_of_file(spec), spec};
  const std::string name = spec.substr(0, eq);
  const std::string file = spec.substr(eq + 1);
  OODFLOW_CHECK(!name.empty() && !file.empty(), "--ood '" << spec << "' is not NAME=FILE");
  OODFLOW_CHECK(name.find('/') == std::string::npos || is_existing_file(file),
                "--ood '" << spec << "': no such file, and as NAME=FILE its name '" << name
                          << "' would hold a '/'; check the path");
  return {name, file};
}

std::vector<std::pair<std::string, std::string>> parse_named_sets(
    const std::vector<std::string>& specs) {
  std::vector<std::pair<std::string, std::string>> sets;
  std::set<std::string> names = {"id"};
  for (const auto& spec : specs) {
    sets.push_back(parse_named_set(spec));
    OODFLOW_CHECK(names.insert(sets.back().first).second,
                  "--ood: set name '" << sets.back().first
                                      << "' is used twice (or is 'id'); name sets with NAME=FILE");
  }
  return sets;
}

void check_outputs(const std::vector<ReportOutput>& outputs) {
  std::string to_stdout;
  for (const ReportOutput& output : outputs) {
    if (output.destination != "-") continue;
    as_usage_error([&] {
      OODFLOW_CHECK(to_stdout.empty(), to_stdout << " and " << output.option
                                                 << " both write to stdout ('-'); give one a file");
    });
    to_stdout = output.option;
  }
  for (const ReportOutput& output : outputs) {
    if (!output.destination.empty() && output.destination != "-" && !output.folder) {
      check_writable(output.destination);
    }
  }
}

int publish_report(const report::Report& report, const std::vector<ReportOutput>& outputs) {
  for (const report::DetectorReport& d : report.detectors) {
    // With several detectors, the same set can be fine for one and not for another.
    const std::string who = report.detectors.size() > 1 ? "'" + d.info.label + "': " : "";
    const metrics::Evaluation& e = d.evaluation;
    if (e.id_nonfinite.total() > 0) {
      spdlog::warn("{}set '{}': {} non-finite scores (ranked as most OOD for NaN/-inf)", who,
                   e.id_name, e.id_nonfinite.total());
    }
    for (const auto& set : e.ood) {
      if (set.metrics.ood_nonfinite.total() > 0) {
        spdlog::warn("{}set '{}': {} non-finite scores (ranked as most OOD for NaN/-inf)", who,
                     set.name, set.metrics.ood_nonfinite.total());
      }
    }
  }
  bool stdout_taken = false;
  for (const ReportOutput& output : outputs) {
    if (output.destination.empty()) continue;
    output.write(report, output.destination);
    stdout_taken = stdout_taken || output.destination == "-";
  }
  if (!stdout_taken) report::write_table(report, "-");
  return report.passed() ? 0 : kExitGateFailed;
}

}  // namespace oodflow::pipeline
