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
#include "oodflow/core/threads.h"

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

// One line, like every other error, with the hint users of CLI tools expect.
int usage_error(const std::string& message) {
  std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());
  return kExitUsage;
}

std::string config_path(const CLI::App& app) {
  const CLI::Option* config = app.get_config_ptr();
  return config != nullptr && config->count() > 0 ? config->as<std::string>() : "";
}

// CLI11 words config errors for INI files: "INI was not able to parse train.blockz".
std::string config_message(std::string what) {
  const std::string prefix = "INI was not able to parse ";
  if (what.rfind(prefix, 0) != 0) return what;
  std::string key = what.substr(prefix.size());
  const auto dot = key.rfind('.');
  if (dot == std::string::npos) return "unknown option '" + key + "'";
  return "unknown option '" + key.substr(dot + 1) + "' for " + key.substr(0, dot);
}

// For a start without the launcher (which sets both variables before LibTorch loads,
// apps/oodflow/launcher.cpp), what the re-execution sets. Only a backbone computes on
// LibTorch's OpenMP pool (the other commands give it one thread, oodflow/core/threads.h), so
// only the commands that may run one re-execute for OMP_WAIT_POLICY=PASSIVE.
bool runs_backbone(const CLI::App& app) {
  if (app.got_subcommand("extract")) return true;
  const CLI::App* detect = app.get_subcommand("detect");
  return detect->parsed() && detect->get_option("--images")->count() > 0;
}

// metrics, merge and synth compute no matrix products: OpenBLAS's kernels do not matter to
// them, so they never re-execute for OPENBLAS_CORETYPE.
bool computes_matrix_products(const CLI::App& app) {
  return !app.got_subcommand("metrics") && !app.got_subcommand("merge") &&
         !app.got_subcommand("synth");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "oodflow: post-hoc out-of-distribution detection. A normalizing flow fitted for one epoch "
      "to a classifier's penultimate-layer features scores new samples by log-density.\n"
      "Typical use:\n"
      "  oodflow extract --backbone backbone.pt --data train_images/ --out id_train.safetensors\n"
      "  oodflow fit --detector glow --features id_train.safetensors --out glow.safetensors\n"
      "  oodflow score --model glow.safetensors --id id_test.safetensors --ood mnist=mnist.npy"};
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
  oodflow::cli::setup_extract(app, status);
  oodflow::cli::setup_merge(app, status);
  oodflow::cli::setup_train(app, status);
  oodflow::cli::setup_fit(app, status);
  oodflow::cli::setup_score(app, status);
  oodflow::cli::setup_detect(app, status);
  oodflow::cli::setup_metrics(app, status);
  oodflow::cli::setup_inspect(app, status);
  oodflow::cli::setup_synth(app, status);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    return usage_error("--config '" + config_path(app) + "': " + config_message(e.what()));
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return usage_error(e.what());
  }
  oodflow::reexec_with_tuned_libraries(argv, runs_backbone(app), computes_matrix_products(app));
  setup_logging(quiet, verbose);
  for (const std::string& warning : oodflow::cli::parse_warnings()) spdlog::warn("{}", warning);
  try {
    return status.run();
  } catch (const oodflow::UsageError& e) {
    return usage_error(e.what());
  } catch (const oodflow::Error& e) {
    spdlog::error("{}", e.what());
    return kExitError;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return kExitError;
  }
}
