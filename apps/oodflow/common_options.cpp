#include "commands.h"

#include <spdlog/spdlog.h>

#include "oodflow/core/normalizer.h"

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

void add_flow_options(CLI::App* sub, const FlowOptionRefs& f) {
  const std::string group = "Flow (glow, realnvp)";
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
  sub->add_option("--epochs", f.epochs,
                  "Passes over the data; more than one overfits and hurts OOD separation")
      ->capture_default_str()
      ->group(group);
  sub->add_option("--lr", f.lr, "Adam learning rate")->capture_default_str()->group(group);
  sub->add_option("--batch-size,-b", f.batch_size, "Mini-batch size")
      ->capture_default_str()
      ->group(group);
  sub->add_option("--normalize", f.normalize,
                  "Feature preprocessing: l2 (reference), standardize (per-dimension, fitted on "
                  "these features) or none")
      ->check(CLI::IsMember(normalization_names()))
      ->capture_default_str()
      ->group(group);
  sub->add_flag("--skip-nonfinite", f.skip_nonfinite,
                "Skip (and count) batches whose loss is NaN/inf instead of stopping with an error")
      ->group(group);
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
