// The subcommands of the oodflow CLI: each setup_* binds flags to an options struct of the
// library and sets the callback that runs it. Nothing here computes anything.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace oodflow::detect {
struct FlowOptions;
}

namespace oodflow::cli {

/// What the parsed subcommand will run once parsing (and logging set-up) is done; returns
/// the exit code.
struct CommandStatus {
  std::function<int()> run;
};

void setup_train(CLI::App& app, CommandStatus& status);
void setup_score(CLI::App& app, CommandStatus& status);
void setup_metrics(CLI::App& app, CommandStatus& status);
void setup_synth(CLI::App& app, CommandStatus& status);
void setup_extract(CLI::App& app, CommandStatus& status);
void setup_merge(CLI::App& app, CommandStatus& status);
void setup_fit(CLI::App& app, CommandStatus& status);
void setup_detect(CLI::App& app, CommandStatus& status);
void setup_inspect(CLI::App& app, CommandStatus& status);

/// What --threads 0 chooses for the flow's matrix products.
inline const std::string kAutomaticFlowThreads =
    "every core, in OpenBLAS's pool (LibTorch's at 1 thread: two pools are slower)";

/// --threads and --device, shared by the commands that run LibTorch; `automatic_threads` says
/// what --threads 0 chooses.
void add_compute_options(CLI::App* sub, int& threads, std::string& device,
                         const std::string& automatic_threads = kAutomaticFlowThreads);

/// The flow's settings, bound by add_flow_options for train and fit.
/// The flow's options (architecture, preprocessing, recipe) with one help text for train and
/// fit. `also_normalize`, when given, also receives --normalize (fit: gaussian/mahalanobis).
void add_flow_options(CLI::App* sub, detect::FlowOptions& flow,
                      std::string* also_normalize = nullptr);

/// The report outputs of score and metrics.
struct ReportOptionRefs {
  std::string& out;
  std::string& junit;
  std::string& markdown;
  std::string& fail_under;
};
/// --out (JSON), --junit, --markdown and --fail-under with one help text for both commands.
void add_report_options(CLI::App* sub, const ReportOptionRefs& report);

/// Warnings found while parsing the command line, logged once logging is set up (before,
/// spdlog's default logger would write them to stdout, among a command's results).
std::vector<std::string>& parse_warnings();

/// An old spelling of an option, kept for one release: hidden from --help; it sets `target`
/// (appending for a list, after the new spelling's values) and adds a parse warning naming the
/// new spelling; `existing_file` checks its values as the new spelling does.
void add_deprecated_alias(CLI::App* sub, const std::string& old_name, const std::string& new_name,
                          std::string& target, bool existing_file = false);
void add_deprecated_alias(CLI::App* sub, const std::string& old_name, const std::string& new_name,
                          std::vector<std::string>& target, bool existing_file = false);

/// CLI11 config formatter reading JSON objects for --config FILE; keys go to the subcommand
/// parsed on `root`.
std::shared_ptr<CLI::Config> make_json_config(const CLI::App* root);

/// Help of --val-fraction, shared by train and fit.
inline constexpr const char* kValFractionHelp =
    "Share of the ID samples held out (chosen by --seed) to calibrate the detection thresholds "
    "stored in the model (those accepting 90/95/99% of them); 0 = none";

/// Help text shared by the subcommands about the root's --config option.
inline constexpr const char* kConfigFooter =
    "Options can also come from a JSON file: oodflow <command> --config FILE, keys = long option "
    "names (e.g. configs/glow.json); flags on the command line override the file.";

}  // namespace oodflow::cli
