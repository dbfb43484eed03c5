#include "oodflow/pipeline/score_command.h"

#include <torch/torch.h>

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
#include "oodflow/io/safetensors.h"
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

// Opens every input and checks it against the flow before any scoring, so that a bad last
// file fails in a second, not after the first sets have been scored.
std::vector<io::FeatureFile> open_inputs(const std::vector<std::string>& paths,
                                         const flow::FlowConfig& config,
                                         const std::string& flow_path) {
  std::vector<io::FeatureFile> files;
  for (const auto& path : paths) {
    files.push_back(io::FeatureFile::open(path));
    OODFLOW_CHECK(files.back().dim() == config.dim,
                  "'" << path << "' has features of dimension " << files.back().dim()
                      << " but the flow '" << flow_path << "' was trained on dimension "
                      << config.dim);
  }
  return files;
}

metrics::ScoredSet score_set(const std::string& name, const io::FeatureFile& data,
                             flow::LoadedFlow& loaded, const ScoreOptions& o) {
  std::vector<double> scores = with_torch_errors("scoring '" + data.path() + "'", [&] {
    return flow::score_features(*loaded.flow, loaded.normalizer, data, o.batch_size, o.device);
  });
  return {name, data.path(), std::move(scores), data.sources()};
}

// The same evaluation with a baseline detector: every set is read into memory and scored.
int score_with_detector(const ScoreOptions& o) {
  const auto detector = detect::load_detector(o.detector);
  const io::SafetensorsFile file(o.detector);
  const auto& meta = file.view().metadata;
  nlohmann::json record = {{"kind", "baseline"},
                           {"name", detector->name()},
                           {"file", o.detector},
                           {"settings", nlohmann::json::parse(meta.at("settings"), nullptr, false)},
                           {"score", "higher = more in-distribution"}};
  const auto training = meta.find("training");
  if (training != meta.end()) {
    record["training"] = nlohmann::json::parse(training->second, nullptr, false);
  }
  const auto sets = parse_named_sets(o.ood);
  std::vector<std::pair<std::string, io::FeatureFile>> inputs = {
      {"id", io::FeatureFile::open(o.id)}};
  for (const auto& set : sets) inputs.emplace_back(set.first, io::FeatureFile::open(set.second));
  std::vector<metrics::ScoredSet> scored;
  for (const auto& [name, data] : inputs) {
    const detect::FeatureSet features = detect::FeatureSet::load(data);
    scored.push_back({name, data.path(), detector->score(features), data.sources()});
  }
  const metrics::ScoredSet id = scored.front();
  const std::vector<metrics::ScoredSet> ood(scored.begin() + 1, scored.end());
  if (!o.scores.empty()) io::write_scores_csv(o.scores, id, ood);
  if (ood.empty()) return 0;
  return publish_evaluation(id, ood, record.dump(), o.out, o.fail_under);
}

}  // namespace

void validate(const ScoreOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(o.flow.empty() != o.detector.empty(),
                  "give either --flow (a flow from train) or --detector (a baseline from fit)");
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
  if (!o.detector.empty()) return score_with_detector(o);
  flow::LoadedFlow loaded =
      with_torch_errors("loading '" + o.flow + "'", [&] { return flow::load_flow(o.flow); });
  loaded.flow->to(torch::Device(o.device));

  const auto sets = parse_named_sets(o.ood);
  std::vector<std::string> paths = {o.id};
  for (const auto& set : sets) paths.push_back(set.second);
  const std::vector<io::FeatureFile> inputs = open_inputs(paths, loaded.flow->config(), o.flow);

  const metrics::ScoredSet id = score_set("id", inputs[0], loaded, o);
  std::vector<metrics::ScoredSet> ood;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    ood.push_back(score_set(sets[i].first, inputs[i + 1], loaded, o));
  }
  if (!o.scores.empty()) io::write_scores_csv(o.scores, id, ood);
  if (ood.empty()) return 0;
  return publish_evaluation(id, ood, detector_record(o, loaded), o.out, o.fail_under);
}

}  // namespace oodflow::pipeline
