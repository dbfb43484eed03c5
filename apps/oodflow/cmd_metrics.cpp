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
  sub->add_option("--out,-o", opts->out,
                  "Write the JSON report here (report_format_version 2); - for stdout instead "
                  "of the table");
  sub->add_option("--junit", opts->junit,
                  "Write the gates as JUnit XML here, for CI test reporters (GitLab, Jenkins, "
                  "GitHub): a test case per OOD set and --fail-under gate, failing when the "
                  "gate trips (without gates, one passing case per set with its metrics); - for "
                  "stdout instead of the table");
  sub->add_option("--markdown", opts->markdown,
                  "Write the AUROC% / FPR@95TPR% table as GitHub-flavoured Markdown here, with "
                  "the failed gates (for $GITHUB_STEP_SUMMARY or a pull-request comment); - for "
                  "stdout instead of the table");
  sub->add_option("--fail-under", opts->fail_under,
                  "CI gate, e.g. auroc=0.9,fpr95=0.3: exit 3 when any OOD set misses it");
  sub->callback([opts, &status] { status.run = [opts] { return pipeline::run_metrics(*opts); }; });
}

}  // namespace oodflow::cli
