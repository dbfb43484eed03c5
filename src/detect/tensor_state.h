// Internal: conversions between the detectors' double-precision tensors and the plain
// buffers of FeatureSet and DetectorState, shared by the torch-based detectors.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "oodflow/core/error.h"
#include "oodflow/detect/detector.h"

namespace oodflow::detect {

/// A float [rows, cols] buffer as a double tensor (a copy).
inline torch::Tensor to_double_tensor(const std::vector<float>& values, std::int64_t rows,
                                      std::int64_t cols) {
  return torch::from_blob(const_cast<float*>(values.data()), {rows, cols}, torch::kFloat32)
      .to(torch::kFloat64);
}

/// The values of a tensor, in order, as doubles.
inline std::vector<double> to_doubles(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous().to(torch::kFloat64);
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

inline DetectorState::Array to_array(const torch::Tensor& t) {
  DetectorState::Array a;
  a.shape = t.sizes().vec();
  a.values = to_doubles(t);
  return a;
}

/// The array `name` of a loaded state; Error when the file lacks it.
inline torch::Tensor from_array(const DetectorState& s, const std::string& name) {
  const auto it = s.arrays.find(name);
  OODFLOW_CHECK(it != s.arrays.end(), "detector file lacks the array '" << name << "'");
  return torch::tensor(it->second.values, torch::kFloat64).reshape(it->second.shape);
}

}  // namespace oodflow::detect
