#include "commands.h"
#include "oodflow/pipeline/synth_command.h"

namespace oodflow::cli {

void setup_synth(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::SynthOptions>();
  CLI::App* sub = app.add_subcommand(
      "synth",
      "Write a synthetic benchmark to try oodflow without data: Gaussian-mixture ID features "
      "(id_train, id_test) and OOD sets with shifted means (ood_shift<S>), as .safetensors.");
  sub->fallthrough();  // --quiet, --verbose and --config belong to the root app
  sub->add_option("--out-dir,-o", opts->out_dir, "Folder for the feature files")->required();
  sub->add_option("--dim", opts->dim, "Feature dimension")->capture_default_str();
  sub->add_option("--components", opts->components, "Mixture components")->capture_default_str();
  sub->add_option("--train", opts->train, "ID training samples")->capture_default_str();
  sub->add_option("--test", opts->test, "ID test samples, and samples per OOD set")
      ->capture_default_str();
  sub->add_option("--shifts", opts->shifts, "Comma-separated mean shifts, one OOD set each")
      ->capture_default_str();
  sub->add_option("--seed", opts->seed, "Seed of the mixture and the samples")
      ->capture_default_str();
  sub->callback([opts, &status] {
    status.run = [opts] {
      pipeline::run_synth(*opts);
      return 0;
    };
  });
}

}  // namespace oodflow::cli
