// The method: a normalizing flow (Glow, Kingma & Dhariwal, NeurIPS 2018; RealNVP, Dinh et
// al., ICLR 2017) fitted by maximum likelihood to the ID training features; the score is its
// log-density log p(x) in nats. Behind the same Detector interface as the baselines, so that
// fit, score, detect and calibration treat it like any other model. Its file keeps the flow
// format (flow/flow_file.h), which `oodflow train` has always written.
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/core/threads.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/flow/scorer.h"
#include "oodflow/flow/trainer.h"

namespace oodflow::detect {
namespace {

// Per-dimension statistics of the training rows for --normalize standardize, in one
// streaming pass that also rejects non-finite features before any training starts.
Normalizer fit_standardization(const io::FeatureFile& data, const std::vector<std::int64_t>& rows) {
  MomentAccumulator moments(data.dim());
  const Normalizer check_only(Normalization::kNone);
  const auto n = static_cast<std::int64_t>(rows.size());
  std::vector<float> chunk(static_cast<std::size_t>(kStreamChunkRows * data.dim()));
  for (std::int64_t begin = 0; begin < n; begin += kStreamChunkRows) {
    const std::int64_t count = std::min(kStreamChunkRows, n - begin);
    data.gather_rows(rows.data() + begin, count, chunk.data());
    check_only.apply(chunk.data(), count, data.dim(), data.path(), 0, rows.data() + begin);
    moments.add(chunk.data(), count);
  }
  return moments.finish();
}

// "out/flow.safetensors" -> "out/flow": snapshots are "out/flow.step100.safetensors".
std::string snapshot_stem(const std::string& out) {
  const std::string suffix = ".safetensors";
  const bool has_suffix = out.size() > suffix.size() &&
                          out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0;
  return has_suffix ? out.substr(0, out.size() - suffix.size()) : out;
}

class FlowDetector : public Detector {
 public:
  FlowDetector(std::string arch, FlowOptions options)
      : arch_(std::move(arch)), options_(std::move(options)) {}

  // A flow read from its file, on `device`.
  FlowDetector(flow::LoadedFlow loaded, const std::string& device)
      : arch_(loaded.flow->config().arch),
        flow_(std::move(loaded.flow)),
        normalizer_(loaded.normalizer),
        parameters_sha256_(std::move(loaded.parameters_sha256)) {
    options_.train.device = device;
    flow_->to(torch::Device(device));
  }

  std::string name() const override { return arch_; }
  std::string label() const override { return "flow (" + arch_ + ")"; }
  std::string score_name() const override { return "log p(x) of the flow (nats)"; }
  std::string describe() const override {
    const flow::FlowConfig& c = config();
    nlohmann::json record = {{"kind", "flow"},
                             {"name", c.arch},
                             {"arch", c.arch},
                             {"blocks", c.blocks},
                             {"dim", c.dim},
                             {"hidden", c.hidden},
                             {"scale_clamp", c.scale_clamp},
                             {"normalize", normalization_name(normalizer_.kind())},
                             {"score", "log p(x) in nats"}};
    if (c.base != "normal") {
      record["base"] = c.base;
      record["classes"] = c.classes;
      record["class_score"] = c.class_score;
      if (c.class_score == "max") record["score"] = "max over classes of log p(x | c) in nats";
    }
    if (!parameters_sha256_.empty()) record["parameters_sha256"] = parameters_sha256_;
    return record.dump();
  }
  // Training reads shuffled mini-batches from the memory-mapped file, epoch after epoch.
  Needs needs() const override {
    Needs n;
    n.streamed_fit = true;
    n.varying_features = true;
    n.labels = options_.base == "class";
    return n;
  }

