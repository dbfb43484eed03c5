#include "commands.h"
#include "oodflow/pipeline/merge_command.h"

namespace oodflow::cli {

void setup_merge(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::MergeOptions>();
  CLI::App* sub = app.add_subcommand(
      "merge",
      "Join feature files into one: the shards of `extract --shard I/N` (checked to be one "
      "complete set of one extraction, joined in shard order: the result equals the unsharded "
      "extraction), or any feature files of one dimension, concatenated in the order given.");
  sub->fallthrough();
  sub->add_option("inputs", opts->inputs, "Feature files to join")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--out,-o", opts->out, "Feature file to write (.safetensors)")->required();
  sub->callback([opts, &status] {
    status.run = [opts] {
      pipeline::run_merge(*opts);
      return 0;
    };
  });
}

}  // namespace oodflow::cli
