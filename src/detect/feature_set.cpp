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

FeatureSet FeatureSet::load(const io::FeatureFile& file, const std::vector<std::int64_t>& rows) {
  FeatureSet s;
  s.rows = static_cast<std::int64_t>(rows.size());
  s.dim = file.dim();
  s.source = file.path();
  s.features.resize(static_cast<std::size_t>(s.rows * s.dim));
  file.gather_rows(rows.data(), s.rows, s.features.data());
  if (file.has_logits()) {
    s.classes = file.logits_dim();
    s.logits.resize(static_cast<std::size_t>(s.rows * s.classes));
    for (std::int64_t i = 0; i < s.rows; ++i) {
      file.read_logits(rows[static_cast<std::size_t>(i)], 1, s.logits.data() + i * s.classes);
    }
  }
  if (file.has_labels()) {
    const std::vector<std::int64_t> all = file.labels();
    for (std::int64_t r : rows) s.labels.push_back(all[static_cast<std::size_t>(r)]);
  }
  return s;
}

}  // namespace oodflow::detect
