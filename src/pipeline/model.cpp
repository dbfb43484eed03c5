#include "oodflow/pipeline/model.h"

#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/core/progress.h"
#include "oodflow/detect/detector.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/flow/scorer.h"
#include "oodflow/io/safetensors.h"
#include "oodflow/pipeline/model_records.h"
#include "torch_errors.h"

namespace oodflow::pipeline {
namespace {

Model flow_model(const std::string& path, const std::string& device) {
  auto loaded = std::make_shared<flow::LoadedFlow>(
      with_torch_errors("loading '" + path + "'", [&] { return flow::load_flow(path); }));
  loaded->flow->to(torch::Device(device));
  const flow::FlowConfig& c = loaded->flow->config();
  Model m;
  m.path = path;
  m.label = "flow (" + c.arch + ")";
  m.score_name = "log p(x) of the flow (nats)";
  nlohmann::json record = {{"kind", "flow"},
                           {"file", path},
                           {"parameters_sha256", loaded->parameters_sha256},
                           {"arch", c.arch},
                           {"blocks", c.blocks},
                           {"dim", c.dim},
                           {"hidden", c.hidden},
                           {"scale_clamp", c.scale_clamp},
                           {"normalize", normalization_name(loaded->normalizer.kind())},
                           {"score", "log p(x) in nats"}};
  if (loaded->metadata.count("training"))
    record["training"] = metadata_record(loaded->metadata, "training");
  m.record = record.dump();
  m.dim = c.dim;
  m.metadata = loaded->metadata;
  m.calibration = loaded->calibration;
  m.score = [loaded, device](const detect::FeatureSet& set) {
    std::vector<float> rows(set.features);  // normalised in place
    return with_torch_errors("scoring '" + set.source + "'", [&] {
      return flow::score_rows(*loaded->flow, loaded->normalizer, rows.data(), set.rows, device,
                              set.source, set.first);
    });
  };
  return m;
}

Model detector_model(const std::string& path) {
  Model m;
  std::shared_ptr<detect::Detector> detector =
      detect::load_detector(path, &m.metadata, &m.calibration);
  nlohmann::json record = {{"kind", "baseline"},
                           {"name", detector->name()},
                           {"file", path},
                           {"settings", metadata_record(m.metadata, "settings")},
                           {"score", "higher = more in-distribution"}};
  if (m.metadata.count("training")) record["training"] = metadata_record(m.metadata, "training");
  m.path = path;
  m.label = detector->name();
  m.score_name = detector->name() + " score (higher = more ID)";
  m.record = record.dump();
  m.dim = detector->feature_dim();
  m.score = [detector](const detect::FeatureSet& set) {
    return with_torch_errors("scoring '" + set.source + "'", [&] { return detector->score(set); });
  };
  return m;
}

}  // namespace

Model load_model(const std::string& path, const std::string& device) {
  std::string format;
  {
    const io::SafetensorsFile file(path);
    const auto it = file.view().metadata.find("format");
    if (it != file.view().metadata.end()) format = it->second;
  }
  if (format == flow::kFlowFormat) return flow_model(path, device);
  if (format == detect::kDetectorFormat) return detector_model(path);
  OODFLOW_FAIL("'" << path << "' is neither a flow (from oodflow train) nor a detector (from "
                   << "oodflow fit): its metadata format is '"
                   << (format.empty() ? "missing" : format) << "'");
}

void check_dimension(const Model& model, const io::FeatureFile& file) {
  OODFLOW_CHECK(model.dim == 0 || file.dim() == model.dim,
                "'" << file.path() << "' has features of dimension " << file.dim() << " but the "
                    << model.label << " '" << model.path << "' takes dimension " << model.dim);
}

namespace {

// `set` without the rows listed (ascending).
detect::FeatureSet without_rows(const detect::FeatureSet& set,
                                const std::vector<std::int64_t>& rows) {
  detect::FeatureSet kept = set;
  kept.features.clear();
  kept.logits.clear();
  kept.labels.clear();
  kept.odin.clear();
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
    if (!set.odin.empty()) kept.odin.push_back(set.odin[static_cast<std::size_t>(i)]);
  }
  kept.rows = set.rows - static_cast<std::int64_t>(rows.size());
  return kept;
}

}  // namespace

void score_in_chunks(const Model& model, const io::FeatureFile& file, std::int64_t batch_size,
                     const std::function<void(const detect::FeatureSet&, const std::vector<double>&,
                                              const std::vector<std::int64_t>&)>& sink,
                     NonFiniteRows nonfinite) {
  check_dimension(model, file);
  Progress progress("score " + file.path(), file.rows(), "samples");
  for (std::int64_t begin = 0; begin < file.rows(); begin += batch_size) {
    const std::int64_t count = std::min(batch_size, file.rows() - begin);
    const detect::FeatureSet chunk = detect::FeatureSet::load(file, begin, count);
    const std::vector<std::int64_t> skipped =
        nonfinite == NonFiniteRows::kSkip ? chunk.nonfinite_rows() : std::vector<std::int64_t>();
    if (skipped.empty()) {
      sink(chunk, model.score(chunk), skipped);
    } else {
      std::vector<double> scores(static_cast<std::size_t>(count), NAN);
      if (static_cast<std::int64_t>(skipped.size()) < count) {
        const std::vector<double> kept = model.score(without_rows(chunk, skipped));
        std::size_t next = 0, k = 0;
        for (std::int64_t i = 0; i < count; ++i) {
          if (next < skipped.size() && skipped[next] == i) {
            ++next;
          } else {
            scores[static_cast<std::size_t>(i)] = kept[k++];
          }
        }
      }
      sink(chunk, scores, skipped);
    }
    progress.update(begin + count, "");
  }
  progress.finish("");
}

}  // namespace oodflow::pipeline
