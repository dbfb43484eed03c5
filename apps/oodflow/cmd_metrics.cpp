#include "commands.h"
#include "oodflow/pipeline/metrics_command.h"

namespace oodflow::cli {

void setup_metrics(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::MetricsOptions>();
  CLI::App* sub = app.add_subcommand(
      "metrics",
      "AUROC, FPR@95TPR, AUPR-In/Out from precomputed scores of any detector (higher = more "
      "in-distribution), with the same table, JSON report and gates as `score`.");
  sub->fallthrough();  // --config belongs to the root app
  sub->footer(kConfigFooter);

  sub->add_option("--id", opts->id,
                  "ID scores: .npy vector, or CSV (column --column; a `set` column selects the "
                  "rows of set 'id', as in `oodflow score --scores` output)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--ood", opts->ood,
                  "OOD scores as NAME=FILE (repeatable); in a CSV with a `set` column the rows "
                  "of set NAME are read")
      ->required()
      ->take_all();
  sub->add_option("--column", opts->column, "CSV column holding the scores")->capture_default_str();
  add_report_options(sub, {opts->out, opts->junit, opts->markdown, opts->fail_under});
  sub->callback([opts, &status] { status.run = [opts] { return pipeline::run_metrics(*opts); }; });
}

}  // namespace oodflow::cli
