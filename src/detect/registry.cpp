// The table of detectors (no static self-registration: a linker drops unreferenced objects
// of a static library) and the detector file format.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>

#include "detectors.h"
#include "oodflow/core/error.h"
#include "oodflow/io/calibration_record.h"
#include "oodflow/io/dtype.h"
#include "oodflow/io/safetensors.h"

namespace oodflow::detect {
namespace {

constexpr int kDetectorFormatVersion = 1;

// Every detector behind this guard: a finite input never gets a NaN score. Arithmetic on
// features far outside the training data (a dimension that was constant in training, values
// of 1e30) can overflow to inf - inf; such a sample is outside everything the model knows,
// so it ranks as the most OOD (-inf), as NaN would in the metrics, but without a NaN
// reaching a user's threshold comparison, where NaN >= t is false and < t is false too.
class FiniteScores : public Detector {
 public:
  explicit FiniteScores(std::unique_ptr<Detector> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  void fit(const FeatureSet& train) override { inner_->fit(train); }
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
  DetectorState state() const override { return inner_->state(); }
  void restore(const DetectorState& state) override { inner_->restore(state); }

 private:
  std::unique_ptr<Detector> inner_;
};

std::unique_ptr<Detector> make_unguarded(const std::string& name, const DetectorOptions& options) {
  if (name == "msp" || name == "maxlogit" || name == "energy") {
    return make_logit_detector(name, options);
  }
  if (name == "gaussian" || name == "mahalanobis") return make_gaussian_detector(name, options);
  if (name == "knn") return make_knn_detector(options);
  if (name == "odin") return make_odin_detector();
  if (name == "react" || name == "vim") return make_head_detector(name, options);
  std::string known;
  for (const auto& n : detector_names()) known += (known.empty() ? "" : ", ") + n;
  OODFLOW_FAIL("unknown detector '" << name << "'; known detectors: " << known);
}

}  // namespace

std::map<std::string, std::string> detector_metadata(
    const std::string& name, const std::string& settings,
    const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> metadata = extra;
  metadata["format"] = kDetectorFormat;
  metadata["format_version"] = std::to_string(kDetectorFormatVersion);
  metadata["detector"] = name;
  metadata["settings"] = settings;
  return metadata;
}

const std::vector<std::string>& detector_names() {
  static const std::vector<std::string> names = {
      "msp", "maxlogit", "energy", "odin", "react", "gaussian", "mahalanobis", "knn", "vim"};
  return names;
}

std::unique_ptr<Detector> make_detector(const std::string& name, const DetectorOptions& options) {
  return std::make_unique<FiniteScores>(make_unguarded(name, options));
}

void save_detector(const std::string& path, const Detector& detector,
                   const std::map<std::string, std::string>& extra,
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
  std::map<std::string, std::string> metadata =
      detector_metadata(detector.name(), state.settings, extra);
  if (calibration != nullptr) {
    for (auto& t : io::calibration_tensors(*calibration)) tensors.push_back(std::move(t));
    metadata[io::kCalibrationKey] = io::calibration_json(*calibration);
  }
  io::write_safetensors(path, tensors, metadata);
}

std::unique_ptr<Detector> load_detector(const std::string& path,
                                        std::map<std::string, std::string>* metadata,
                                        std::optional<metrics::Calibration>* calibration) {
  const auto file = std::make_shared<const io::SafetensorsFile>(path);
  const auto& meta = file->view().metadata;
  const auto format = meta.find("format");
  OODFLOW_CHECK(format != meta.end() && format->second == kDetectorFormat,
                "'" << path << "' is not an oodflow detector file (no format '" << kDetectorFormat
                    << "' in its metadata)");
  const auto name = meta.find("detector");
  OODFLOW_CHECK(name != meta.end(), "'" << path << "' does not name its detector");
  auto detector = make_detector(name->second);
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
    detector->restore(state);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    OODFLOW_FAIL("'" << path << "' has malformed " << name->second << " settings: " << e.what());
  }
  if (metadata != nullptr) *metadata = meta;
  if (calibration != nullptr) *calibration = io::read_calibration(*file);
  return detector;
}

}  // namespace oodflow::detect
