// A pretrained backbone exported as TorchScript (scripts/export_backbone.py writes one). It
// takes a float [B, C, H, W] batch of preprocessed images and returns the penultimate-layer
// features and, when it has them, the logits: as a tensor (features only), a tuple or list
// (selected by position) or a dict (selected by key). LibTorch stays behind this interface,
// so the extraction pipeline compiles without it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace oodflow::extract {

struct BackboneOptions {
  // TorchScript file (torch.jit.save / torch::jit::Module::save).
  std::string path;
  // Exported method to call, e.g. forward_features.
  std::string method = "forward";
  // Which output is the features: a dict key or a tuple/list position; empty = "features"
  // for dicts, 0 for tuples, the tensor itself otherwise.
  std::string features_key;
  // Which output is the logits; empty = "logits" for dicts (when present), 1 for tuples of
  // two or more; "none" = do not store logits.
  std::string logits_key;
  // cpu, cuda or cuda:N.
  std::string device = "cpu";
};

/// ODIN (Liang et al., "Enhancing the Reliability of Out-of-distribution Image Detection in
/// Neural Networks", ICLR 2018): the max softmax at temperature T of the logits of the input
/// perturbed by x~ = x - epsilon * sign(grad_x loss) / std, loss = -log softmax(z(x) / T)
/// of the predicted class. The input is the preprocessed (normalised) one, as in the
/// authors' code: dividing the sign by the per-channel std of Normalize makes the step
/// epsilon on the [0,1] pixel scale. A zero gradient counts as +1 (their torch.ge(grad, 0)).
struct OdinSettings {
  double temperature = 1000;
  double epsilon = 0.0014;
  // Per-channel std of the preprocessing (one value for all channels; empty = 1).
  std::vector<double> std;
};

/// Throws Error naming the value when T <= 0, eps < 0 or a std <= 0.
void validate(const OdinSettings& odin);

/// One batch of outputs, row-major.
struct BackboneOutputs {
  std::vector<float> features;  ///< [batch, dim]
  std::int64_t dim = 0;
  std::vector<float> logits;  ///< [batch, classes], empty when the backbone gives none
  std::int64_t classes = 0;
  std::vector<double> odin;  ///< [batch] ODIN scores when asked for, else empty
};

/// A linear map y = x W^T + b found among a model's parameters.
struct LinearLayer {
  std::string name;  ///< the module path, e.g. "fc", "head.fc", "classifier.1"
  std::int64_t classes = 0;
  std::int64_t dim = 0;
  std::vector<float> weight;  ///< [classes, dim]
  std::vector<float> bias;    ///< [classes]
};

class Backbone {
 public:
  /// Loads the module in eval mode; throws Error naming the file when it is not TorchScript
  /// or lacks the method.
  explicit Backbone(const BackboneOptions& options);
  ~Backbone();
  Backbone(const Backbone&) = delete;
  Backbone& operator=(const Backbone&) = delete;

  /// Runs `input` [batch, channels, height, width] without autograd. Throws Error naming the
  /// file when the module rejects the input or returns outputs of the wrong shape.
  BackboneOutputs run(const float* input, std::int64_t batch, int channels, int height, int width);
  /// As run(), plus the ODIN score of every image: a forward pass with autograd on the input
  /// only (the parameters are frozen), a backward pass and a forward pass on the perturbed
  /// input. The features and logits are those of a plain run(). Throws Error naming the file
  /// when the backbone gives no logits or no gradient with respect to its input.
  BackboneOutputs run_odin(const float* input, std::int64_t batch, int channels, int height,
                           int width, const OdinSettings& odin);

  const BackboneOptions& options() const { return options_; }
  /// Every linear layer of the model: each 2-D parameter `<name>.weight` [C, D] with its
  /// `<name>.bias` [C] (zeros when there is none), in the module's order, row-major float32.
  /// One of them is usually the classifier head, whatever it is called (`head` in
  /// scripts/export_backbone.py's wrapper, `fc` in torchvision, `head.fc` in timm).
  std::vector<LinearLayer> linear_layers() const;
  /// SHA-256 of the TorchScript file.
  const std::string& sha256() const { return sha256_; }
  /// JSON object: path, sha256, method, output kind and the keys used (after the first run).
  std::string describe() const;

 private:
  BackboneOutputs run_checked(const float* input, std::int64_t batch, int channels, int height,
                              int width, const OdinSettings* odin);
  BackboneOutputs run_batch(const float* input, std::int64_t batch, int channels, int height,
                            int width, const OdinSettings* odin);

  struct Impl;
  BackboneOptions options_;
  std::string sha256_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oodflow::extract
