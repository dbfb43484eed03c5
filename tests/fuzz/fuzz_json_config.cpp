// libFuzzer entry point for `--config FILE`: the JSON formatter of the CLI
// (apps/oodflow/json_config.cpp) on arbitrary bytes. CLI11 reports bad configs with
// CLI::ConfigError, the expected answer; any other exception escapes and counts as a crash.
#include <sstream>

#include "../../apps/oodflow/commands.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static CLI::App* root = [] {
    auto* app = new CLI::App("fuzz");
    CLI::App* train = app->add_subcommand("train");
    static double lr = 0;
    train->add_option("--lr", lr);
    app->parse(std::vector<std::string>{"train"});
    return app;
  }();
  static const std::shared_ptr<CLI::Config> config = oodflow::cli::make_json_config(root);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto items = config->from_config(in);
    (void)items;
  } catch (const CLI::ConfigError&) {
  }
  return 0;
}
