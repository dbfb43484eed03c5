#include "oodflow/pipeline/named_sets.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/io/report.h"
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

int publish_evaluation(const metrics::ScoredSet& id, const std::vector<metrics::ScoredSet>& ood,
                       const std::string& detector_json, const std::string& report_path,
                       const std::string& fail_under) {
  const metrics::Evaluation evaluation = metrics::evaluate(id, ood);
  if (evaluation.id_nonfinite.total() > 0) {
    spdlog::warn("set '{}': {} non-finite scores (ranked as most OOD for NaN/-inf)",
                 evaluation.id_name, evaluation.id_nonfinite.total());
  }
  for (const auto& set : evaluation.ood) {
    if (set.metrics.ood_nonfinite.total() > 0) {
      spdlog::warn("set '{}': {} non-finite scores (ranked as most OOD for NaN/-inf)", set.name,
                   set.metrics.ood_nonfinite.total());
    }
  }
  const auto checks = metrics::check_gates(evaluation, metrics::parse_gates(fail_under));
  if (!report_path.empty()) {
    write_file_atomically(report_path, io::report_json(evaluation, detector_json, checks));
  }
  std::fputs(io::report_table(evaluation, checks).c_str(), stdout);
  std::fflush(stdout);
  for (const auto& check : checks) {
    if (!check.passed) return kExitGateFailed;
  }
  return 0;
}

}  // namespace oodflow::pipeline
