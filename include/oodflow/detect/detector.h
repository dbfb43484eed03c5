// Every OOD model behind one interface, the normalizing flows (the method) and the post-hoc
// baselines alike: declare what it reads, fit on in-distribution training data, score, save,
// load. Scores are one double per sample and always oriented so that higher means more
// in-distribution, whatever the method's own sign convention (a distance is negated).
//
// Models, each as its paper defines it (citations in the .cpp files):
//   glow, realnvp  log-density log p(x) in nats of a normalizing flow fitted to the
//                  features (Kingma & Dhariwal, NeurIPS 2018; Dinh et al., ICLR 2017)
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
//
// Adding a model: one source file with a Detector subclass and one line in registry.cpp
// (README: Architecture). The pipeline never branches on a name: it reads needs().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oodflow/core/defaults.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/flow/training.h"
#include "oodflow/metrics/calibration.h"

namespace oodflow::detect {

/// Metadata `format` of baseline detector files (flows have flow::kFlowFormat).
inline constexpr const char* kDetectorFormat = "oodflow.detector";
/// The newest detector file version this oodflow reads. Files are written with the lowest
/// version that holds them (DetectorState::format_version), so older oodflows still read what
/// they can and refuse, naming the version, what they would misread.
inline constexpr int kDetectorFormatVersion = 2;

/// Settings of the flow models (glow, realnvp); the defaults are the paper's recipe.
struct FlowOptions {
  std::int64_t blocks = 0;       ///< blocks K; 0 = the architecture's default (glow 10, realnvp 4)
  std::int64_t hidden = 0;       ///< coupling MLP width; 0 = the feature dimension
  double scale_clamp = 0;        ///< soft clamp c of the coupling log-scale; 0 = off
  std::string normalize = "l2";  ///< feature preprocessing: l2, standardize or none
  std::string base = "normal";   ///< latent base: normal (paper) or class (needs labels)
  std::string class_score = "marginal";  ///< class base score: marginal or max
  /// Epochs, lr, batch size, skipping, device (its seed is FitContext::seed).
  flow::TrainSettings train;
};

/// Hyper-parameters; each model reads the ones it has.
struct DetectorOptions {
  // KNN: the neighbour whose distance is the score.
  std::int64_t k = 50;
  // KNN: training rows per block of the exact search (one pass over the bank; bounds the
  // part of it in memory at once).
  std::int64_t block_size = 8192;
  // KNN: the search, "flat" (exact, the default) or "ivf" (faiss inverted file: approximate,
  // its recall measured at fit), and the IVF's lists and lists probed per query (0 =
  // automatic: 4 sqrt(N) lists, kKnnDefaultNprobe probes).
  std::string knn_index = "flat";
  std::int64_t nlist = 0;
  std::int64_t nprobe = 0;
  // Energy: temperature T.
  double temperature = 1.0;
  // Gaussian and Mahalanobis: shrinkage of the covariance towards its mean eigenvalue,
  // S = (1 - a) S + a tr(S)/d I, so that it is invertible when samples are fewer than
  // dimensions (a = 0 keeps the sample covariance and fails on a singular one).
  double shrinkage = kCovarianceShrinkage;
  // Gaussian and Mahalanobis: feature preprocessing before the fit (and before scoring):
  // none (features as stored, the default and Lee et al.'s), l2 (Mahalanobis++, Mueller &
  // Hein, ICML 2025: the control of the flow, which sees L2-normalised features) or
  // standardize.
  std::string gaussian_normalize = "none";
  // ReAct: activations are clipped at this percentile of the ID training activations.
  double react_percentile = 90;
  // ViM: dimension of the principal subspace; 0 = the paper's rule (1000 for D >= 2048,
  // 512 for D >= 768, D/2 otherwise).
  std::int64_t vim_principal = 0;
  // Flows.
  FlowOptions flow;
};

/// What a model reads besides the features, and how it fits. The pipeline provides exactly
/// this and refuses a feature file that lacks it, naming the file; it never asks for a name.
struct Needs {
  bool features = true;          ///< false: reads only logits / auxiliary scores (feature_dim() 0)
  bool logits = false;           ///< the backbone's logits [N, C]
  bool labels = false;           ///< class labels [N] of the training rows (fit only)
  bool classifier_head = false;  ///< the backbone's last linear layer (FitContext::head)
  /// Named per-sample scores computed at extraction (FeatureSet::aux), e.g. "odin".
  std::vector<std::string> aux_scores;
  /// Fits from the memory-mapped feature file (fit(file, rows, ...)) instead of from rows
  /// copied into memory: models whose training reads the data in passes or whose
  /// parameters are the data (flows, knn), so memory stays flat.
  bool streamed_fit = false;
  /// At least one feature dimension must vary in the training rows (a density of the
  /// features has nothing to fit when all samples are one point).
  bool varying_features = false;
};

/// What a set of samples holds besides its features, to check against a model's Needs.
struct Inputs {
  bool logits = false;
  bool labels = false;
  std::vector<std::string> aux_scores;
  static Inputs of(const FeatureSet& set);
  static Inputs of(const io::FeatureFile& file);
};

/// Throws Error naming `source` when `inputs` lacks something `needs` lists (logits, labels,
/// an auxiliary score), saying how to produce it; `detector` names the model. fit, score and
/// detect call it on every file before any work, the models on the sets they are given.
void require_inputs(const Needs& needs, const Inputs& inputs, const std::string& source,
                    const std::string& detector);

/// The backbone's classifier head: see feature_set.h.
struct FitContext {
  const ClassifierHead* head = nullptr;  ///< set when needs().classifier_head
  std::uint64_t seed = 0;                ///< initialisation and shuffling of trained models
  std::string command = "fit";           ///< how log lines start ("fit", "train")
  /// A file the model may write large parameters to while fitting (knn's bank), removed when
  /// the command ends.
  std::string scratch;
  /// The model file the command writes (flows write their training snapshots next to it).
  std::string out;
  /// Rows of the streamed fit's file held out of the fit (for calibration), which a model
  /// may score to measure itself (knn's IVF recall); null when there are none.
  const std::vector<std::int64_t>* held_out = nullptr;
};

/// A fitted model's parameters: named arrays of doubles, and its settings as JSON.
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
  /// Format version the file needs: 1, or 2 for settings that version-1 readers would ignore
  /// (gaussian/mahalanobis with a --normalize other than none).
  int format_version = 1;
};

