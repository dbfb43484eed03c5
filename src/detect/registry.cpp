// The table of models (no static self-registration: a linker drops unreferenced objects of a
// static library), the model-file formats and their versions, and the baseline file format.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "detectors.h"
#include "oodflow/core/error.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/io/calibration_record.h"
#include "oodflow/io/dtype.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/safetensors.h"

namespace oodflow::detect {
namespace {

// Every model behind this guard: a finite input never gets a NaN score. Arithmetic on
// features far outside the training data (a dimension that was constant in training, values
// of 1e30) can overflow to inf - inf; such a sample is outside everything the model knows,
// so it ranks as the most OOD (-inf), as NaN would in the metrics, but without a NaN
// reaching a user's threshold comparison, where NaN >= t is false and < t is false too.
class FiniteScores : public Detector {
 public:
  explicit FiniteScores(std::unique_ptr<Detector> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  std::string label() const override { return inner_->label(); }
  std::string score_name() const override { return inner_->score_name(); }
  std::string describe() const override { return inner_->describe(); }
  Needs needs() const override { return inner_->needs(); }
  void fit(const FeatureSet& train, const FitContext& context) override {
    inner_->fit(train, context);
  }
  void fit(const io::FeatureFile& train, const std::vector<std::int64_t>& rows,
           const FitContext& context) override {
    inner_->fit(train, rows, context);
  }
  std::string fit_summary() const override { return inner_->fit_summary(); }
  std::string training_settings() const override { return inner_->training_settings(); }
  std::vector<double> score(const FeatureSet& data) const override {
    std::vector<double> scores = inner_->score(data);
    const std::vector<std::int64_t> invalid = data.nonfinite_rows();  // NaN stays NaN there
    std::size_t next = 0;
    for (std::size_t i = 0; i < scores.size(); ++i) {
      if (next < invalid.size() && invalid[next] == static_cast<std::int64_t>(i)) {
        ++next;
      } else if (std::isnan(scores[i])) {
        scores[i] = -std::numeric_limits<double>::infinity();
      }
    }
    return scores;
  }
  std::int64_t feature_dim() const override { return inner_->feature_dim(); }
  void save(const std::string& path, const std::map<std::string, std::string>& metadata,
            const metrics::Calibration* calibration) const override {
    inner_->save(path, metadata, calibration);
  }
  DetectorState state() const override { return inner_->state(); }
  void restore(const DetectorState& state) override { inner_->restore(state); }

 private:
  std::unique_ptr<Detector> inner_;
};

// One line per model: its name and how to make it.
std::vector<std::pair<std::string, DetectorMaker>>& registry() {
  static std::vector<std::pair<std::string, DetectorMaker>> table = {
      {"glow", [](const auto& o) { return make_flow_detector("glow", o); }},
      {"realnvp", [](const auto& o) { return make_flow_detector("realnvp", o); }},
      {"msp", [](const auto& o) { return make_logit_detector("msp", o); }},
      {"maxlogit", [](const auto& o) { return make_logit_detector("maxlogit", o); }},
      {"energy", [](const auto& o) { return make_logit_detector("energy", o); }},
      {"odin", [](const auto&) { return make_odin_detector(); }},
      {"react", [](const auto& o) { return make_head_detector("react", o); }},
      {"gaussian", [](const auto& o) { return make_gaussian_detector("gaussian", o); }},
      {"mahalanobis", [](const auto& o) { return make_gaussian_detector("mahalanobis", o); }},
      {"knn", [](const auto& o) { return make_knn_detector(o); }},
      {"vim", [](const auto& o) { return make_head_detector("vim", o); }},
  };
  return table;
}

// The format_version a model file records; Error naming the file when it is missing, not a
// number, or newer than `supported`.
int checked_version(const std::string& path, const std::map<std::string, std::string>& meta,
                    const std::string& format, int supported) {
  const auto it = meta.find("format_version");
  OODFLOW_CHECK(it != meta.end(), "'" << path << "' (" << format << ") records no format_version");
  int version = 0;
  try {
    std::size_t used = 0;
    version = std::stoi(it->second, &used);
    OODFLOW_CHECK(used == it->second.size(), "");
  } catch (const std::exception&) {
    OODFLOW_FAIL("'" << path << "' has format_version '" << it->second << "', not a number");
  }
  OODFLOW_CHECK(version >= 1 && version <= supported,
                "'" << path << "' is an " << format << " file of format version " << version
                    << (version > supported ? ", written by a newer oodflow" : "")
                    << "; this oodflow reads version" << (supported > 1 ? "s 1 to " : " ")
                    << supported);
  return version;
}

LoadedModel load_baseline(const std::string& path,
                          const std::shared_ptr<const io::SafetensorsFile>& file) {
  const auto& meta = file->view().metadata;
  const auto name = meta.find("detector");
  OODFLOW_CHECK(name != meta.end(), "'" << path << "' does not name its detector");
  LoadedModel loaded;
  loaded.detector = make_detector(name->second);
  DetectorState state;
  const auto settings = meta.find("settings");
  if (settings != meta.end()) state.settings = settings->second;
  for (const auto& [tensor_name, view] : file->view().tensors) {
    if (io::is_calibration_tensor(tensor_name)) continue;
    OODFLOW_CHECK(io::is_float_dtype(view.dtype),
                  "'" << path << "': tensor '" << tensor_name << "' is not floating point");
    DetectorState::Array a;
    a.shape = view.shape;
    a.single_precision = view.dtype != io::DType::F64;
    // Tensor data is 8-byte aligned in the file and the map starts on a page, so F32 data
    // can be used in place (e.g. KNN's training bank, as large as the training features).
    if (view.dtype == io::DType::F32 &&
        reinterpret_cast<std::uintptr_t>(view.data) % alignof(float) == 0) {
      a.floats = reinterpret_cast<const float*>(view.data);
      a.owner = file;
      state.arrays[tensor_name] = std::move(a);
      continue;
    }
    a.values.resize(static_cast<std::size_t>(view.numel()));
    io::convert_to_double(view.dtype, view.data, a.values.size(), a.values.data());
    state.arrays[tensor_name] = std::move(a);
  }
  try {
    loaded.detector->restore(state);
  } catch (const std::exception& e) {
    OODFLOW_FAIL("'" << path << "' has malformed " << name->second << " settings: " << e.what());
  }
  loaded.metadata = meta;
  loaded.calibration = io::read_calibration(*file);
  return loaded;
}

}  // namespace

Inputs Inputs::of(const FeatureSet& set) {
  Inputs in;
  in.logits = set.classes > 0;
  in.labels = !set.labels.empty();
  for (const AuxScore& aux : set.aux) in.aux_scores.push_back(aux.name);
  return in;
}

Inputs Inputs::of(const io::FeatureFile& file) {
  Inputs in;
  in.logits = file.has_logits();
  in.labels = file.has_labels();
  in.aux_scores = file.aux_score_names();
  return in;
}

void require_inputs(const Needs& needs, const Inputs& inputs, const std::string& source,
                    const std::string& detector) {
  OODFLOW_CHECK(!needs.logits || inputs.logits,
                "'" << source << "' has no logits, which the " << detector
                    << " detector needs: extract it with a backbone that returns them "
                       "(scripts/export_backbone.py exports {features, logits}; see "
                       "--logits-key of oodflow extract)");
  OODFLOW_CHECK(!needs.labels || inputs.labels,
                "'" << source << "' has no labels, which the " << detector
                    << " detector needs: extract from a labelled source (class folders, "
                       "'path,label' lists, IDX with labels, --labels)");
  for (const std::string& aux : needs.aux_scores) {
    OODFLOW_CHECK(std::find(inputs.aux_scores.begin(), inputs.aux_scores.end(), aux) !=
                      inputs.aux_scores.end(),
                  "'" << source << "' has no '" << aux << "' scores, which the " << detector
                      << " detector needs: extract it with `oodflow extract ... --" << aux
                      << "` (they need the images and the backbone, not only features)");
  }
}

std::string Detector::describe() const {
  // The settings are in the model file's metadata: load_model's callers add them, without
  // state(), which copies every parameter.
  return nlohmann::json{
      {"kind", "baseline"}, {"name", name()}, {"score", "higher = more in-distribution"}}
      .dump();
}

void Detector::fit(const FeatureSet& train, const FitContext&) {
  OODFLOW_FAIL("internal: the " << name() << " detector fits from a feature file, not from rows"
                                << " in memory ('" << train.source << "')");
}

void Detector::fit(const io::FeatureFile& train, const std::vector<std::int64_t>& rows,
                   const FitContext& context) {
  fit(FeatureSet::load(train, rows), context);
}

void Detector::save(const std::string& path, const std::map<std::string, std::string>& metadata,
                    const metrics::Calibration* calibration) const {
  save_detector_state(path, *this, metadata, calibration);
}

DetectorState Detector::state() const {
  OODFLOW_FAIL("a " << name() << " model is not stored in a detector file");
}

void Detector::restore(const DetectorState&) {
  OODFLOW_FAIL("a " << name() << " model is not stored in a detector file");
}

static std::vector<std::string>& registered_names() {
  static std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : registry()) out.push_back(entry.first);
    return out;
  }();
  return names;
}

