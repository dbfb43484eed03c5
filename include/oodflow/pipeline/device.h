// The --device option shared by the commands that run a flow.
#pragma once

#include <string>

namespace oodflow::pipeline {

/// Accepts "cpu", "cuda" and "cuda:N"; throws Error when the name is malformed or when
/// CUDA is asked for but this LibTorch build or machine has no CUDA device.
void check_device(const std::string& device);

}  // namespace oodflow::pipeline
