#include "oodflow/pipeline/classifier_head.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "oodflow/core/error.h"

namespace oodflow::pipeline {
namespace {

// Rows compared: enough that a wrong layer cannot match by chance, few enough to be instant.
constexpr std::int64_t kEvidenceRows = 256;
// Relative to sum_k |w_ck x_k| + |b_c|, the largest possible size of the rounding: float16
// storage of the features rounds each to 2^-11 of itself; float32 sums add far less.
constexpr double kRelativeTolerance = 2e-3;

// The largest error of `layer` on the stored logits, in units of the tolerance (<= 1: it
// reproduces them).
double logit_error(const extract::LinearLayer& layer, const detect::FeatureSet& e) {
  const std::int64_t rows = std::min(e.rows, kEvidenceRows);
  double worst = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = e.features.data() + r * e.dim;
    for (std::int64_t c = 0; c < layer.classes; ++c) {
      const float* w = layer.weight.data() + c * layer.dim;
      double y = layer.bias[static_cast<std::size_t>(c)];
      double scale = std::abs(y);
      for (std::int64_t k = 0; k < layer.dim; ++k) {
        y += static_cast<double>(w[k]) * x[k];
        scale += std::abs(static_cast<double>(w[k]) * x[k]);
      }
      const double stored = e.logits[static_cast<std::size_t>(r * e.classes + c)];
      const double error = std::abs(y - stored) / (kRelativeTolerance * scale + 1e-6);
      if (!(error <= worst)) worst = error;  // NaN counts as the worst
    }
  }
  return worst;
}

std::string shape(const extract::LinearLayer& l) {
  return "[" + std::to_string(l.classes) + ", " + std::to_string(l.dim) + "]";
}

detect::ClassifierHead as_head(const extract::LinearLayer& l, const std::string& backbone_path) {
  detect::ClassifierHead head;
  head.classes = l.classes;
  head.dim = l.dim;
  head.weight = l.weight;
  head.bias = l.bias;
  head.source = backbone_path + " (layer '" + l.name + "')";
  return head;
}

}  // namespace

detect::ClassifierHead find_classifier_head(const std::vector<extract::LinearLayer>& layers,
                                            const detect::FeatureSet& evidence,
                                            const std::string& param,
                                            const std::string& backbone_path) {
  const bool has_logits = evidence.classes > 0 && evidence.rows > 0;
  std::string wanted = param;
  if (wanted.size() > 7 && wanted.compare(wanted.size() - 7, 7, ".weight") == 0) {
    wanted.resize(wanted.size() - 7);
  }
  std::ostringstream tried;
  std::vector<const extract::LinearLayer*> found;
  for (const auto& layer : layers) {
    if (!wanted.empty() && layer.name != wanted) continue;
    tried << (tried.tellp() > 0 ? "; " : "") << "'" << layer.name << "' " << shape(layer);
    if (layer.dim != evidence.dim || (has_logits && layer.classes != evidence.classes)) {
      tried << " (not [" << (has_logits ? std::to_string(evidence.classes) : "C") << ", "
            << evidence.dim << "])";
      continue;
    }
    if (has_logits) {
      const double error = logit_error(layer, evidence);
      if (!(error <= 1)) {
        tried << " (does not give the stored logits: off by " << error
              << "x the rounding tolerance)";
        continue;
      }
    }
    found.push_back(&layer);
  }
  const std::string what = "backbone '" + backbone_path + "'";
  if (found.empty()) {
    std::string names;
    for (const auto& l : layers) names += (names.empty() ? "" : ", ") + l.name + " " + shape(l);
    OODFLOW_CHECK(!layers.empty(), what << " has no linear layer (no 2-D '<name>.weight' "
                                           "parameter), so no classifier head for ReAct/ViM");
    OODFLOW_CHECK(!wanted.empty(),
                  what << ": no linear layer maps the " << evidence.dim << "-d features of '"
                       << evidence.source << "' to its "
                       << (has_logits ? std::to_string(evidence.classes) + " logits" : "logits")
                       << "; tried " << tried.str()
                       << ". Name the head with --head-layer NAME, or export the backbone "
                          "with scripts/export_backbone.py");
    OODFLOW_CHECK(tried.tellp() > 0, what << " has no linear layer '" << wanted
                                          << "'; its linear layers are: " << names);
    OODFLOW_FAIL(what << ": --head-layer " << param << " cannot be the classifier head of '"
                      << evidence.source << "': " << tried.str());
  }
  // Equal layers (a head shared under two names) are one head; different ones that both
  // reproduce the logits cannot be told apart without logits.
  const extract::LinearLayer& head = *found.front();
  for (const auto* other : found) {
    OODFLOW_CHECK(
        other->weight == head.weight && other->bias == head.bias,
        what << ": "
             << (has_logits ? "several" : "without logits in '" + evidence.source + "', several")
             << " linear layers could be the classifier head (" << tried.str()
             << "); name it with --head-layer NAME");
  }
  return as_head(head, backbone_path);
}

}  // namespace oodflow::pipeline
