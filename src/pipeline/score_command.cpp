#include "oodflow/pipeline/score_command.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/core/threads.h"
#include "oodflow/detect/detector.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/flow/scorer.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/report.h"
#include "oodflow/pipeline/device.h"
#include "oodflow/pipeline/named_sets.h"
#include "torch_errors.h"

namespace oodflow::pipeline {
namespace {

std::string detector_record(const ScoreOptions& o, const flow::LoadedFlow& loaded) {
  const flow::FlowConfig& c = loaded.flow->config();
  nlohmann::json record = {{"kind", "flow"},
                           {"file", o.flow},
                           {"parameters_sha256", loaded.parameters_sha256},
                           {"arch", c.arch},
                           {"blocks", c.blocks},
                           {"dim", c.dim},
                           {"hidden", c.hidden},
                           {"scale_clamp", c.scale_clamp},
                           {"normalize", normalization_name(loaded.normalizer.kind())},
                           {"score", "log p(x) in nats"}};
  const auto training = loaded.metadata.find("training");
  if (training != loaded.metadata.end()) {
    record["training"] = nlohmann::json::parse(training->second, nullptr, false);
  }
  return record.dump();
}

// One detector of the run: its label in tables, its report record, and how it scores a set.
struct Scorer {
  std::string label;
  std::string record;
  std::int64_t dim = 0;  // the feature dimension it takes; 0 = checked when scoring
  std::function<std::vector<double>(std::size_t input)> score;
};

// The inputs of the run, each read into memory at most once (the baselines score from
// memory; the flow streams batches from the file).
struct Inputs {
  std::vector<std::pair<std::string, io::FeatureFile>> files;
  std::vector<std::unique_ptr<detect::FeatureSet>> loaded;

  const detect::FeatureSet& features(std::size_t i) {
    if (!loaded[i]) {
      loaded[i] = std::make_unique<detect::FeatureSet>(detect::FeatureSet::load(files[i].second));
    }
    return *loaded[i];
  }
};

Scorer flow_scorer(const ScoreOptions& o, Inputs* inputs) {
  auto loaded = std::make_shared<flow::LoadedFlow>(
      with_torch_errors("loading '" + o.flow + "'", [&] { return flow::load_flow(o.flow); }));
  loaded->flow->to(torch::Device(o.device));
  const flow::FlowConfig& c = loaded->flow->config();
  return {"flow (" + c.arch + ")", detector_record(o, *loaded), c.dim,
          [loaded, inputs, &o](std::size_t i) {
            const io::FeatureFile& data = inputs->files[i].second;
            return with_torch_errors("scoring '" + data.path() + "'", [&] {
              return flow::score_features(*loaded->flow, loaded->normalizer, data, o.batch_size,
                                          o.device);
            });
          }};
}

Scorer baseline_scorer(const std::string& path, Inputs* inputs) {
  std::map<std::string, std::string> meta;
  std::shared_ptr<detect::Detector> detector = detect::load_detector(path, &meta);
  nlohmann::json record = {{"kind", "baseline"},
                           {"name", detector->name()},
                           {"file", path},
                           {"settings", nlohmann::json::parse(meta.at("settings"), nullptr, false)},
                           {"score", "higher = more in-distribution"}};
  const auto training = meta.find("training");
  if (training != meta.end()) {
    record["training"] = nlohmann::json::parse(training->second, nullptr, false);
  }
  return {detector->name(), record.dump(), 0,
          [detector, inputs](std::size_t i) { return detector->score(inputs->features(i)); }};
}

// Labels must tell detectors apart in the table and the CSV: a repeated one gets its file.
void disambiguate(std::vector<Scorer>* scorers, const std::vector<std::string>& files) {
  std::vector<std::string> labels;
  for (const auto& s : *scorers) labels.push_back(s.label);
  for (std::size_t i = 0; i < scorers->size(); ++i) {
    if (std::count(labels.begin(), labels.end(), labels[i]) > 1) {
      (*scorers)[i].label += " (" + files[i] + ")";
    }
  }
}

// Several detectors: one evaluation each, one comparison table and report.
int publish_comparison(const std::vector<Scorer>& scorers,
                       const std::vector<std::vector<metrics::ScoredSet>>& scored,
                       const ScoreOptions& o) {
  std::vector<std::string> labels, records;
  std::vector<metrics::Evaluation> evaluations;
  std::vector<metrics::GateCheck> checks;
  const auto gates = metrics::parse_gates(o.fail_under);
  for (std::size_t d = 0; d < scorers.size(); ++d) {
    labels.push_back(scorers[d].label);
    records.push_back(scorers[d].record);
    const std::vector<metrics::ScoredSet> ood(scored[d].begin() + 1, scored[d].end());
    evaluations.push_back(metrics::evaluate(scored[d].front(), ood));
    for (auto check : metrics::check_gates(evaluations.back(), gates)) {
      check.set = scorers[d].label + ": " + check.set;
      checks.push_back(std::move(check));
    }
  }
  if (!o.out.empty()) {
    write_file_atomically(o.out, io::comparison_json(records, evaluations, checks));
  }
  std::fputs(io::comparison_table(labels, evaluations, checks).c_str(), stdout);
  std::fflush(stdout);
  for (const auto& check : checks) {
    if (!check.passed) return kExitGateFailed;
  }
  return 0;
}

}  // namespace

void validate(const ScoreOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.flow.empty() || !o.detectors.empty(),
                  "give --flow (a flow from train) and/or --detector (baselines from fit)");
    OODFLOW_CHECK(!o.id.empty(), "--id is required");
    OODFLOW_CHECK(o.batch_size >= 1, "--batch-size must be >= 1, got " << o.batch_size);
    OODFLOW_CHECK(o.threads >= 0, "--threads must be >= 0 (0 = automatic), got " << o.threads);
    check_device(o.device);
    OODFLOW_CHECK(!o.ood.empty() || !o.scores.empty(),
                  "give at least one --ood NAME=FILE (or --scores to only write scores)");
    parse_named_sets(o.ood);
    metrics::parse_gates(o.fail_under);
  });
}

