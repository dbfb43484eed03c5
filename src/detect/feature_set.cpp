#include "oodflow/detect/feature_set.h"

namespace oodflow::detect {

FeatureSet FeatureSet::load(const io::FeatureFile& file) {
  FeatureSet s;
  s.rows = file.rows();
  s.dim = file.dim();
  s.source = file.path();
  s.features.resize(static_cast<std::size_t>(s.rows * s.dim));
  file.read_rows(0, s.rows, s.features.data());
  if (file.has_logits()) {
    s.classes = file.logits_dim();
    s.logits.resize(static_cast<std::size_t>(s.rows * s.classes));
    file.read_logits(0, s.rows, s.logits.data());
  }
  s.labels = file.labels();
  return s;
}

}  // namespace oodflow::detect
