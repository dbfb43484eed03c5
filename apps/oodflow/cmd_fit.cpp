#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "oodflow/detect/detector.h"
#include "oodflow/pipeline/fit_command.h"

namespace oodflow::cli {
namespace {

// The options only some models read, with those models: fit warns when one is given for
// another model, which ignores it (a typo'd --detector would otherwise pass unnoticed).
// The flow's options are found by their help group.
const std::vector<std::pair<std::string, std::vector<std::string>>>& model_options() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> table = {
      {"--k", {"knn"}},
      {"--block-size", {"knn"}},
      {"--index", {"knn"}},
      {"--nlist", {"knn"}},
      {"--nprobe", {"knn"}},
      {"--temperature", {"energy"}},
      {"--shrinkage", {"gaussian", "mahalanobis"}},
      {"--percentile", {"react"}},
      {"--principal", {"vim"}},
      {"--backbone", {"react", "vim"}},
      {"--head-layer", {"react", "vim"}},
      {"--normalize", {"glow", "realnvp", "gaussian", "mahalanobis"}},
  };
  return table;
}

void warn_ignored_options(const CLI::App& sub, const std::string& model) {
  const std::vector<std::string> flows = {"glow", "realnvp"};
  for (const CLI::Option* option : sub.get_options()) {
    if (option->count() == 0) continue;
    const std::string name = option->get_name();
    std::vector<std::string> readers;
    for (const auto& [option_name, models] : model_options()) {
      if (option_name == name) readers = models;
    }
    if (readers.empty() && option->get_group().rfind("Flow", 0) == 0 && name != "--arch") {
      readers = flows;
    }
    if (readers.empty() || std::find(readers.begin(), readers.end(), model) != readers.end()) {
      continue;
    }
    std::string list;
    for (const std::string& reader : readers) list += (list.empty() ? "" : ", ") + reader;
    parse_warnings().push_back("fit: " + name + " is read by " + list + " only; " + model +
                               " ignores it");
  }
}

}  // namespace

void setup_fit(CLI::App& app, CommandStatus& status) {
  auto opts = std::make_shared<pipeline::FitOptions>();
  CLI::App* sub = app.add_subcommand(
      "fit",
      "Fit an OOD model to ID training features and write its model file, for `oodflow score "
      "--model` and `oodflow detect --model`: glow, realnvp (the normalizing flow, the method; "
      "the same as `oodflow train`), msp, maxlogit, energy (need logits), react, vim (need the "
      "backbone's classifier head), gaussian, mahalanobis (the latter needs labels), knn, odin "
      "(reads the "
      "scores `extract --odin` stored; nothing to fit).");
  sub->fallthrough();  // --config belongs to the root app
  sub->footer(kConfigFooter);
  detect::DetectorOptions& d = opts->options;
  sub->add_option("--detector", opts->detector, "Model name")
      ->required()
      ->check(CLI::IsMember(detect::detector_names()));
  sub->add_option("--features,-f", opts->features,
                  "ID training features: .safetensors feature file or .npy [N, D] matrix")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--out,-o", opts->out, "Model file to write (.safetensors)")->required();
  sub->add_option("--val-fraction", opts->val_fraction, kValFractionHelp)->capture_default_str();
  sub->add_option("--seed", opts->seed,
                  "Seed of the held-out split (and of a flow's initialisation and shuffling)")
      ->capture_default_str();
  sub->add_option("--k", d.k, "knn: the neighbour whose distance is the score")
      ->capture_default_str();
  sub->add_option("--block-size", d.block_size,
                  "knn: training rows per block of the exact search (bounds the part of the "
                  "bank in memory at once)")
      ->capture_default_str();
  sub->add_option("--index", d.knn_index,
                  "knn: flat = exact search (faiss's flat inner-product routine), or ivf = "
                  "faiss's inverted-file index for large banks: a query scans --nprobe of "
                  "--nlist lists; approximate, its recall against the exact search is measured "
                  "on held-out ID rows at fit and recorded in the model file")
      ->capture_default_str()
      ->check(CLI::IsMember({"flat", "ivf"}));
  sub->add_option("--nlist", d.nlist,
                  "knn --index ivf: number of lists (k-means centroids); 0 = 4 sqrt(N), at "
                  "least 39 training rows per list")
      ->capture_default_str();
  sub->add_option("--nprobe", d.nprobe,
                  "knn --index ivf: lists scanned per query (more = higher recall, slower); "
                  "0 = 32 (at most --nlist)")
      ->capture_default_str();
  sub->add_option("--temperature", d.temperature, "energy: temperature T")->capture_default_str();
  sub->add_option("--shrinkage", d.shrinkage,
                  "gaussian, mahalanobis: covariance shrinkage a in (1-a) S + a tr(S)/d I")
      ->capture_default_str();
  sub->add_option("--percentile", d.react_percentile,
                  "react: clip activations at this percentile of the ID training activations")
      ->capture_default_str();
  sub->add_option("--principal", d.vim_principal,
                  "vim: principal subspace dimension; 0 = 1000 for D >= 2048, 512 for D >= 768, "
                  "D/2 otherwise")
      ->capture_default_str();
  sub->add_option("--backbone", opts->head,
                  "react, vim: the TorchScript backbone whose classifier head to use (default: "
                  "the one recorded in the feature file)")
      ->check(CLI::ExistingFile);
  add_deprecated_alias(sub, "--head", "--backbone", opts->head, true);
  sub->add_option("--head-layer", opts->head_param,
                  "react, vim: name of the head's layer in the backbone (e.g. fc, head.fc, "
                  "classifier.1); default: the linear layer that reproduces the stored logits "
                  "from the stored features");
  add_deprecated_alias(sub, "--head-param", "--head-layer", opts->head_param);
  detect::FlowOptions& flow = d.flow;
  add_flow_options(sub, flow, &d.gaussian_normalize);
  sub->add_option("--arch", opts->arch,
                  "glow, realnvp: train's spelling of --detector, so that fit reads train's "
                  "config files (configs/glow.json); must agree with --detector")
      ->group("Flow (glow, realnvp)");
  add_compute_options(sub, opts->threads, flow.train.device);
  sub->callback([opts, sub, &status] {
    warn_ignored_options(*sub, opts->detector);
    status.run = [opts] {
      pipeline::run_fit(*opts);
      return 0;
    };
  });
}

}  // namespace oodflow::cli