int run_score(const ScoreOptions& o) {
  validate(o);
  for (const std::string& output : {o.out, o.scores}) {
    if (!output.empty()) check_writable(output);
  }
  set_compute_threads(o.threads);
  Inputs inputs;
  inputs.files.emplace_back("id", io::FeatureFile::open(o.id));
  for (const auto& [name, path] : parse_named_sets(o.ood)) {
    inputs.files.emplace_back(name, io::FeatureFile::open(path));
  }
  inputs.loaded.resize(inputs.files.size());
  std::vector<Scorer> scorers;
  std::vector<std::string> files;
  if (!o.flow.empty()) {
    scorers.push_back(flow_scorer(o, &inputs));
    files.push_back(o.flow);
  }
  for (const auto& path : o.detectors) {
    scorers.push_back(baseline_scorer(path, &inputs));
    files.push_back(path);
  }
  disambiguate(&scorers, files);
  // Every input against the flow's dimension before any scoring, so that a bad last file
  // fails in a second, not after the first sets have been scored.
  for (const auto& scorer : scorers) {
    for (const auto& [name, file] : inputs.files) {
      OODFLOW_CHECK(scorer.dim == 0 || file.dim() == scorer.dim,
                    "'" << file.path() << "' has features of dimension " << file.dim()
                        << " but the flow '" << o.flow << "' was trained on dimension "
                        << scorer.dim);
    }
  }
  std::vector<std::vector<metrics::ScoredSet>> scored(scorers.size());
  for (std::size_t d = 0; d < scorers.size(); ++d) {
    for (std::size_t i = 0; i < inputs.files.size(); ++i) {
      const auto& [name, file] = inputs.files[i];
      scored[d].push_back({name, file.path(), scorers[d].score(i), file.sources()});
    }
  }
  if (scorers.size() > 1) {
    if (!o.scores.empty()) {
      std::vector<std::string> labels;
      for (const auto& s : scorers) labels.push_back(s.label);
      io::write_comparison_scores_csv(o.scores, labels, scored);
    }
    return o.ood.empty() ? 0 : publish_comparison(scorers, scored, o);
  }
  const metrics::ScoredSet& id = scored[0].front();
  const std::vector<metrics::ScoredSet> ood(scored[0].begin() + 1, scored[0].end());
  if (!o.scores.empty()) io::write_scores_csv(o.scores, id, ood);
  if (ood.empty()) return 0;
  return publish_evaluation(id, ood, scorers[0].record, o.out, o.fail_under);
}

}  // namespace oodflow::pipeline
