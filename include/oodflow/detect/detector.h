// Post-hoc OOD detectors behind one interface: fit on in-distribution training data, save,
// load, score. Scores are one double per sample and always oriented so that higher means
// more in-distribution, whatever the method's own sign convention (a distance is negated).
//
// Baselines, each as its paper defines it (citations in the .cpp files):
//   msp          max softmax probability of the logits (Hendrycks & Gimpel, ICLR 2017)
//   maxlogit     max logit (Hendrycks et al., ICML 2022)
//   energy       T * logsumexp(logits / T), T = 1 (Liu et al., NeurIPS 2020)
//   odin         max softmax at T = 1000 of the input perturbed against the gradient, as
//                `extract --odin` stored it (Liang et al., ICLR 2018)
//   gaussian     log-density of one Gaussian fitted to the features (class-agnostic)
//   mahalanobis  -min over classes of the Mahalanobis distance to the class mean with a
//                shared covariance (Lee et al., NeurIPS 2018, without input perturbation)
//   knn          -distance to the k-th nearest L2-normalised training feature, k = 50
//                (Sun et al., ICML 2022)
//   react        energy of the head's logits of the features clipped at their 90th ID
//                percentile (Sun et al., NeurIPS 2021)
//   vim          logsumexp(logits) - alpha * norm of the feature outside the principal
//                subspace (Wang et al., CVPR 2022)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oodflow/detect/feature_set.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::detect {

/// Metadata `format` of detector files.
inline constexpr const char* kDetectorFormat = "oodflow.detector";

/// Hyper-parameters; each detector reads the ones it has.
struct DetectorOptions {
  // KNN: the neighbour whose distance is the score.
  std::int64_t k = 50;
  // KNN: training rows per block of the exact search (bounds its memory).
  std::int64_t block_size = 8192;
  // Energy: temperature T.
  double temperature = 1.0;
  // Gaussian and Mahalanobis: shrinkage of the covariance towards its mean eigenvalue,
  // S = (1 - a) S + a tr(S)/d I, so that it is invertible when samples are fewer than
  // dimensions (a = 0 keeps the sample covariance and fails on a singular one).
  double shrinkage = 1e-6;
  // ReAct: activations are clipped at this percentile of the ID training activations.
  double react_percentile = 90;
  // ViM: dimension of the principal subspace; 0 = the paper's rule (1000 for D >= 2048,
  // 512 for D >= 768, D/2 otherwise).
  std::int64_t vim_principal = 0;
};

/// A fitted detector's parameters: named arrays of doubles, and its settings as JSON.
struct DetectorState {
  struct Array {
    std::vector<std::int64_t> shape;
    std::vector<double> values;
    bool single_precision = false;  ///< stored as F32 (values that came from floats)
    /// Large float arrays are not copied: `floats` points at them (in the detector's memory
    /// when saving, in the file's memory map after loading, kept alive by `owner`) and
    /// `values` stays empty.
    const float* floats = nullptr;
    std::shared_ptr<const void> owner;
  };
  std::map<std::string, Array> arrays;
  std::string settings = "{}";
};

class Detector {
 public:
  virtual ~Detector() = default;
  /// The registry name ("knn", ...).
  virtual std::string name() const = 0;
  /// Fits on ID training data. Throws Error naming the file and what is missing (logits,
  /// labels) and how to produce it.
  virtual void fit(const FeatureSet& train) = 0;
  /// One score per row of `data`, higher = more in-distribution. Throws Error when `data`
  /// does not match what the detector was fitted on. A row with finite values never gets
  /// NaN from make_detector's detectors: an overflow far outside the training data gives
  /// -inf (the most OOD); rows holding NaN/inf may score NaN.
  virtual std::vector<double> score(const FeatureSet& data) const = 0;
  /// The feature dimension it was fitted on; 0 for the detectors that read only logits.
  virtual std::int64_t feature_dim() const = 0;
  virtual DetectorState state() const = 0;
  virtual void restore(const DetectorState& state) = 0;
};

/// The detector called `name` with `options`; Error listing the known names otherwise.
std::unique_ptr<Detector> make_detector(const std::string& name,
                                        const DetectorOptions& options = {});
/// Every name make_detector knows, in display order.
const std::vector<std::string>& detector_names();

/// Writes a fitted detector as a safetensors file (F64 arrays, metadata `format`
/// oodflow.detector, `detector`, `settings`, plus `extra`, and the calibration when given),
/// atomically.
void save_detector(const std::string& path, const Detector& detector,
                   const std::map<std::string, std::string>& extra = {},
                   const metrics::Calibration* calibration = nullptr);
/// KNN fitted straight from a feature file into its detector file, for banks larger than
/// memory: rows (those listed in `rows`, or all) are read, L2-normalised and written in
/// chunks (the same file as fit + save_detector would write, with flat memory).
void fit_knn_streamed(const io::FeatureFile& train, const DetectorOptions& options,
                      const std::string& out, const std::map<std::string, std::string>& extra = {},
                      const std::vector<std::int64_t>* rows = nullptr);

/// Reads a detector file; Error naming the file when it is not one. `metadata`, when given,
/// receives the file's metadata (settings, training record, ...); `calibration` its held-out
/// ID scores (nullopt when it has none).
std::unique_ptr<Detector> load_detector(const std::string& path,
                                        std::map<std::string, std::string>* metadata = nullptr,
                                        std::optional<metrics::Calibration>* calibration = nullptr);

}  // namespace oodflow::detect
