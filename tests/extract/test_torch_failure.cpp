// LibTorch failures summarised from the line that names the cause, with the remedy of their
// kind: a model that needs CUDA, Half weights, a wrong input shape. The backbones are
// TorchScript files exported by scripts/make_input_fixtures.py as other tools export them.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <stdexcept>

#include "oodflow/core/torch_failure.h"
#include "oodflow/extract/backbone.h"
#include "test_util.h"

namespace oodflow::extract {
namespace {

// The shape of the texts TorchScript gives (as torch 1.13 prints them).
const char* kCudaText =
    "The following operation failed in the TorchScript interpreter.\n"
    "Traceback of TorchScript, serialized code (most recent call last):\n"
    "  File \"code/__torch__.py\", line 9, in forward\n"
    "    offset = torch.zeros([1], dtype=None, layout=None, device=torch.device(\"cuda\"))\n"
    "             ~~~~~~~~~~~ <--- HERE\n"
    "RuntimeError: Could not run 'aten::empty.memory_format' with arguments from the 'CUDA' "
    "backend. This could be because the operator doesn't exist for this backend, or was "
    "omitted during the selective/custom build process (if using custom build). If you are a "
    "Facebook employee using PyTorch on mobile, please visit https://fburl.com/ptmfixes for "
    "possible resolutions. 'aten::empty.memory_format' is only available for these backends: "
    "[CPU, Meta, PythonDispatcher].\n"
    "\n"
    "CPU: registered at ./build/aten/src/ATen/RegisterCPU.cpp:30798 [kernel]\n"
    "PythonDispatcher: registered at ./aten/src/ATen/core/PythonFallbackKernel.cpp:144 "
    "[backend fallback]\n";

TEST(TorchFailure, TheCauseLineAndItsKind) {
  const TorchFailure cuda = explain_torch_failure(std::runtime_error(kCudaText));
  EXPECT_EQ(cuda.kind, TorchFailureKind::kNeedsCuda);
  EXPECT_EQ(cuda.cause,
            "Could not run 'aten::empty.memory_format' with arguments from the 'CUDA' backend.");
  const TorchFailure half = explain_torch_failure(std::runtime_error(
      "The following operation failed in the TorchScript interpreter.\n  File \"x\"\n"
      "RuntimeError: Input type (float) and bias type (c10::Half) should be the same\n"));
  EXPECT_EQ(half.kind, TorchFailureKind::kDtype);
  EXPECT_EQ(half.cause, "Input type (float) and bias type (c10::Half) should be the same");
  EXPECT_NE(torch_failure_remedy(half, "Half").find("the model's weights are Half"),
            std::string::npos);
  const TorchFailure shape = explain_torch_failure(std::runtime_error(
      "RuntimeError: Given groups=1, weight of size [16, 3, 3, 3], expected input[8, 1, 24, 22] "
      "to have 3 channels, but got 1 channels instead"));
  EXPECT_EQ(shape.kind, TorchFailureKind::kShape);
  EXPECT_EQ(torch_failure_remedy(shape, ""), "");
  // x.cuda() in forward on a build without CUDA.
  EXPECT_EQ(explain_torch_failure(std::runtime_error("The following operation failed in the "
                                                     "TorchScript interpreter.\nRuntimeError: "
                                                     "PyTorch is not linked with support for cuda "
                                                     "devices"))
                .kind,
            TorchFailureKind::kNeedsCuda);
  const TorchFailure memory = explain_torch_failure(
      std::runtime_error("[enforce fail at alloc_cpu.cpp:75] . DefaultCPUAllocator: can't "
                         "allocate memory: you tried to allocate 1099511627776 bytes."));
  EXPECT_EQ(memory.kind, TorchFailureKind::kOutOfMemory);
}

BackboneOutputs run_images(const std::string& model, int channels = 3) {
  BackboneOptions o;
  o.path = test::data_path("inputs/" + model);
  Backbone backbone(o);
  const std::vector<float> input(static_cast<std::size_t>(2 * channels * 8 * 8), 0.5F);
  return backbone.run(input.data(), 2, channels, 8, 8);
}

TEST(TorchFailure, AModelThatPutsATensorOnCudaNamesCudaNotTheShapes) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  // Before: "(check --channels, --resize and --crop): PythonDispatcher: registered at ...".
  test::expect_error([] { run_images("cuda_in_forward.pt"); },
                     {"cuda_in_forward.pt",
                      "the model needs CUDA, which this machine/build does "
                      "not have",
                      "'CUDA' backend"});
  try {
    run_images("cuda_in_forward.pt");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("--channels"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("registered at"), std::string::npos) << e.what();
  }
}

TEST(TorchFailure, HalfWeightsFedFloatSayWhichDtypeTheWeightsAre) {
  test::expect_error([] { run_images("half_weights.pt"); },
                     {"half_weights.pt", "the model's weights are Half while its input is float32",
                      "model.float()"});
}

TEST(TorchFailure, AWrongChannelCountKeepsTheShapeHint) {
  test::expect_error([] { run_images("head_fc.pt", 1); },
                     {"head_fc.pt", "[2, 1, 8, 8]", "check --channels, --resize and --crop",
                      "expected input[2, 1, 8, 8] to have 3 channels"});
}

}  // namespace
}  // namespace oodflow::extract
