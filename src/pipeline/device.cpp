#include "oodflow/pipeline/device.h"

#include <torch/cuda.h>

#include "oodflow/core/error.h"

namespace oodflow::pipeline {

void check_device(const std::string& device) {
  OODFLOW_CHECK(device == "cpu" || device.rfind("cuda", 0) == 0,
                "--device must be cpu or cuda[:N], got '" << device << "'");
  if (device != "cpu") {
    OODFLOW_CHECK(torch::cuda::is_available(),
                  "--device " << device << ": this LibTorch build or machine has no CUDA device");
  }
}

}  // namespace oodflow::pipeline