const std::vector<std::string>& detector_names() {
  return registered_names();
}

void register_detector(const std::string& name, DetectorMaker make) {
  const auto& names = registered_names();
  OODFLOW_CHECK(!name.empty() && std::find(names.begin(), names.end(), name) == names.end(),
                "cannot register the detector '" << name << "': the name is "
                                                 << (name.empty() ? "empty" : "taken"));
  registry().emplace_back(name, std::move(make));
  registered_names().push_back(name);
}

std::unique_ptr<Detector> make_detector(const std::string& name, const DetectorOptions& options) {
  for (const auto& [known, make] : registry()) {
    if (known == name) return std::make_unique<FiniteScores>(make(options));
  }
  std::string known;
  for (const auto& n : detector_names()) known += (known.empty() ? "" : ", ") + n;
  OODFLOW_FAIL("unknown detector '" << name << "'; known detectors: " << known);
}

void save_detector_state(const std::string& path, const Detector& detector,
                         const std::map<std::string, std::string>& metadata,
                         const metrics::Calibration* calibration) {
  const DetectorState state = detector.state();
  // Keeps the converted buffers alive until the file is written.
  std::vector<std::vector<float>> singles;
  std::vector<io::TensorSpec> tensors;
  for (const auto& [name, array] : state.arrays) {
    if (array.floats != nullptr) {
      tensors.push_back({name, io::DType::F32, array.shape, array.floats});
    } else if (array.single_precision) {
      singles.emplace_back(array.values.begin(), array.values.end());
      tensors.push_back({name, io::DType::F32, array.shape, singles.back().data()});
    } else {
      tensors.push_back({name, io::DType::F64, array.shape, array.values.data()});
    }
  }
  std::map<std::string, std::string> records = metadata;
  records["format"] = kDetectorFormat;
  records["format_version"] = std::to_string(state.format_version);
  records["detector"] = detector.name();
  records["settings"] = state.settings;
  if (calibration != nullptr) {
    for (auto& t : io::calibration_tensors(*calibration)) tensors.push_back(std::move(t));
    records[io::kCalibrationKey] = io::calibration_json(*calibration);
  }
  io::write_safetensors(path, tensors, records);
}

