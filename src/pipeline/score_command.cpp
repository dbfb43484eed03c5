#include "oodflow/pipeline/score_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/core/threads.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/report.h"
#include "oodflow/pipeline/device.h"
#include "oodflow/pipeline/model.h"
#include "oodflow/pipeline/model_records.h"
#include "oodflow/pipeline/named_sets.h"
#include "oodflow/plot/html_report.h"

namespace oodflow::pipeline {
namespace {

// Labels must tell detectors apart in the table and the CSV: a repeated one gets its file.
void disambiguate(std::vector<Model>* models) {
  std::vector<std::string> labels;
  for (const auto& m : *models) labels.push_back(m.label);
  for (std::size_t i = 0; i < models->size(); ++i) {
    if (std::count(labels.begin(), labels.end(), labels[i]) > 1) {
      (*models)[i].label += " (" + (*models)[i].path + ")";
    }
  }
}

std::vector<double> score_all(const Model& model, const io::FeatureFile& file,
                              std::int64_t batch_size) {
  std::vector<double> scores;
  scores.reserve(static_cast<std::size_t>(file.rows()));
  score_in_chunks(model, file, batch_size,
                  [&](const detect::FeatureSet&, const std::vector<double>& chunk,
                      const std::vector<std::int64_t>&) {
                    scores.insert(scores.end(), chunk.begin(), chunk.end());
                  });
  return scores;
}

// Several detectors: one evaluation each, one comparison table and report.
int publish_comparison(const std::vector<Model>& scorers,
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

void write_plots(const ScoreOptions& o, const std::vector<Model>& models,
                 const std::vector<std::vector<metrics::ScoredSet>>& scored) {
  plot::ReportInput input;
  input.scored = scored;
  for (std::size_t d = 0; d < models.size(); ++d) {
    input.labels.push_back(models[d].label);
    input.score_names.push_back(models[d].score_name);
    const std::vector<metrics::ScoredSet> ood(scored[d].begin() + 1, scored[d].end());
    input.evaluations.push_back(metrics::evaluate(scored[d].front(), ood));
  }
  if (!o.html.empty()) {
    write_file_atomically(o.html, plot::html_report(input));
    spdlog::info("score: wrote the HTML report '{}' ({} plots)", o.html, plot::plot_count(input));
  }
  if (!o.svg_dir.empty()) {
    const auto paths = plot::write_svg_files(input, o.svg_dir);
    spdlog::info("score: wrote {} SVG plots to '{}'", paths.size(), o.svg_dir);
  }
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
    OODFLOW_CHECK((o.html.empty() && o.svg_dir.empty()) || !o.ood.empty(),
                  "--html and --svg plot ID against OOD sets: give at least one --ood");
  });
}

int run_score(const ScoreOptions& o) {
  validate(o);
  for (const std::string& output : {o.out, o.scores, o.html}) {
    if (!output.empty()) check_writable(output);
  }
  if (!o.svg_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.svg_dir, ec);
    OODFLOW_CHECK(std::filesystem::is_directory(o.svg_dir), "--svg: cannot create the folder '"
                                                                << o.svg_dir << "'"
                                                                << (ec ? ": " + ec.message() : ""));
    check_writable(o.svg_dir + "/roc.svg");
  }
  set_compute_threads(o.threads);
  std::vector<std::pair<std::string, io::FeatureFile>> inputs;
  inputs.emplace_back("id", io::FeatureFile::open(o.id));
  for (const auto& [name, path] : parse_named_sets(o.ood)) {
    inputs.emplace_back(name, io::FeatureFile::open(path));
  }
  std::vector<Model> models;
  if (!o.flow.empty()) models.push_back(load_model(o.flow, o.device));
  for (const auto& path : o.detectors) models.push_back(load_model(path, o.device));
  disambiguate(&models);
  // Every input against every model before any scoring, so that a bad last file fails in a
  // second, not after the first sets have been scored.
  for (const auto& model : models) {
    const std::string model_backbone = model_backbone_sha256(model.metadata);
    for (const auto& [name, file] : inputs) {
      check_dimension(model, file);
      const std::string file_backbone = features_backbone_sha256(file.metadata());
      if (!model_backbone.empty() && !file_backbone.empty() && model_backbone != file_backbone) {
        spdlog::warn(
            "score: '{}' was made by another backbone (SHA-256) than the training "
            "features of '{}': its scores may be meaningless",
            file.path(), model.path);
      }
    }
  }
  std::vector<std::vector<metrics::ScoredSet>> scored(models.size());
  for (std::size_t d = 0; d < models.size(); ++d) {
    for (const auto& [name, file] : inputs) {
      scored[d].push_back(
          {name, file.path(), score_all(models[d], file, o.batch_size), file.sources()});
    }
  }
  if (!o.html.empty() || !o.svg_dir.empty()) write_plots(o, models, scored);
  if (models.size() > 1) {
    if (!o.scores.empty()) {
      std::vector<std::string> labels;
      for (const auto& m : models) labels.push_back(m.label);
      io::write_comparison_scores_csv(o.scores, labels, scored);
    }
    return o.ood.empty() ? 0 : publish_comparison(models, scored, o);
  }
  const metrics::ScoredSet& id = scored[0].front();
  const std::vector<metrics::ScoredSet> ood(scored[0].begin() + 1, scored[0].end());
  if (!o.scores.empty()) io::write_scores_csv(o.scores, id, ood);
  if (ood.empty()) return 0;
  return publish_evaluation(id, ood, models[0].record, o.out, o.fail_under);
}

}  // namespace oodflow::pipeline
