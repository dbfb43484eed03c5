#include "commands.h"

#include <spdlog/spdlog.h>

#include "oodflow/core/normalizer.h"
#include "oodflow/detect/detector.h"
#include "oodflow/flow/flow_config.h"

#include <type_traits>

namespace oodflow::cli {

void add_compute_options(CLI::App* sub, int& threads, std::string& device,
                         const std::string& automatic_threads) {
  sub->add_option(
         "--threads", threads,
         "Compute threads for LibTorch and OpenBLAS. 0 = automatic, the fastest measured: " +
             automatic_threads + " (see docs/threads.md)")
      ->capture_default_str();
  sub->add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
}

}  // namespace oodflow::cli

namespace oodflow::cli {

void add_flow_options(CLI::App* sub, detect::FlowOptions& f, std::string* also_normalize) {
  const std::string group = "Flow (glow, realnvp)";
  const std::string recipe = "Flow recipe (beyond the paper; docs/method.md)";
  flow::TrainSettings& t = f.train;
  sub->add_option("--blocks,-K", f.blocks, "Number of blocks K; 0 = glow 10, realnvp 4")
      ->capture_default_str()
      ->group(group);
  sub->add_option("--hidden", f.hidden,
                  "Hidden width of the coupling MLPs; 0 = the feature dimension (reference)")
      ->capture_default_str()
      ->group(group);
  sub->add_option("--scale-clamp", f.scale_clamp,
                  "Soft clamp c of the coupling log-scale, s -> c*tanh(s/c); 0 = off (reference)")
      ->capture_default_str()
      ->group(group);
  sub->add_option("--epochs", t.epochs, "Passes over the data (the paper: 1); see --steps")
      ->capture_default_str()
      ->group(group);
  sub->add_option("--lr", t.lr, "Adam learning rate")->capture_default_str()->group(group);
  sub->add_option("--batch-size,-b", t.batch_size, "Mini-batch size")
      ->capture_default_str()
      ->group(group);
  std::string normalize_help =
      "Feature preprocessing: l2 (reference), standardize (per-dimension, fitted on these "
      "features) or none";
  if (also_normalize != nullptr) {
    normalize_help += "; gaussian and mahalanobis use it too (their default: none)";
  }
  sub->add_option_function<std::string>(
         "--normalize",
         [&f, also_normalize](const std::string& value) {
           f.normalize = value;
           if (also_normalize != nullptr) *also_normalize = value;
         },
         normalize_help)
      ->check(CLI::IsMember(normalization_names()))
      ->default_str(f.normalize)
      ->group(group);
  sub->add_flag("--skip-nonfinite", t.skip_nonfinite,
                "Skip (and count) batches whose loss is NaN/inf instead of stopping with an error")
      ->group(group);

  sub->add_option("--init", t.init,
                  "data: ActNorm's data-dependent initialisation (paper); gaussian: start as the "
                  "closed-form Gaussian fit of the preprocessed features (glow only)")
      ->check(CLI::IsMember(flow::init_names()))
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--base", f.base,
                  "Latent base: normal = N(0, I) (paper); class = one N(m_c, I) per ID class, "
                  "trained on labels (needs labels; with --init gaussian, step 0 is Mahalanobis)")
      ->check(CLI::IsMember(flow::flow_base_names()))
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--class-score", f.class_score,
                  "Score of a class base: marginal = log sum_c pi_c p(x|c); max = max_c log p(x|c)")
      ->check(CLI::IsMember(flow::class_score_names()))
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--steps", t.steps,
                  "Optimiser steps, whatever the data set's size; 0 = --epochs passes")
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--warmup", t.warmup, "Steps of linear learning-rate warm-up")
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--schedule", t.schedule,
                  "Learning rate after the warm-up: constant (paper) or cosine (decays to 0)")
      ->check(CLI::IsMember(flow::schedule_names()))
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--noise", t.noise,
                  "Std of Gaussian noise added to the normalised training features; 0 = off")
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--eval-fraction", t.eval_fraction,
                  "Share of the training rows held out to measure the NLL during training "
                  "(recorded in the model file); 0 = none")
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--eval-every", t.eval_every, "Steps between held-out NLL measurements")
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--early-stopping", t.early_stopping,
                  "Stop after this many measurements without a lower held-out NLL and keep the "
                  "best flow; 0 = off (needs --eval-fraction)")
      ->capture_default_str()
      ->group(recipe);
  sub->add_option("--snapshot-steps", t.snapshot_steps,
                  "Also write the flow after these steps (0 = at initialisation) as "
                  "OUT.step<N>.safetensors, for training-budget studies")
      ->delimiter(',')
      ->group(recipe);
}

namespace {

template <typename T>
void add_alias(CLI::App* sub, const std::string& old_name, const std::string& new_name, T& target,
               bool existing_file) {
  CLI::Option* option = sub->add_option_function<T>(
      old_name,
      [&target, shown = old_name.substr(0, old_name.find(',')), new_name,
       existing_file](const T& value) {
        // Checked here: CLI11's check on a hidden option reports an empty option name.
        if (existing_file) {
          std::vector<std::string> paths;
          if constexpr (std::is_same_v<T, std::string>) {
            paths = {value};
          } else {
            paths = value;
          }
          for (const std::string& path : paths) {
            const std::string problem = CLI::ExistingFile(path);
            if (!problem.empty()) throw CLI::ValidationError(shown, problem);
          }
        }
        parse_warnings().push_back(
            shown + " is deprecated and will be removed in the next release: use " + new_name);
        if constexpr (std::is_same_v<T, std::string>) {
          target = value;
        } else {
          target.insert(target.end(), value.begin(), value.end());
        }
      },
      "Old spelling of " + new_name);
  option->group("");  // hidden from --help
  if constexpr (!std::is_same_v<T, std::string>) option->take_all();
}

}  // namespace

void add_report_options(CLI::App* sub, const ReportOptionRefs& r) {
  sub->add_option("--out,-o", r.out,
                  "Write the JSON report here (report_format_version 2); - for stdout instead "
                  "of the table");
  sub->add_option("--junit", r.junit,
                  "Write the gates as JUnit XML here, for CI test reporters (GitLab, Jenkins, "
                  "GitHub): a test case per model, OOD set and --fail-under gate, failing "
                  "when the gate trips (without gates, one passing case per set with its "
                  "metrics); - for stdout instead of the table");
  sub->add_option("--markdown", r.markdown,
                  "Write the AUROC% / FPR@95TPR% table as GitHub-flavoured Markdown here, with "
                  "the failed gates (for $GITHUB_STEP_SUMMARY or a pull-request comment); - for "
                  "stdout instead of the table");
  sub->add_option("--fail-under", r.fail_under,
                  "CI gate, e.g. auroc=0.9,fpr95=0.3: exit 3 when any OOD set has a lower auroc "
                  "/ aupr_in / aupr_out, or a higher fpr95, than given");
}

std::vector<std::string>& parse_warnings() {
  static std::vector<std::string> warnings;
  return warnings;
}

void add_deprecated_alias(CLI::App* sub, const std::string& old_name, const std::string& new_name,
                          std::string& target, bool existing_file) {
  add_alias(sub, old_name, new_name, target, existing_file);
}

void add_deprecated_alias(CLI::App* sub, const std::string& old_name, const std::string& new_name,
                          std::vector<std::string>& target, bool existing_file) {
  add_alias(sub, old_name, new_name, target, existing_file);
}

}  // namespace oodflow::cli
