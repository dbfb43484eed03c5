// The in-memory view of one set of samples that detectors fit on and score: features, and
// the logits, labels and extraction-time scores when the feature file has them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "oodflow/io/feature_file.h"

namespace oodflow::detect {

/// The backbone's classifier head, logits = features W^T + b, for the detectors that
/// recompute logits from (modified) features: ReAct, ViM.
struct ClassifierHead {
  std::int64_t classes = 0;
  std::int64_t dim = 0;
  std::vector<float> weight;  ///< [classes, dim]
  std::vector<float> bias;    ///< [classes]
  std::string source;         ///< where it was read from
};

/// A per-sample score computed at extraction time (ODIN, ...), stored in the feature file
/// under its name with the settings it was computed with (README: Files).
struct AuxScore {
  std::string name;            ///< "odin"
  std::string settings;        ///< JSON object of the settings that change the values
  std::vector<double> values;  ///< [rows]
};

struct FeatureSet {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::vector<float> features;  ///< [rows, dim]
  std::int64_t classes = 0;
  std::vector<float> logits;         ///< [rows, classes]; empty without logits
  std::vector<std::int64_t> labels;  ///< [rows]; empty without labels
  std::vector<AuxScore> aux;         ///< extraction-time scores, in the file's order
  std::string source;                ///< the file, for error messages
  std::int64_t first = 0;            ///< sample number of row 0 in `source`, for messages

  /// The auxiliary score called `name`, or null.
  const AuxScore* find_aux(const std::string& name) const;
  /// The rows (ascending) with a NaN/inf feature, logit or auxiliary score.
  std::vector<std::int64_t> nonfinite_rows() const;

  /// Reads every row of `file` (features, logits, labels) into memory.
  static FeatureSet load(const io::FeatureFile& file);
  /// Reads rows [begin, begin + count).
  static FeatureSet load(const io::FeatureFile& file, std::int64_t begin, std::int64_t count);
  /// Reads the rows listed in `rows` (in that order).
  static FeatureSet load(const io::FeatureFile& file, const std::vector<std::int64_t>& rows);
};

}  // namespace oodflow::detect
