#include "commands.h"
#include "oodflow/extract/aux_scores.h"
#include "oodflow/extract/image_source.h"
#include "oodflow/pipeline/extract_command.h"

namespace oodflow::cli {

void setup_extract(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::ExtractOptions>();
  CLI::App* sub = app.add_subcommand(
      "extract",
      "Run a TorchScript backbone over images and write their penultimate-layer features (and "
      "logits, labels and source paths) as a feature file for train and score. Preprocessing "
      "presets: --config configs/extract_imagenet.json (torchvision eval transforms) or "
      "configs/extract_grey28.json (28x28 grey, e.g. Fashion-MNIST).");
  sub->fallthrough();  // --config belongs to the root app
  sub->footer(std::string(kConfigFooter) +
              "\nSharding: N processes with --shard 0/N .. N-1/N each extract one contiguous "
              "slice; `oodflow merge` joins them into the unsharded file.");

  sub->add_option("--backbone", opts->model,
                  "TorchScript backbone (scripts/export_backbone.py exports torchvision models)")
      ->check(CLI::ExistingFile);
  add_deprecated_alias(sub, "--model,-m", "--backbone", opts->model, true);
  sub->add_option(
         "--data,-d", opts->data,
         "Images: a folder (class sub-folders give labels, sorted as torchvision's "
         "ImageFolder), a list file of 'path[,label]' or 'path label' lines (OpenOOD's image "
         "lists), an IDX file (.gz too) or a "
         ".npy array [N,H,W(,C)] of uint8 (0..255) or float (0..1)")
      ->required()
      ->check(CLI::ExistingPath);
  sub->add_option("--out,-o", opts->out, "Feature file to write (.safetensors)")->required();
  sub->add_option("--source-format", opts->format,
                  "Source format; auto = from the path and content")
      ->check(CLI::IsMember(extract::source_format_names()))
      ->capture_default_str();
  add_deprecated_alias(sub, "--format", "--source-format", opts->format);
  sub->add_option("--labels", opts->labels,
                  "Labels of an IDX or .npy source: IDX labels file or integer .npy vector "
                  "(IDX default: the sibling *-labels-idx1-ubyte[.gz] file when present)")
      ->check(CLI::ExistingFile);
  sub->add_option("--root", opts->root,
                  "Folder that the relative paths of a list file are relative to (OpenOOD's data "
                  "root; default: the list file's folder)")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--method", opts->method, "Backbone method to call, e.g. forward_features")
      ->capture_default_str();
  sub->add_option("--features-key", opts->features_key,
                  "Output holding the features: dict key or tuple position (default: 'features' "
                  "or position 0; a plain tensor output is the features)");
  sub->add_option("--logits-key", opts->logits_key,
                  "Output holding the logits: dict key or tuple position (default: 'logits' or "
                  "position 1 when present); 'none' = do not store logits");
  extract::Preprocessing& p = opts->preprocessing;
  sub->add_option("--resize", p.resize,
                  "Resize the shorter side to this many pixels (antialiased bilinear, as "
                  "torchvision's Resize); 0 = keep")
      ->capture_default_str();
  sub->add_option("--crop", p.crop, "Centre crop of this many pixels square; 0 = none")
      ->capture_default_str();
  sub->add_option(
         "--channels", p.channels,
         "Input channels of the backbone: 3 (grey images replicated) or 1 (colour to grey)")
      ->capture_default_str();
  sub->add_option("--mean", p.mean, "Per-channel mean on the [0,1] scale, e.g. 0.485,0.456,0.406")
      ->delimiter(',');
  sub->add_option("--std", p.std, "Per-channel std on the [0,1] scale, e.g. 0.229,0.224,0.225")
      ->delimiter(',');
  sub->add_option("--batch-size,-b", opts->batch_size, "Images per backbone call")
      ->capture_default_str();
  sub->add_option("--workers,-j", opts->workers,
                  "Threads decoding and preprocessing images ahead of the backbone; 0 = none")
      ->capture_default_str();
  add_compute_options(sub, opts->threads, opts->device,
                      "all cores for LibTorch (the backbone's convolutions) and OpenBLAS");
  sub->add_option("--shard", opts->shard,
                  "I/N: extract only the I-th (0-based) of N contiguous slices of the source");
  sub->add_flag("--strict", opts->strict,
                "Stop at the first unreadable image (default: skip it with a warning and list it "
                "in the file's metadata)");
  // One option per extraction-time score (extract/aux_scores.h); a bare flag takes its
  // defaults.
  auto aux_text = std::make_shared<std::map<std::string, std::string>>();
  std::vector<std::pair<const extract::AuxScoreKind*, CLI::Option*>> aux_options;
  for (const extract::AuxScoreKind& kind : extract::aux_score_kinds()) {
    CLI::Option* option = sub->add_option(kind.flag, (*aux_text)[kind.name], kind.help)
                              ->expected(0, 1)
                              ->type_name(kind.type_name);
    aux_options.emplace_back(&kind, option);
  }
  sub->callback([opts, aux_text, aux_options, &status] {
    for (const auto& [kind, option] : aux_options) {
      if (option->count() == 0) continue;
      const std::string& text = aux_text->at(kind->name);
      opts->aux_scores[kind->name] = text.empty() ? kind->defaults : text;
    }
    status.run = [opts] {
      pipeline::run_extract(*opts);
      return 0;
    };
  });
}

}  // namespace oodflow::cli
