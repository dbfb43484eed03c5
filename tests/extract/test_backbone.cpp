// Backbones built here as TorchScript modules (no Python): tensor, tuple, list and dict
// outputs, other methods, and the ways a backbone can be wrong.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "oodflow/extract/backbone.h"
#include "test_util.h"

namespace oodflow::extract {
namespace {

// A module whose features are the per-channel means of the input and whose logits are
// (sum, max) of those: outputs a test can compute by hand.
std::string save_module(const test::TempDir& dir, const std::string& name,
                        const std::string& forward_body, const std::string& extra = "") {
  torch::jit::Module m("Tiny");
  m.register_parameter("scale", torch::ones({1}), false);
  m.define("def features(self, x):\n    return x.mean(dim=[2, 3]) * self.scale\n" +
           std::string("def forward(self, x):\n    f = self.features(x)\n") + forward_body + extra);
  const std::string path = dir.path(name + ".pt");
  m.save(path);
  return path;
}

const std::vector<float> kInput = {1, 2, 3, 4, 10, 20, 30, 40,   // image 0: channels 0, 1
                                   0, 0, 0, 0, -4, -4, -4, -4};  // image 1

BackboneOptions at(const std::string& path, const std::string& method = "forward",
                   const std::string& features = "", const std::string& logits = "") {
  BackboneOptions o;
  o.path = path;
  o.method = method;
  o.features_key = features;
  o.logits_key = logits;
  return o;
}

BackboneOutputs run(Backbone& b) {
  return b.run(kInput.data(), 2, 2, 2, 2);
}

TEST(Backbone, DictOutputWithDefaultAndCustomKeys) {
  test::TempDir dir;
  const std::string path = save_module(dir, "dict",
                                       "    return {'features': f, 'logits': "
                                       "torch.stack([f.sum(1), f.amax(1)], 1), 'extra': f * 2}\n");
  Backbone b(at(path));
  const BackboneOutputs y = run(b);
  ASSERT_EQ(y.dim, 2);
  ASSERT_EQ(y.classes, 2);
  EXPECT_EQ(y.features, (std::vector<float>{2.5f, 25, 0, -4}));
  EXPECT_EQ(y.logits, (std::vector<float>{27.5f, 25, -4, 0}));
  EXPECT_NE(b.describe().find("\"output\":\"dict\""), std::string::npos);

  Backbone custom(at(path, "forward", "extra", "none"));
  const BackboneOutputs z = run(custom);
  EXPECT_EQ(z.features, (std::vector<float>{5, 50, 0, -8}));
  EXPECT_TRUE(z.logits.empty());

  Backbone missing(at(path, "forward", "penultimate"));
  test::expect_error([&] { run(missing); },
                     {"dict.pt", "no 'penultimate' entry", "features, logits, extra"});
}

TEST(Backbone, TupleListAndTensorOutputs) {
  test::TempDir dir;
  Backbone tuple(at(save_module(dir, "tuple", "    return f.sum(1, keepdim=True), f\n")));
  BackboneOutputs y = run(tuple);
  EXPECT_EQ(y.dim, 1);  // position 0 = features, 1 = logits
  EXPECT_EQ(y.classes, 2);
  EXPECT_EQ(y.features, (std::vector<float>{27.5f, -4}));

  Backbone swapped(at(save_module(dir, "tuple2", "    return f.sum(1, keepdim=True), f\n"),
                      "forward", "1", "0"));
  y = run(swapped);
  EXPECT_EQ(y.dim, 2);
  EXPECT_EQ(y.classes, 1);

  Backbone list(at(save_module(dir, "list", "    return [f]\n")));
  y = run(list);
  EXPECT_EQ(y.dim, 2);
  EXPECT_TRUE(y.logits.empty());  // a one-element list has no logits

  Backbone tensor(at(save_module(dir, "tensor", "    return f.unsqueeze(2).unsqueeze(3)\n")));
  y = run(tensor);  // [B, D, 1, 1] pooled maps are flattened
  EXPECT_EQ(y.features, (std::vector<float>{2.5f, 25, 0, -4}));

  Backbone keyed(at(save_module(dir, "tensor2", "    return f\n"), "forward", "features"));
  test::expect_error([&] { run(keyed); }, {"single tensor", "--features-key"});
}

TEST(Backbone, OtherMethodsAndMissingOnes) {
  test::TempDir dir;
  const std::string path = save_module(dir, "methods", "    return f\n");
  Backbone features(at(path, "features"));
  EXPECT_EQ(run(features).dim, 2);
  test::expect_error([&] { Backbone(at(path, "forward_head")); },
                     {"methods.pt", "no method 'forward_head'", "forward"});
}

TEST(Backbone, WrongOutputsAndRejectedInputsNameTheFile) {
  test::TempDir dir;
  Backbone vector(at(save_module(dir, "vector", "    return f.sum(1)\n")));
  test::expect_error([&] { run(vector); }, {"vector.pt", "shape [2]", "expected [2, D]"});
  Backbone maps(at(save_module(dir, "maps", "    return x\n")));
  test::expect_error([&] { run(maps); }, {"maps.pt", "shape [2, 2, 2, 2]"});
  Backbone fixed(at(save_module(dir, "fixed", "    return x.view(2, 12)\n")));
  // The message keeps TorchScript's cause, not its generic first line.
  test::expect_error([&] { run(fixed); }, {"fixed.pt", "rejected an input of shape [2, 2, 2, 2]",
                                           "invalid for input of size 16"});

  test::write_bytes(dir.path("junk.pt"), "this is not a zip archive");
  test::expect_error([&] { Backbone(at(dir.path("junk.pt"))); },
                     {"junk.pt", "cannot load backbone", "TorchScript"});
  test::expect_error([&] { Backbone(at(dir.path("absent.pt"))); }, {"absent.pt"});
}

}  // namespace
}  // namespace oodflow::extract
