#include "commands.h"
#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow_config.h"
#include "oodflow/pipeline/train_command.h"

namespace oodflow::cli {

void setup_train(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::TrainOptions>();
  CLI::App* sub = app.add_subcommand(
      "train",
      "Fit a normalizing flow to in-distribution training features (one epoch by default) and "
      "write the flow file. Defaults reproduce the paper's recipe (configs/glow.json).");
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
  sub->add_option("--blocks,-K", opts->blocks, "Number of blocks K; 0 = glow 10, realnvp 4")
      ->capture_default_str();
  sub->add_option("--hidden", opts->hidden,
                  "Hidden width of the coupling MLPs; 0 = the feature dimension (reference)")
      ->capture_default_str();
  sub->add_option("--scale-clamp", opts->scale_clamp,
                  "Soft clamp c of the coupling log-scale, s -> c*tanh(s/c); 0 = off (reference)")
      ->capture_default_str();
  sub->add_option("--epochs", opts->epochs,
                  "Passes over the data; more than one overfits and hurts OOD separation")
      ->capture_default_str();
  sub->add_option("--lr", opts->lr, "Adam learning rate")->capture_default_str();
  sub->add_option("--batch-size,-b", opts->batch_size, "Mini-batch size")->capture_default_str();
  sub->add_option("--normalize", opts->normalize,
                  "Feature preprocessing: l2 (reference), standardize (per-dimension, fitted on "
                  "these features) or none")
      ->check(CLI::IsMember(normalization_names()))
      ->capture_default_str();
  sub->add_option("--val-fraction", opts->val_fraction, kValFractionHelp)->capture_default_str();
  sub->add_option("--seed", opts->seed, "Seed of initialisation, shuffling and the held-out split")
      ->capture_default_str();
  add_compute_options(sub, opts->threads, opts->device);
  sub->add_flag("--skip-nonfinite", opts->skip_nonfinite,
                "Skip (and count) batches whose loss is NaN/inf instead of stopping with an error");
  sub->callback([opts, &status] {
    status.run = [opts] {
      pipeline::run_train(*opts);
      return 0;
    };
  });
}

}  // namespace oodflow::cli
