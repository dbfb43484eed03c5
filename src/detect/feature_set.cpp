#include "oodflow/detect/feature_set.h"

#include <cmath>

namespace oodflow::detect {
namespace {

// Every auxiliary score of `file` with its settings and no values yet.
std::vector<AuxScore> aux_without_values(const io::FeatureFile& file) {
  std::vector<AuxScore> out;
  for (const std::string& name : file.aux_score_names()) {
    out.push_back({name, file.aux_settings(name), {}});
  }
  return out;
}

}  // namespace

const AuxScore* FeatureSet::find_aux(const std::string& name) const {
  for (const AuxScore& a : aux) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

FeatureSet FeatureSet::load(const io::FeatureFile& file) {
  return load(file, 0, file.rows());
}

FeatureSet FeatureSet::load(const io::FeatureFile& file, std::int64_t begin, std::int64_t count) {
  FeatureSet s;
  s.rows = count;
  s.dim = file.dim();
  s.source = file.path();
  s.first = begin;
  s.features.resize(static_cast<std::size_t>(s.rows * s.dim));
  file.read_rows(begin, s.rows, s.features.data());
  if (file.has_logits()) {
    s.classes = file.logits_dim();
    s.logits.resize(static_cast<std::size_t>(s.rows * s.classes));
    file.read_logits(begin, s.rows, s.logits.data());
  }
  if (file.has_labels()) {
    for (std::int64_t i = begin; i < begin + count; ++i) s.labels.push_back(file.label(i));
  }
  s.aux = aux_without_values(file);
  for (AuxScore& a : s.aux) {
    a.values.resize(static_cast<std::size_t>(count));
    file.read_aux(a.name, begin, count, a.values.data());
  }
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
    for (std::int64_t r : rows) s.labels.push_back(file.label(r));
  }
  s.aux = aux_without_values(file);
  for (AuxScore& a : s.aux) {
    a.values.resize(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) file.read_aux(a.name, rows[i], 1, &a.values[i]);
  }
  return s;
}

std::vector<std::int64_t> FeatureSet::nonfinite_rows() const {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < rows; ++i) {
    bool finite = true;
    for (std::int64_t d = 0; d < dim && finite; ++d) {
      finite = std::isfinite(features[static_cast<std::size_t>(i * dim + d)]);
    }
    for (std::int64_t c = 0; c < classes && finite; ++c) {
      finite = std::isfinite(logits[static_cast<std::size_t>(i * classes + c)]);
    }
    for (std::size_t k = 0; k < aux.size() && finite; ++k) {
      finite = std::isfinite(aux[k].values[static_cast<std::size_t>(i)]);
    }
    if (!finite) out.push_back(i);
  }
  return out;
}

}  // namespace oodflow::detect
