// The subcommands of the oodflow CLI: each setup_* binds flags to an options struct of the
// library and sets the callback that runs it. Nothing here computes anything.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

namespace oodflow::cli {

/// What the parsed subcommand will run once parsing (and logging set-up) is done; returns
/// the exit code.
struct CommandStatus {
  std::function<int()> run;
};

void setup_train(CLI::App& app, CommandStatus& status);
void setup_score(CLI::App& app, CommandStatus& status);
void setup_metrics(CLI::App& app, CommandStatus& status);

/// CLI11 config formatter reading flat JSON objects, for --config FILE.
std::shared_ptr<CLI::Config> make_json_config();

}  // namespace oodflow::cli
