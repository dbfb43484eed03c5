#include "commands.h"
#include "oodflow/pipeline/score_command.h"

namespace oodflow::cli {

void setup_score(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::ScoreOptions>();
  CLI::App* sub = app.add_subcommand(
      "score",
      "Score ID test and OOD features with one or more models from `oodflow fit` or `train` (a "
      "flow's score is its log-density in nats; every score is higher = more in-distribution), "
      "and report AUROC, FPR@95TPR, AUPR-In/Out per OOD set.");
  sub->fallthrough();  // --config belongs to the root app
  sub->footer(kConfigFooter);

  sub->add_option("--model,-m", opts->models,
                  "Model file (repeatable): a flow or a baseline from `oodflow fit` or `oodflow "
                  "train`; with several, one comparison table and report")
      ->check(CLI::ExistingFile)
      ->take_all();
  // Old spellings, added after --model's files; `--flow F --detector D` keeps F first.
  add_deprecated_alias(sub, "--flow", "--model", opts->models, true);
  add_deprecated_alias(sub, "--detector", "--model", opts->models, true);
  sub->add_option("--id", opts->id, "ID test features (.safetensors or .npy [N, D])")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--ood", opts->ood,
                  "OOD features as NAME=FILE (repeatable); a bare FILE is named after the file")
      ->take_all();
  sub->add_option("--scores", opts->scores,
                  "Write per-sample scores here as CSV: set,index,source,score (one score "
                  "column per detector, named by its label, with several)");
  sub->add_option("--html", opts->html,
                  "Write a self-contained HTML report here: metrics table, ROC curves of every "
                  "detector and ID-vs-OOD score histograms per OOD set (no network needed)");
  sub->add_option("--svg", opts->svg_dir,
                  "Write the same plots as standalone SVG files into this folder (for papers)");
  add_report_options(sub, {opts->out, opts->junit, opts->markdown, opts->fail_under});
  sub->add_option("--batch-size,-b", opts->batch_size, "Rows per forward pass")
      ->capture_default_str();
  add_compute_options(sub, opts->threads, opts->device);
  sub->callback([opts, &status] { status.run = [opts] { return pipeline::run_score(*opts); }; });
}

}  // namespace oodflow::cli