  void fit(const io::FeatureFile& train, const std::vector<std::int64_t>& rows,
           const FitContext& context) override {
    const Normalization normalization = parse_normalization(options_.normalize);
    normalizer_ = normalization == Normalization::kStandardize ? fit_standardization(train, rows)
                                                               : Normalizer(normalization);
    flow::FlowConfig config;
    config.arch = arch_;
    config.dim = train.dim();
    config.blocks = options_.blocks > 0 ? options_.blocks : flow::default_blocks(arch_);
    config.hidden = options_.hidden > 0 ? options_.hidden : train.dim();
    config.scale_clamp = options_.scale_clamp;
    config.base = options_.base;
    config.class_score = options_.class_score;
    flow::ClassIndex classes;
    if (config.base == "class") {
      classes = flow::index_classes(train, rows, "--base class");
      config.classes = static_cast<std::int64_t>(classes.values.size());
    }

    flow::TrainSettings settings = options_.train;
    settings.seed = context.seed;
    flow::SnapshotFn snapshot;
    if (!settings.snapshot_steps.empty()) {
      snapshot = [this, stem = snapshot_stem(context.out)](std::int64_t step) {
        const std::string path = stem + ".step" + std::to_string(step) + ".safetensors";
        flow::save_flow(path, *flow_, normalizer_, {{"snapshot_step", std::to_string(step)}});
        spdlog::debug("wrote snapshot '{}'", path);
      };
    }

    torch::manual_seed(context.seed);
    flow_ = std::make_shared<flow::Flow>(config);
    flow_->to(torch::Device(options_.train.device));
    std::int64_t parameters = 0;
    for (const auto& p : flow_->parameters()) parameters += p.numel();
    spdlog::info("{}: {} flow, {} blocks, hidden {}, {} parameters, {} thread(s), device {}",
                 context.command, config.arch, config.blocks, config.hidden, parameters,
                 torch_threads(), options_.train.device);
    if (config.base == "class" || settings.init != "data") {
      spdlog::info("{}: base {} ({} classes, score {}), init {}", context.command, config.base,
                   config.classes, config.class_score, settings.init);
    }
    summary_ = flow::train_flow(*flow_, train, normalizer_, settings, &rows,
                                config.base == "class" ? &classes.of_row : nullptr, snapshot);
    if (!summary_.heldout_nll.empty()) {
      spdlog::info(
          "{}: held-out NLL {:.4f} after {} steps ({} rows held out){}", context.command,
          summary_.heldout_nll.back().second, summary_.heldout_nll.back().first, summary_.eval_rows,
          summary_.stopped_early ? fmt::format("; stopped early, kept step {}", summary_.best_step)
                                 : std::string());
    }
    spdlog::info("{}: {} steps, mean NLL {:.4f}, last NLL {:.4f}, {:.0f} samples/s",
                 context.command, summary_.steps, summary_.mean_nll, summary_.last_nll,
                 summary_.samples_per_second);
    if (summary_.skipped_batches > 0) {
      spdlog::warn("{}: skipped {} batches with a non-finite loss", context.command,
                   summary_.skipped_batches);
    }
  }

  std::string fit_summary() const override { return flow::to_json_text(summary_); }
  std::string training_settings() const override {
    return nlohmann::json{{"lr", options_.train.lr},
                          {"batch_size", options_.train.batch_size},
                          {"epochs", options_.train.epochs},
                          {"skip_nonfinite", options_.train.skip_nonfinite},
                          {"optimizer", "adam"},
                          {"steps", options_.train.steps},
                          {"warmup", options_.train.warmup},
                          {"schedule", options_.train.schedule},
                          {"init", options_.train.init},
                          {"noise", options_.train.noise},
                          {"eval_fraction", options_.train.eval_fraction},
                          {"eval_every", options_.train.eval_every},
                          {"early_stopping", options_.train.early_stopping}}
        .dump();
  }

  std::vector<double> score(const FeatureSet& data) const override {
    require_dim(data, config().dim, label());
    std::vector<float> rows(data.features);  // normalised in place
    return flow::score_rows(*flow_, normalizer_, rows.data(), data.rows, options_.train.device,
                            data.source, data.first);
  }

  std::int64_t feature_dim() const override { return config().dim; }

  void save(const std::string& path, const std::map<std::string, std::string>& metadata,
            const metrics::Calibration* calibration) const override {
    std::map<std::string, std::string> records = metadata;
    if (summary_.steps > 0 || summary_.samples > 0) records["summary"] = fit_summary();
    flow::save_flow(path, *flow_, normalizer_, records, calibration);
  }

 private:
  const flow::FlowConfig& config() const {
    OODFLOW_CHECK(flow_ != nullptr, "internal: the " << arch_ << " flow is not fitted");
    return flow_->config();
  }

  std::string arch_;
  FlowOptions options_;
  std::shared_ptr<flow::Flow> flow_;
  Normalizer normalizer_;
  std::string parameters_sha256_;
  flow::TrainSummary summary_;
};

}  // namespace

std::unique_ptr<Detector> make_flow_detector(const std::string& arch,
                                             const DetectorOptions& options) {
  return std::make_unique<FlowDetector>(arch, options.flow);
}

std::unique_ptr<Detector> load_flow_detector(const std::string& path, const std::string& device) {
  return std::make_unique<FlowDetector>(flow::load_flow(path), device);
}

}  // namespace oodflow::detect
