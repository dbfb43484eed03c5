// The in-memory view of one set of samples that detectors fit on and score: features, and
// the logits and labels when the feature file has them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "oodflow/io/feature_file.h"

namespace oodflow::detect {

struct FeatureSet {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::vector<float> features;  ///< [rows, dim]
  std::int64_t classes = 0;
  std::vector<float> logits;         ///< [rows, classes]; empty without logits
  std::vector<std::int64_t> labels;  ///< [rows]; empty without labels
  std::string source;                ///< the file, for error messages

  /// Reads every row of `file` (features, logits, labels) into memory.
  static FeatureSet load(const io::FeatureFile& file);
};

}  // namespace oodflow::detect
