#include "commands.h"
#include "oodflow/core/defaults.h"
#include "oodflow/extract/image_source.h"
#include "oodflow/io/verdict_file.h"
#include "oodflow/pipeline/detect_command.h"

namespace oodflow::cli {

void setup_detect(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::DetectOptions>();
  CLI::App* sub = app.add_subcommand(
      "detect",
      "Judge new samples with a model from train or fit: one verdict per sample (in = accepted "
      "as in-distribution, out = flagged), at the threshold that accepts --tpr of the model's "
      "held-out ID samples, or at --threshold. Samples are a feature file, or images run "
      "through the backbone and preprocessing recorded in the model. Streams: flat memory "
      "whatever the number of samples.");
  sub->fallthrough();  // --config belongs to the root app
  sub->footer(std::string("Exit codes: 0 done, 1 bad input, 2 usage error, 3 a sample was "
                          "flagged and --fail-on-ood is given. ") +
              kConfigFooter);

  sub->add_option("--model,-m", opts->model,
                  "Model file from `oodflow fit` or `oodflow train` (a flow or a baseline)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* features = sub->add_option("--features,-f", opts->features,
                                   "Features to judge (.safetensors or .npy [N, D])")
                       ->check(CLI::ExistingFile);
  auto* images = sub->add_option("--images,-i", opts->images,
                                 "Images to judge: a folder, a list file, an IDX file or a .npy "
                                 "image array (as oodflow extract reads them)")
                     ->check(CLI::ExistingPath);
  features->excludes(images);
  sub->add_option("--source-format", opts->source_format,
                  "Format of --images; auto = from the path and content")
      ->check(CLI::IsMember(extract::source_format_names()))
      ->capture_default_str();
  sub->add_option("--root", opts->root,
                  "Folder that the relative paths of a list file are relative to (default: the "
                  "list file's folder)")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--out,-o", opts->out, "Write the verdicts here (default: stdout)");
  sub->add_option("--format", opts->format,
                  "csv (index,source,score,verdict) or jsonl (one JSON object per line)")
      ->check(CLI::IsMember(io::verdict_format_names()))
      ->capture_default_str();
  sub->add_option("--tpr", opts->tpr,
                  "Share of ID samples to accept: the threshold is the one that accepts this "
                  "share of the model's held-out ID samples")
      ->capture_default_str();
  auto* threshold =
      sub->add_option("--threshold", opts->threshold,
                      "Explicit threshold: score >= threshold is in (takes precedence over --tpr)");
  sub->add_flag("--fail-on-ood", opts->fail_on_ood,
                "Exit 3 when any sample is judged out of distribution, or is an unreadable image "
                "or a row of NaN/inf features (for CI gates)");
  sub->add_option("--backbone", opts->backbone,
                  "Backbone for --images (default: the one recorded in the model; its SHA-256 "
                  "must match the recorded one)")
      ->check(CLI::ExistingFile);
  sub->add_flag("--allow-backbone-mismatch", opts->allow_backbone_mismatch,
                "Accept a backbone whose SHA-256 differs from the one the model's training "
                "features came from");
  sub->add_option("--batch-size,-b", opts->batch_size,
                  "Rows per scoring pass (features) or images per backbone call; 0 = " +
                      std::to_string(kScoreBatchRows) + " / " + std::to_string(kImageBatch))
      ->capture_default_str();
  sub->add_option("--workers,-j", opts->workers, "Image decoding threads; 0 = none")
      ->capture_default_str();
  add_compute_options(sub, opts->threads, opts->device);
  sub->add_flag("--strict", opts->strict,
                "Stop at the first unreadable image (default: verdict 'unreadable' and go on)");
  sub->callback([opts, threshold, &status] {
    opts->has_threshold = threshold->count() > 0;
    status.run = [opts] { return pipeline::run_detect(*opts); };
  });
}

}  // namespace oodflow::cli
