// oodflow: out-of-distribution detection with normalizing flows on backbone features.
// Exit codes: 0 success, 1 error (one line on stderr), 2 usage error, 3 a --fail-under gate.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"
#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

void setup_logging(bool quiet, bool verbose) {
  auto logger = spdlog::stderr_color_mt("oodflow");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(quiet ? spdlog::level::warn
                          : (verbose ? spdlog::level::debug : spdlog::level::info));
  if (quiet) oodflow::Progress::set_default_mode(oodflow::ProgressMode::kNone);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "oodflow: post-hoc out-of-distribution detection. A normalizing flow fitted for one epoch "
      "to a classifier's penultimate-layer features scores new samples by log-density.\n"
      "Typical use:\n"
      "  oodflow train --features id_train.safetensors --out flow.safetensors\n"
      "  oodflow score --flow flow.safetensors --id id_test.safetensors --ood mnist=mnist.npy"};
  app.set_version_flag("--version", std::string("oodflow ") + OODFLOW_VERSION);
  app.require_subcommand(1);
  bool quiet = false;
  bool verbose = false;
  app.add_flag("--quiet,-q", quiet, "Only warnings and errors on stderr; no progress");
  app.add_flag("--verbose,-v", verbose, "Debug log messages");
  app.set_config("--config", "", "JSON file of option values for the subcommand (see configs/)");
  app.config_formatter(oodflow::cli::make_json_config(&app));
  app.allow_config_extras(CLI::config_extras_mode::error);

  oodflow::cli::CommandStatus status;
  oodflow::cli::setup_train(app, status);
  oodflow::cli::setup_score(app, status);
  oodflow::cli::setup_metrics(app, status);
  oodflow::cli::setup_synth(app, status);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    // CLI11 words these as INI errors ("INI was not able to parse train.blockz").
    std::string what = e.what();
    const std::string prefix = "INI was not able to parse ";
    if (what.rfind(prefix, 0) == 0) what = "unknown option '" + what.substr(prefix.size()) + "'";
    std::fprintf(stderr, "error: --config: %s\n", what.c_str());
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  setup_logging(quiet, verbose);
  try {
    return status.run();
  } catch (const oodflow::Error& e) {
    spdlog::error("{}", e.what());
    return kExitError;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return kExitError;
  }
}
