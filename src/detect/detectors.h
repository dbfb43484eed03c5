// Internal: the constructors of the detectors, used by the registry (registry.cpp), and
// the checks they share.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "oodflow/detect/detector.h"

namespace oodflow::detect {

std::unique_ptr<Detector> make_logit_detector(const std::string& name,
                                              const DetectorOptions& options);
std::unique_ptr<Detector> make_gaussian_detector(const std::string& name,
                                                 const DetectorOptions& options);
std::unique_ptr<Detector> make_knn_detector(const DetectorOptions& options);
std::unique_ptr<Detector> make_odin_detector();
std::unique_ptr<Detector> make_head_detector(const std::string& name,
                                             const DetectorOptions& options);
/// A normalizing flow of architecture `arch` (glow, realnvp), to fit.
std::unique_ptr<Detector> make_flow_detector(const std::string& arch,
                                             const DetectorOptions& options);
/// A flow read from its file (flow/flow_file.h), running on `device`.
std::unique_ptr<Detector> load_flow_detector(const std::string& path, const std::string& device);

/// Throws Error when `data`'s feature dimension differs from the fitted one.
void require_dim(const FeatureSet& data, std::int64_t dim, const std::string& detector);

}  // namespace oodflow::detect
