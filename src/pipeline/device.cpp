#include "oodflow/pipeline/device.h"

#include <torch/cuda.h>
#include <torch/types.h>

#include "oodflow/core/error.h"

namespace oodflow::pipeline {

void check_device(const std::string& device) {
  OODFLOW_CHECK(device == "cpu" || device.rfind("cuda", 0) == 0,
                "--device must be cpu or cuda[:N], got '" << device << "'");
  if (device == "cpu") return;
  std::int64_t index = 0;
  try {
    index = torch::Device(device).index();
  } catch (const std::exception&) {
    OODFLOW_FAIL("--device must be cpu, cuda or cuda:N, got '" << device << "'");
  }
  OODFLOW_CHECK(torch::cuda::is_available(),
                "--device " << device << ": this LibTorch build or machine has no CUDA device");
  OODFLOW_CHECK(index < static_cast<std::int64_t>(torch::cuda::device_count()),
                "--device " << device << ": this machine has " << torch::cuda::device_count()
                            << " CUDA device(s)");
}

}  // namespace oodflow::pipeline
