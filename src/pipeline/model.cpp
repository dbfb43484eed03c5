#include "oodflow/pipeline/model.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"
#include "oodflow/pipeline/model_records.h"
#include "torch_errors.h"

namespace oodflow::pipeline {

Model load_model(const std::string& path, const std::string& device) {
  detect::LoadedModel loaded =
      with_torch_errors("loading '" + path + "'", [&] { return detect::load_model(path, device); });
  Model m;
  m.path = path;
  m.label = loaded.detector->label();
  m.score_name = loaded.detector->score_name();
  m.dim = loaded.detector->feature_dim();
  nlohmann::json record = nlohmann::json::parse(loaded.detector->describe());
  record["file"] = path;
  if (loaded.metadata.count("settings")) {
    record["settings"] = metadata_record(loaded.metadata, "settings");
  }
  if (loaded.metadata.count("training")) {
    record["training"] = metadata_record(loaded.metadata, "training");
  }
  m.record = record.dump();
  m.metadata = std::move(loaded.metadata);
  m.calibration = std::move(loaded.calibration);
  m.detector = std::move(loaded.detector);
  return m;
}

void check_inputs(const Model& model, const io::FeatureFile& file) {
  OODFLOW_CHECK(model.dim == 0 || file.dim() == model.dim,
                "'" << file.path() << "' has features of dimension " << file.dim() << " but the "
                    << model.label << " '" << model.path << "' takes dimension " << model.dim);
  // Labels are a fitting input (class means): the sets a model scores need none.
  detect::Needs scoring = model.detector->needs();
  scoring.labels = false;
  detect::require_inputs(scoring, detect::Inputs::of(file), file.path(), model.detector->name());
}

namespace {

// `set` without the rows listed (ascending).
detect::FeatureSet without_rows(const detect::FeatureSet& set,
                                const std::vector<std::int64_t>& rows) {
  detect::FeatureSet kept = set;
  kept.features.clear();
  kept.logits.clear();
  kept.labels.clear();
  for (auto& aux : kept.aux) aux.values.clear();
  std::size_t next = 0;
  for (std::int64_t i = 0; i < set.rows; ++i) {
    if (next < rows.size() && rows[next] == i) {
      ++next;
      continue;
    }
    const auto f = set.features.begin() + i * set.dim;
    kept.features.insert(kept.features.end(), f, f + set.dim);
    if (set.classes > 0) {
      const auto l = set.logits.begin() + i * set.classes;
      kept.logits.insert(kept.logits.end(), l, l + set.classes);
    }
    if (!set.labels.empty()) kept.labels.push_back(set.labels[static_cast<std::size_t>(i)]);
    for (std::size_t a = 0; a < set.aux.size(); ++a) {
      kept.aux[a].values.push_back(set.aux[a].values[static_cast<std::size_t>(i)]);
    }
  }
  kept.rows = set.rows - static_cast<std::int64_t>(rows.size());
  return kept;
}

std::vector<double> scored(const detect::Detector& detector, const detect::FeatureSet& set) {
  return with_torch_errors("scoring '" + set.source + "'", [&] { return detector.score(set); });
}

}  // namespace

std::vector<double> score_chunk(const detect::Detector& detector, const detect::FeatureSet& chunk,
                                NonFiniteRows nonfinite, std::vector<std::int64_t>* skipped) {
  skipped->clear();
  if (nonfinite == NonFiniteRows::kSkip) *skipped = chunk.nonfinite_rows();
  if (skipped->empty()) return scored(detector, chunk);
  std::vector<double> scores(static_cast<std::size_t>(chunk.rows), NAN);
  if (static_cast<std::int64_t>(skipped->size()) < chunk.rows) {
    const std::vector<double> kept = scored(detector, without_rows(chunk, *skipped));
    std::size_t next = 0, k = 0;
    for (std::int64_t i = 0; i < chunk.rows; ++i) {
      if (next < skipped->size() && (*skipped)[next] == i) {
        ++next;
      } else {
        scores[static_cast<std::size_t>(i)] = kept[k++];
      }
    }
  }
  return scores;
}

void score_in_chunks(const detect::Detector& detector, const io::FeatureFile& file,
                     std::int64_t batch_size, const ChunkSink& sink, NonFiniteRows nonfinite,
                     const std::vector<std::int64_t>* rows) {
  const std::int64_t total =
      rows != nullptr ? static_cast<std::int64_t>(rows->size()) : file.rows();
  Progress progress("score " + file.path(), total, "samples");
  std::vector<std::int64_t> skipped;
  for (std::int64_t begin = 0; begin < total; begin += batch_size) {
    const std::int64_t count = std::min(batch_size, total - begin);
    const detect::FeatureSet chunk =
        rows != nullptr ? detect::FeatureSet::load(
                              file, std::vector<std::int64_t>(rows->begin() + begin,
                                                              rows->begin() + begin + count))
                        : detect::FeatureSet::load(file, begin, count);
    const std::vector<double> scores = score_chunk(detector, chunk, nonfinite, &skipped);
    sink(chunk, scores, skipped);
    progress.update(begin + count, "");
  }
  progress.finish("");
}

void score_in_chunks(const Model& model, const io::FeatureFile& file, std::int64_t batch_size,
                     const ChunkSink& sink, NonFiniteRows nonfinite) {
  check_inputs(model, file);
  score_in_chunks(*model.detector, file, batch_size, sink, nonfinite);
}

std::vector<double> score_rows(const detect::Detector& detector, const io::FeatureFile& file,
                               const std::vector<std::int64_t>& rows) {
  std::vector<double> scores;
  scores.reserve(rows.size());
  score_in_chunks(
      detector, file, kScoreBatchRows,
      [&](const detect::FeatureSet&, const std::vector<double>& chunk,
          const std::vector<std::int64_t>&) {
        scores.insert(scores.end(), chunk.begin(), chunk.end());
      },
      NonFiniteRows::kError, &rows);
  return scores;
}

}  // namespace oodflow::pipeline
