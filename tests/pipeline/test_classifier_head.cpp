// ReAct and ViM find the classifier head whatever the backbone calls it: the linear layer that
// maps the stored features to the stored logits. The backbones (scripts/make_input_fixtures.py)
// name it as torchvision (`fc`), timm (`head.fc`) and VGG/MobileNet (`classifier.1`, beside a
// decoy `aux` of the same shape) do.
#include <gtest/gtest.h>
#include <torch/script.h>

#include "oodflow/detect/detector.h"
#include "oodflow/pipeline/classifier_head.h"
#include "oodflow/pipeline/extract_command.h"
#include "oodflow/pipeline/fit_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

class ClassifierHead : public ::testing::Test {
 protected:
  // Extracts the fixture images with `model` and fits `detector` on them.
  FitOptions extract_and_fit(const std::string& model, const std::string& detector = "react") {
    ExtractOptions e;
    e.model = test::data_path("inputs/" + model);
    e.data = test::data_path("extract/images");
    e.out = dir_.path(model + ".safetensors");
    e.batch_size = 4;
    run_extract(e);
    FitOptions f;
    f.detector = detector;
    f.features = e.out;
    f.out = dir_.path(model + "." + detector + ".safetensors");
    f.val_fraction = 0;
    f.options.vim_principal = 4;
    return f;
  }
  // The parameter `name` of the TorchScript module, as float32 values.
  static std::vector<double> parameter(const std::string& model, const std::string& name) {
    const torch::jit::Module m = torch::jit::load(test::data_path("inputs/" + model));
    for (const auto& p : m.named_parameters()) {
      if (p.name == name) {
        const torch::Tensor t = p.value.to(torch::kFloat64).contiguous();
        return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
      }
    }
    ADD_FAILURE() << "no parameter " << name;
    return {};
  }
  test::TempDir dir_;
};

TEST_F(ClassifierHead, FoundUnderTheNamesOfTorchvisionTimmAndVgg) {
  // Before: "has no classifier head (a submodule 'head' ...)" for each of them.
  for (const auto& [model, layer] :
       std::vector<std::pair<std::string, std::string>>{{"head_fc.pt", "fc"},
                                                        {"head_timm.pt", "head.fc"},
                                                        {"head_classifier.pt", "classifier.1"}}) {
    SCOPED_TRACE(model);
    for (const std::string detector : {"react", "vim"}) {
      const FitOptions f = extract_and_fit(model, detector);
      run_fit(f);
      const detect::DetectorState state = detect::load_model(f.out).detector->state();
      const auto weight = state.arrays.at("weight");
      const std::vector<double> stored =
          weight.floats ? std::vector<double>(weight.floats, weight.floats + 80) : weight.values;
      EXPECT_EQ(stored, parameter(model, layer + ".weight"));  // not the decoy `aux`
    }
  }
}

TEST_F(ClassifierHead, NamedByHeadParamAndCheckedAgainstTheLogits) {
  FitOptions f = extract_and_fit("head_classifier.pt");
  f.head_param = "classifier.1.weight";
  run_fit(f);
  f.head_param = "aux";  // right shape, wrong map
  test::expect_error([&] { run_fit(f); },
                     {"head_classifier.pt", "--head-layer aux cannot be the classifier head",
                      "does not give the stored logits"});
  f.head_param = "fc";
  test::expect_error([&] { run_fit(f); },
                     {"no linear layer 'fc'", "aux [5, 16]", "classifier.1 [5, 16]"});
}

TEST_F(ClassifierHead, LogitsFromAnMlpHaveNoLinearHeadAndTheErrorListsWhatWasTried) {
  const FitOptions f = extract_and_fit("head_mlp.pt");
  test::expect_error([&] { run_fit(f); }, {"head_mlp.pt", "no linear layer maps the 16-d features",
                                           "to its 5 logits", "'hidden' [16, 16] (not [5, 16])",
                                           "'out' [5, 16] (does not give", "--head-layer"});
}

TEST(ClassifierHeadChoice, WithoutLogitsTheOnlyLayerOfTheRightWidthOrAnError) {
  extract::LinearLayer a{"a", 2, 3, {1, 0, 0, 0, 1, 0}, {0, 0}};
  extract::LinearLayer b{"b", 4, 3, std::vector<float>(12, 1.0F), std::vector<float>(4, 0.0F)};
  extract::LinearLayer c{"c", 2, 5, std::vector<float>(10, 1.0F), std::vector<float>(2, 0.0F)};
  detect::FeatureSet no_logits;
  no_logits.rows = 1;
  no_logits.dim = 3;
  no_logits.features = {1, 2, 3};
  no_logits.source = "x.safetensors";
  EXPECT_EQ(find_classifier_head({a, c}, no_logits, "", "m.pt").classes, 2);
  test::expect_error(
      [&] {
        find_classifier_head({a, b}, no_logits, "", "m.pt");
      },
      {"m.pt", "several linear layers", "--head-layer"});
  // With logits, the layer that gives them wins, within float16 rounding of the features.
  detect::FeatureSet with_logits = no_logits;
  with_logits.classes = 4;
  with_logits.logits = {6.003F, 6, 6, 6};
  EXPECT_EQ(find_classifier_head({a, b, c}, with_logits, "", "m.pt").source, "m.pt (layer 'b')");
  with_logits.logits = {6.1F, 6, 6, 6};
  test::expect_error(
      [&] {
        find_classifier_head({a, b, c}, with_logits, "", "m.pt");
      },
      {"no linear layer maps", "'b' [4, 3] (does not give the stored logits"});
}

}  // namespace
}  // namespace oodflow::pipeline
