#include "oodflow/pipeline/score_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/core/threads.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/device.h"
#include "oodflow/pipeline/model.h"
#include "oodflow/pipeline/model_records.h"
#include "oodflow/pipeline/named_sets.h"
#include "oodflow/report/report.h"
#include "oodflow/report/writers.h"

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

// Every output score can write, in the order they are written (the table comes last).
std::vector<ReportOutput> outputs(const ScoreOptions& o) {
  return {{"--html", o.html, report::write_html},
          {"--svg", o.svg_dir, report::write_svg, true},
          {"--scores", o.scores, report::write_csv},
          {"--out", o.out, report::write_json},
          {"--junit", o.junit, report::write_junit},
          {"--markdown", o.markdown, report::write_markdown}};
}

}  // namespace

void validate(const ScoreOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.models.empty(), "give at least one --model FILE (from oodflow fit or train)");
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
    OODFLOW_CHECK((o.junit.empty() && o.markdown.empty()) || !o.ood.empty(),
                  "--junit and --markdown report on OOD sets: give at least one --ood");
    OODFLOW_CHECK((o.out.empty() && o.fail_under.empty()) || !o.ood.empty(),
                  "--out and --fail-under evaluate ID against OOD sets: give at least one --ood");
    OODFLOW_CHECK(o.svg_dir != "-", "--svg takes a folder, not '-'");
  });
}

int run_score(const ScoreOptions& o) {
  validate(o);
  check_outputs(outputs(o));
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
  for (const auto& path : o.models) models.push_back(load_model(path, o.device));
  disambiguate(&models);
  // Every input against every model before any scoring, so that a bad last file fails in a
  // second, not after the first sets have been scored.
  for (const auto& model : models) {
    const std::string model_backbone = model_backbone_sha256(model.metadata);
    for (const auto& [name, file] : inputs) {
      check_inputs(model, file);
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
  std::vector<report::DetectorInfo> detectors;
  for (const Model& m : models) detectors.push_back({m.label, m.record, m.score_name});
  const report::Report report = report::build_report(std::move(detectors), std::move(scored),
                                                     metrics::parse_gates(o.fail_under));
  // Without OOD sets there is nothing to evaluate: the scores are the only output.
  if (o.ood.empty()) {
    if (!o.scores.empty()) report::write_csv(report, o.scores);
    return 0;
  }
  const int status = publish_report(report, outputs(o));
  if (!o.html.empty()) {
    spdlog::info("score: wrote the HTML report '{}' ({} plots)", o.html,
                 report::plot_count(report));
  }
  if (!o.svg_dir.empty()) {
    spdlog::info("score: wrote {} SVG plots to '{}'", report::plot_count(report), o.svg_dir);
  }
  return status;
}

}  // namespace oodflow::pipeline