LoadedModel load_model(const std::string& path, const std::string& device) {
  {
    std::uint8_t start[64] = {};
    std::ifstream in(path, std::ios::binary);
    OODFLOW_CHECK(in, "cannot open '" << path << "'");
    in.read(reinterpret_cast<char*>(start), sizeof start);
    const auto size = static_cast<std::size_t>(in.gcount());
    const io::FileKind kind = io::sniff_file_kind(start, size);
    OODFLOW_CHECK(kind == io::FileKind::kSafetensors || kind == io::FileKind::kUnknown,
                  "'" << path << "' is " << io::file_kind_name(kind)
                      << ", not an oodflow model file (a .safetensors file from oodflow fit or "
                         "train)");
  }
  const auto file = std::make_shared<const io::SafetensorsFile>(path);
  const auto& meta = file->view().metadata;
  const auto format = meta.find("format");
  const std::string kind = format == meta.end() ? "" : format->second;
  if (kind == kDetectorFormat) {
    checked_version(path, meta, kind, kDetectorFormatVersion);
    return load_baseline(path, file);
  }
  if (kind == flow::kFlowFormat) {
    checked_version(path, meta, kind, flow::kFlowFormatVersion);
    LoadedModel loaded;
    loaded.detector = std::make_unique<FiniteScores>(load_flow_detector(path, device));
    loaded.metadata = meta;
    loaded.calibration = io::read_calibration(*file);
    return loaded;
  }
  OODFLOW_FAIL("'" << path << "' is no oodflow model file (a flow or a detector from oodflow fit "
                   << "or train): "
                   << (kind.empty() ? std::string("its metadata has no format")
                                    : "its metadata format is '" + kind + "'"));
}

}  // namespace oodflow::detect