class Detector {
 public:
  virtual ~Detector() = default;
  /// The registry name ("knn", "glow", ...).
  virtual std::string name() const = 0;
  /// The name in tables and plot legends ("flow (glow)", "knn").
  virtual std::string label() const { return name(); }
  /// What the score is, for plot axes.
  virtual std::string score_name() const { return name() + " score (higher = more ID)"; }
  /// JSON object describing the fitted model for reports (kind, settings, ...).
  virtual std::string describe() const;
  virtual Needs needs() const { return {}; }

  /// Fits on ID training rows in memory (needs().streamed_fit false). Throws Error naming
  /// the file and what is missing (logits, labels, head) and how to produce it.
  virtual void fit(const FeatureSet& train, const FitContext& context);
  /// Fits on the listed rows (ascending) of a feature file (needs().streamed_fit true).
  virtual void fit(const io::FeatureFile& train, const std::vector<std::int64_t>& rows,
                   const FitContext& context);
  /// JSON object of what fitting measured (a flow's NLL, steps, speed), recorded in the
  /// model file as `summary`; "" when there is nothing to record.
  virtual std::string fit_summary() const { return ""; }
  /// JSON object of the fit settings that are not the model's parameters (a flow's lr,
  /// batch size, epochs), merged into the model file's `training` record.
  virtual std::string training_settings() const { return "{}"; }

  /// One score per row of `data`, higher = more in-distribution. Throws Error when `data`
  /// does not match what the model was fitted on. A row with finite values never gets NaN
  /// from make_detector's models: an overflow far outside the training data gives -inf (the
  /// most OOD); rows holding NaN/inf may score NaN.
  virtual std::vector<double> score(const FeatureSet& data) const = 0;
  /// The feature dimension it was fitted on; 0 for the models that read no features.
  virtual std::int64_t feature_dim() const = 0;

  /// Writes the fitted model to `path` atomically with `metadata` (provenance records) and
  /// the held-out calibration when given. The default stores state() as a detector file.
  virtual void save(const std::string& path, const std::map<std::string, std::string>& metadata,
                    const metrics::Calibration* calibration) const;
  /// Parameters as arrays, for the default save; models with their own file format
  /// (flows) do not implement them.
  virtual DetectorState state() const;
  virtual void restore(const DetectorState& state);
};

/// The model called `name` with `options`; Error listing the known names otherwise.
std::unique_ptr<Detector> make_detector(const std::string& name,
                                        const DetectorOptions& options = {});
/// Every name make_detector knows, in display order.
const std::vector<std::string>& detector_names();

/// Makes a model with the given options (registry entries).
using DetectorMaker = std::function<std::unique_ptr<Detector>(const DetectorOptions&)>;
/// Adds a model to the registry at run time (a test's toy model, an application's own
/// detector), after the built-in ones; its files load by name like theirs. Throws Error when
/// the name is taken. Not thread-safe: register before fitting or loading.
void register_detector(const std::string& name, DetectorMaker make);

/// A model file as load_model reads it.
struct LoadedModel {
  std::unique_ptr<Detector> detector;
  std::map<std::string, std::string> metadata;      ///< provenance: training, extraction, ...
  std::optional<metrics::Calibration> calibration;  ///< held-out ID scores, or none
};

/// Reads a model file of any kind (a flow or a baseline detector), told apart by its
/// metadata `format`; its `format_version` must be one this oodflow reads. Flows run on
/// `device`. Throws Error naming the file when it is no model file, or a newer one.
LoadedModel load_model(const std::string& path, const std::string& device = "cpu");

/// Writes a fitted baseline as a safetensors detector file (F64/F32 arrays, metadata
/// `format` oodflow.detector, `format_version`, `detector`, `settings`, plus `metadata`, and
/// the calibration when given), atomically. Detector::save's default.
void save_detector_state(const std::string& path, const Detector& detector,
                         const std::map<std::string, std::string>& metadata,
                         const metrics::Calibration* calibration);

}  // namespace oodflow::detect
