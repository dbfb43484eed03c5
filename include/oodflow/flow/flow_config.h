// The architecture of a normalizing flow over feature vectors, as stored in flow files.
// Torch-free so that option parsing and file metadata need no LibTorch headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oodflow::flow {

struct FlowConfig {
  /// "glow": K x [ActNorm, LU invertible linear, masked affine coupling];
  /// "realnvp": K x [masked affine coupling (alternating masks), ActNorm].
  std::string arch = "glow";
  /// Feature dimension d.
  std::int64_t dim = 0;
  /// Number of blocks K.
  std::int64_t blocks = 10;
  /// Hidden width of the coupling MLPs (the reference uses d).
  std::int64_t hidden = 0;
  /// Soft clamp c of the coupling log-scale, s -> c * tanh(s / c); 0 disables it (reference).
  double scale_clamp = 0;
  /// Base distribution of the latent z: "normal" = N(0, I) (the paper); "class" = one
  /// N(m_c, I) per ID class c with learned means m_c and fixed priors pi_c (the training
  /// frequencies), which with the flow's Jacobian is a class-conditional density with a
  /// shared covariance in feature space (Mahalanobis's model when the flow is linear).
  std::string base = "normal";
  /// Number of classes of the "class" base (0 with "normal").
  std::int64_t classes = 0;
  /// Score of the "class" base: "marginal" = log sum_c pi_c p(x | c), "max" = max_c log p(x | c).
  std::string class_score = "marginal";
};

/// Known base names ("normal", "class") and class-score names ("marginal", "max").
const std::vector<std::string>& flow_base_names();
const std::vector<std::string>& class_score_names();

/// Known architecture names, in display order.
const std::vector<std::string>& flow_arch_names();
/// Default block count of an architecture (glow 10, realnvp 4, as in the reference recipe).
std::int64_t default_blocks(const std::string& arch);
/// Throws Error naming the field when the configuration is unusable.
void validate(const FlowConfig& config);

/// JSON text of the configuration, for file metadata.
std::string to_json_text(const FlowConfig& config);
/// Parses to_json_text's output; `source` names the file in errors.
FlowConfig flow_config_from_json_text(const std::string& text, const std::string& source);

}  // namespace oodflow::flow
