#include "commands.h"
#include "oodflow/pipeline/inspect_command.h"

namespace oodflow::cli {

void setup_inspect(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::InspectOptions>();
  CLI::App* sub = app.add_subcommand(
      "inspect",
      "What to know about a feature file before trusting a detector on it: size, dtype and "
      "provenance; zero, NaN and inf values; norms; the effective rank (eigenvalues of the "
      "covariance holding 99% of the variance); class counts; and, on the L2-normalised rows, "
      "the uniformity log E[exp(-2 ||u - v||^2)] over pairs (0 = all rows alike, -4 = "
      "orthogonal, -8 = antipodal) and the tolerance, the mean cosine of same-class pairs "
      "(needs labels). Rows of norm zero or with a NaN/inf value are left out of these figures "
      "and counted. The tolerance is always exact (O(N D)); the uniformity is exact over all "
      "pairs up to --exact-limit rows (N^2 D flops, in blocks of --block-size rows), else "
      "estimated from random pairs with its standard error.");
  sub->fallthrough();  // --config belongs to the root app
  sub->footer(kConfigFooter);
  inspect::InspectSettings& s = opts->settings;
  sub->add_option("features", opts->features, "Feature file (.safetensors or .npy)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--labels-from", opts->labels_from,
                  "Labels for the tolerance, one per row: a feature file with labels, an integer "
                  ".npy vector or an IDX labels file (replaces the file's own labels)")
      ->check(CLI::ExistingFile);
  sub->add_flag("--json", opts->json, "Print JSON on stdout instead of the table");
  sub->add_option("--out,-o", opts->out, "Also write the JSON to this file");
  sub->add_option("--pairs", s.pairs,
                  "Estimate the uniformity from this many random pairs (seeded by --seed); 0 = "
                  "exact up to --exact-limit usable rows, " +
                      std::to_string(s.default_pairs) + " random pairs above")
      ->capture_default_str();
  sub->add_option("--exact-limit", s.exact_limit,
                  "Most usable rows for which --pairs 0 computes the uniformity over all pairs")
      ->capture_default_str();
  sub->add_option("--seed", s.seed, "Seed of the random pairs")->capture_default_str();
  sub->add_option("--block-size", s.block_size,
                  "Rows per block of every pass and of the exact pair loop (bounds memory to about "
                  "block x (3 D + block) floats)")
      ->capture_default_str();
  sub->add_option("--threads", opts->threads,
                  "Threads of the matrix products; 0 = automatic (" + kAutomaticFlowThreads + ")")
      ->capture_default_str();
  sub->callback([opts, &status] { status.run = [opts] { return pipeline::run_inspect(*opts); }; });
}

}  // namespace oodflow::cli
