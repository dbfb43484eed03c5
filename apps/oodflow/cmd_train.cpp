#include "commands.h"
#include "oodflow/detect/detector.h"
#include "oodflow/flow/flow_config.h"
#include "oodflow/pipeline/train_command.h"

namespace oodflow::cli {

void setup_train(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::TrainOptions>();
  CLI::App* sub = app.add_subcommand(
      "train",
      "Fit a normalizing flow to in-distribution training features (one epoch by default) and "
      "write the flow file. Defaults reproduce the paper's recipe (configs/glow.json). The same "
      "as `oodflow fit --detector glow|realnvp`: same options, same file.");
  sub->fallthrough();  // --config belongs to the root app
  sub->footer(kConfigFooter);

  sub->add_option("--features,-f", opts->features,
                  "ID training features: .safetensors feature file or .npy [N, D] matrix")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--out,-o", opts->out, "Flow file to write (.safetensors)")->required();
  sub->add_option("--arch", opts->arch,
                  "Flow architecture: glow = K x [ActNorm, LU linear, affine coupling]; "
                  "realnvp = K x [affine coupling, ActNorm]")
      ->check(CLI::IsMember(flow::flow_arch_names()))
      ->capture_default_str();
  add_flow_options(sub, opts->flow);
  sub->add_option("--val-fraction", opts->val_fraction, kValFractionHelp)->capture_default_str();
  sub->add_option("--seed", opts->seed, "Seed of initialisation, shuffling and the held-out split")
      ->capture_default_str();
  add_compute_options(sub, opts->threads, opts->flow.train.device);
  sub->callback([opts, &status] {
    status.run = [opts] {
      pipeline::run_train(*opts);
      return 0;
    };
  });
}

}  // namespace oodflow::cli
