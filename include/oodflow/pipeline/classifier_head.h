// Which linear layer of a backbone is its classifier head, for the detectors that recompute
// logits from modified features (ReAct, ViM). Backbones name it as their library does (`fc`
// in torchvision, `head.fc` in timm, `classifier.1` in VGG/MobileNet, `head` in
// scripts/export_backbone.py), so the name decides nothing: the head is the layer that maps
// the stored features to the stored logits, checked on sample rows.
#pragma once

#include <string>
#include <vector>

#include "oodflow/detect/feature_set.h"
#include "oodflow/extract/backbone.h"

namespace oodflow::pipeline {

/// Picks the head among `layers` (from Backbone::linear_layers of `backbone_path`).
/// `evidence` holds rows of the feature file: the head is a layer of weight [C, D] for its
/// D features and C logits whose x W^T + b equals the stored logits on every row, within the
/// rounding of float32 (or float16) storage. `param`, when set, names the layer ("fc" or
/// "fc.weight") and is checked the same way. Without logits in `evidence` the only layer of
/// input dimension D is taken. Throws Error naming the backbone and every layer tried (with
/// its shape and its error on the logits) when no layer, or more than one, qualifies.
detect::ClassifierHead find_classifier_head(const std::vector<extract::LinearLayer>& layers,
                                            const detect::FeatureSet& evidence,
                                            const std::string& param,
                                            const std::string& backbone_path);

}  // namespace oodflow::pipeline
