#include <gtest/gtest.h>
#include <torch/torch.h>

#include "oodflow/core/error.h"
#include "oodflow/flow/flow_file.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/safetensors.h"
#include "test_util.h"

namespace oodflow::flow {
namespace {

FlowConfig small(const std::string& arch) {
  FlowConfig c;
  c.arch = arch;
  c.dim = 6;
  c.blocks = 2;
  c.hidden = 5;
  c.scale_clamp = 3;
  return c;
}

TEST(FlowFile, SaveLoadGivesTheSameDensity) {
  test::TempDir dir;
  for (const std::string arch : {"glow", "realnvp"}) {
    torch::manual_seed(1);
    Flow flow(small(arch));
    const torch::Tensor x = torch::randn({32, 6});
    flow.data_init(x);
    {
      torch::NoGradGuard g;
      for (auto& p : flow.parameters()) p.add_(0.1 * torch::randn_like(p));
    }
    const Normalizer standardize = Normalizer::standardize({1, 2, 3, 4, 5, 6}, {1, 1, 2, 2, 3, 3});
    save_flow(dir.path("f.safetensors"), flow, standardize, {{"training", "{}"}});
    LoadedFlow loaded = load_flow(dir.path("f.safetensors"));
    EXPECT_EQ(loaded.flow->config().arch, arch);
    EXPECT_EQ(loaded.flow->config().scale_clamp, 3);
    EXPECT_EQ(loaded.normalizer.kind(), Normalization::kStandardize);
    EXPECT_EQ(loaded.normalizer.std(), standardize.std());
    EXPECT_EQ(loaded.metadata.at("training"), "{}");
    torch::NoGradGuard g;
    EXPECT_TRUE(torch::equal(loaded.flow->log_prob(x), flow.log_prob(x))) << arch;
  }
}

void expect_load_error(const std::string& path, const std::string& needle) {
  test::expect_error([&] { load_flow(path); }, {path, needle});
}

TEST(FlowFile, RejectsFilesThatAreNotValidFlows) {
  test::TempDir dir;
  const std::vector<float> v(4, 1.0f);
  io::FeatureFileContents c;
  c.rows = 2;
  c.dim = 2;
  c.features = v.data();
  io::write_feature_file(dir.path("features.safetensors"), c);
  expect_load_error(dir.path("features.safetensors"), "not an oodflow flow file");

  torch::manual_seed(1);
  Flow flow(small("glow"));
  save_flow(dir.path("good.safetensors"), flow, Normalizer(), {});
  const std::string good = test::read_bytes(dir.path("good.safetensors"));
  test::write_bytes(dir.path("truncated.safetensors"), good.substr(0, good.size() - 10));
  expect_load_error(dir.path("truncated.safetensors"), "truncated");

  // Same metadata, a parameter of the wrong shape.
  io::SafetensorsFile parsed(dir.path("good.safetensors"));
  std::vector<io::TensorSpec> tensors;
  for (const auto& [name, t] : parsed.view().tensors) {
    tensors.push_back({name, t.dtype, t.shape, t.data});
  }
  for (auto& t : tensors) {
    if (t.name == "0.shift") t.shape = {3};
  }
  io::write_safetensors(dir.path("badshape.safetensors"), tensors, parsed.view().metadata);
  expect_load_error(dir.path("badshape.safetensors"), "wrong shape");

  auto meta = parsed.view().metadata;
  meta["format_version"] = "99";
  io::write_safetensors(dir.path("future.safetensors"), {}, meta);
  expect_load_error(dir.path("future.safetensors"), "version 99");
}

}  // namespace
}  // namespace oodflow::flow
