#include "oodflow/extract/backbone.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "oodflow/core/error.h"
#include "oodflow/core/sha256.h"
#include "oodflow/core/torch_failure.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/mapped_file.h"

namespace oodflow::extract {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

std::string shape_text(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

bool is_index(const std::string& key) {
  return !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
}

// "Float", "Half", ...: the dtype of the module's first floating-point parameter, or "".
std::string weights_dtype(const torch::jit::Module& module) {
  for (const torch::Tensor& p : module.parameters()) {
    if (p.is_floating_point()) return std::string(c10::toString(p.scalar_type()));
  }
  return "";
}

// One line for a failure of the model on `x`: the remedy for its kind, then LibTorch's cause.
std::string explain_failure(const std::exception& e, const torch::jit::Module& module,
                            const torch::Tensor& x) {
  const TorchFailure failure = explain_torch_failure(e);
  std::string remedy = torch_failure_remedy(failure, weights_dtype(module));
  if (remedy.empty() && x.requires_grad()) {
    remedy =
        "with autograd on the input, as ODIN needs (an in-place operation on the input "
        "fails so)";
  } else if (remedy.empty() && failure.kind == TorchFailureKind::kShape) {
    remedy = "check --channels, --resize and --crop";
  }
  return remedy.empty() ? failure.cause : remedy + ". LibTorch: " + failure.cause;
}

}  // namespace

struct Backbone::Impl {
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
  std::string output_kind;  // "tensor", "tuple", "list" or "dict", known after the first run
  std::string features_key;
  std::string logits_key;
  bool frozen = false;  // parameters set to requires_grad false (ODIN)

  // Picks one tensor out of the module's output; `role` and `key` for messages.
  torch::Tensor select(const c10::IValue& out, const std::string& key, const std::string& role,
                       const std::string& path) const {
    if (out.isTuple() || out.isList()) {
      const std::vector<c10::IValue> items =
          out.isTuple() ? out.toTuple()->elements().vec() : out.toList().vec();
      OODFLOW_CHECK(is_index(key) && key.size() < 10,
                    "backbone '" << path << "' returns a " << output_kind << " of " << items.size()
                                 << " outputs; the " << role << " key must be a position, got '"
                                 << key << "'");
      const auto index = std::stoul(key);
      OODFLOW_CHECK(index < items.size(), "backbone '" << path << "' returns " << items.size()
                                                       << " outputs; there is no " << role
                                                       << " output at position " << index);
      OODFLOW_CHECK(items[index].isTensor(), "backbone '" << path << "' output " << index << " ("
                                                          << role << ") is not a tensor");
      return items[index].toTensor();
    }
    const c10::Dict<c10::IValue, c10::IValue> dict = out.toGenericDict();
    std::string keys;
    for (const auto& entry : dict) {
      if (entry.key().isString()) keys += (keys.empty() ? "" : ", ") + entry.key().toStringRef();
    }
    const auto it = dict.find(c10::IValue(key));
    OODFLOW_CHECK(it != dict.end(), "backbone '" << path << "' returns no '" << key << "' entry ("
                                                 << role << "); its outputs are: " << keys);
    OODFLOW_CHECK(it->value().isTensor(),
                  "backbone '" << path << "' output '" << key << "' is not a tensor");
    return it->value().toTensor();
  }

  // Calls the method on `x`, naming the file and the input shape when the module rejects it.
  c10::IValue call(const BackboneOptions& o, const torch::Tensor& x) {
    try {
      return module.get_method(o.method)({x});
    } catch (const std::exception& e) {
      OODFLOW_FAIL("backbone '" << o.path << "' rejected an input of shape " << shape_text(x)
                                << ": " << explain_failure(e, module, x));
    }
  }

  // ODIN differentiates with respect to the input alone: gradients of the weights would cost
  // as much again and are never used.
  void freeze_parameters() {
    if (frozen) return;
    for (torch::Tensor p : module.parameters()) p.requires_grad_(false);
    frozen = true;
  }

  // ODIN scores of the batch `x` (requires_grad, already run: `out`), see OdinSettings.
  std::vector<double> odin_scores(const BackboneOptions& o, const torch::Tensor& x,
                                  const c10::IValue& out, const OdinSettings& odin) {
    OODFLOW_CHECK(logits_key != "none",
                  "backbone '" << o.path
                               << "' gives no logits (only features); ODIN needs the "
                                  "classifier's logits: export the backbone with its head, or "
                                  "name its logits output with --logits-key");
    const torch::Tensor logits = select(out, logits_key, "logits", o.path);
    OODFLOW_CHECK(logits.requires_grad(),
                  "backbone '" << o.path
                               << "' gives no gradient of its logits with respect to its input "
                                  "(it detaches them or runs under torch.no_grad); ODIN needs "
                                  "one: export the backbone without detach/no_grad");
    const std::int64_t batch = x.size(0);
    const torch::Tensor scaled = logits.reshape({batch, -1}) / odin.temperature;
    const torch::Tensor predicted = scaled.argmax(1, /*keepdim=*/true);
    // Each image's loss depends on its own input only (eval mode), so one backward pass of
    // the sum gives every image's gradient.
    const torch::Tensor loss = -torch::log_softmax(scaled, 1).gather(1, predicted).sum();
    const torch::Tensor gradient =
        torch::autograd::grad({loss}, {x}, {}, /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true)[0];
    OODFLOW_CHECK(gradient.defined(), "backbone '" << o.path
                                                   << "': its logits do not depend on its input "
                                                      "through autograd; ODIN needs a gradient");
    const std::int64_t channels = x.size(1);
    OODFLOW_CHECK(odin.std.size() <= 1 || static_cast<std::int64_t>(odin.std.size()) == channels,
                  "ODIN with backbone '" << o.path << "': " << odin.std.size()
                                         << " std values for an input of " << channels
                                         << " channels");
    std::vector<float> std_values(static_cast<std::size_t>(channels), 1.0F);
    for (std::int64_t c = 0; c < channels && !odin.std.empty(); ++c) {
      std_values[c] = static_cast<float>(odin.std.size() == 1 ? odin.std[0] : odin.std[c]);
    }
    c10::InferenceMode inference;
    const torch::Tensor std_tensor =
        torch::tensor(std_values).to(x.device()).reshape({1, channels, 1, 1});
    const torch::Tensor sign = torch::where(gradient >= 0, 1.0F, -1.0F);
    const torch::Tensor perturbed =
        x.detach() - static_cast<float>(odin.epsilon) * (sign / std_tensor);
    const c10::IValue again = call(o, perturbed);
    // In double: at T = 1000 the scores of a set differ in their fifth digit.
    const torch::Tensor z = select(again, logits_key, "logits", o.path).reshape({batch, -1});
    const torch::Tensor scores =
        torch::softmax(z.to(torch::kCPU, torch::kFloat64) / odin.temperature, 1)
            .amax(1)
            .contiguous();
    return std::vector<double>(scores.data_ptr<double>(), scores.data_ptr<double>() + batch);
  }

  // Resolves the default keys from the first output.
  void resolve_keys(const c10::IValue& out, const BackboneOptions& o) {
    const std::string& path = o.path;
    if (out.isTensor()) {
      output_kind = "tensor";
      OODFLOW_CHECK(o.features_key.empty(),
                    "backbone '" << path << "' returns a single tensor; --features-key '"
                                 << o.features_key << "' needs a tuple, list or dict output");
      OODFLOW_CHECK(o.logits_key.empty() || o.logits_key == "none",
                    "backbone '" << path << "' returns a single tensor (the features); it has no "
                                 << "logits output for --logits-key '" << o.logits_key << "'");
      logits_key = "none";
      return;
    }
    if (out.isTuple() || out.isList()) {
      output_kind = out.isTuple() ? "tuple" : "list";
      const std::size_t n = out.isTuple() ? out.toTuple()->elements().size() : out.toList().size();
      features_key = o.features_key.empty() ? "0" : o.features_key;
      logits_key = !o.logits_key.empty() ? o.logits_key : (n >= 2 ? "1" : "none");
      return;
    }
    OODFLOW_CHECK(out.isGenericDict(), "backbone '" << path << "' returns a " << out.tagKind()
                                                    << "; expected a tensor, tuple, list or dict");
    output_kind = "dict";
    features_key = o.features_key.empty() ? "features" : o.features_key;
    logits_key = o.logits_key;
    if (logits_key.empty()) {
      logits_key = out.toGenericDict().contains(c10::IValue("logits")) ? "logits" : "none";
    }
  }
};

Backbone::Backbone(const BackboneOptions& options)
    : options_(options), impl_(std::make_unique<Impl>()) {
  {
    const io::MappedFile file(options_.path);  // a clear error for missing or empty files
    sha256_ = sha256_hex(file.data(), file.size());
    // torch.jit.save writes a zip archive; anything else (a state_dict pickle of torch.save,
    // an HTML page from a failed download) gets a message about what it is instead.
    OODFLOW_CHECK(io::sniff_file_kind(file.data(), file.size()) == io::FileKind::kZip,
                  "cannot load backbone '" << options_.path << "' as a TorchScript module: it "
                                           << io::describe_file_start(file.data(), file.size())
                                           << ", not the zip archive torch.jit.save writes; "
                                              "export it with torch.jit.script or torch.jit.trace "
                                              "and torch.jit.save");
  }
  impl_->device = torch::Device(options_.device);
  try {
    impl_->module = torch::jit::load(options_.path, impl_->device);
  } catch (const std::exception& e) {
    OODFLOW_FAIL("cannot load backbone '" << options_.path << "' as a TorchScript module ("
                                          << first_line(e.what())
                                          << "); export it with torch.jit.script or "
                                             "torch.jit.trace and torch.jit.save");
  }
  impl_->module.eval();
  if (!impl_->module.find_method(options_.method)) {
    std::string methods;
    for (const auto& m : impl_->module.get_methods()) {
      methods += (methods.empty() ? "" : ", ") + m.name();
    }
    OODFLOW_FAIL("backbone '" << options_.path << "' has no method '" << options_.method
                              << "'; its methods are: " << methods);
  }
}

Backbone::~Backbone() = default;

BackboneOutputs Backbone::run(const float* input, std::int64_t batch, int channels, int height,
                              int width) {
  return run_checked(input, batch, channels, height, width, nullptr);
}

BackboneOutputs Backbone::run_odin(const float* input, std::int64_t batch, int channels, int height,
                                   int width, const OdinSettings& odin) {
  validate(odin);
  return run_checked(input, batch, channels, height, width, &odin);
}

BackboneOutputs Backbone::run_checked(const float* input, std::int64_t batch, int channels,
                                      int height, int width, const OdinSettings* odin) {
  try {
    return run_batch(input, batch, channels, height, width, odin);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // LibTorch outside the call itself, e.g. out of memory
    const TorchFailure failure = explain_torch_failure(e);
    const std::string remedy = torch_failure_remedy(failure, weights_dtype(impl_->module));
    OODFLOW_FAIL("backbone '" << options_.path << "' failed on a batch of " << batch << " images: "
                              << (remedy.empty() ? "" : remedy + ". LibTorch: ") << failure.cause);
  }
}

BackboneOutputs Backbone::run_batch(const float* input, std::int64_t batch, int channels,
                                    int height, int width, const OdinSettings* odin) {
  Impl& impl = *impl_;
  const std::string& path = options_.path;
  // ODIN differentiates through the backbone; a plain run records nothing for autograd.
  std::optional<c10::InferenceMode> inference;
  if (odin == nullptr) inference.emplace();
  torch::Tensor x =
      torch::from_blob(const_cast<float*>(input), {batch, channels, height, width}, torch::kFloat32)
          .to(impl.device);
  std::optional<torch::AutoGradMode> autograd;
  if (odin != nullptr) {
    autograd.emplace(true);
    impl.freeze_parameters();
    x = x.clone().requires_grad_(true);
  }
  const c10::IValue out = impl.call(options_, x);
  if (impl.output_kind.empty()) impl.resolve_keys(out, options_);

  BackboneOutputs result;
  const auto take = [&](const torch::Tensor& t, const char* role, std::vector<float>* values) {
    OODFLOW_CHECK(
        t.dim() >= 2 && t.size(0) == batch && t.size(1) > 0 && t.numel() == batch * t.size(1),
        "backbone '" << path << "' returns " << role << " of shape " << shape_text(t)
                     << " for a batch of " << batch << "; expected [" << batch
                     << ", D] (one vector per image)");
    OODFLOW_CHECK(t.is_floating_point(),
                  "backbone '" << path << "' returns " << role << " of a non-float type");
    const torch::Tensor flat =
        t.detach().reshape({batch, t.size(1)}).to(torch::kCPU, torch::kFloat32).contiguous();
    values->assign(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
    return t.size(1);
  };
  const torch::Tensor features = impl.output_kind == "tensor"
                                     ? out.toTensor()
                                     : impl.select(out, impl.features_key, "features", path);
  result.dim = take(features, "features", &result.features);
  if (impl.logits_key != "none") {
    result.classes =
        take(impl.select(out, impl.logits_key, "logits", path), "logits", &result.logits);
  }
  if (odin != nullptr) result.odin = impl.odin_scores(options_, x, out, *odin);
  return result;
}

std::vector<LinearLayer> Backbone::linear_layers() const {
  std::map<std::string, torch::Tensor> biases;
  for (const auto& p : impl_->module.named_parameters(/*recurse=*/true)) {
    if (p.value.dim() == 1 && ends_with(p.name, ".bias")) {
      biases[p.name.substr(0, p.name.size() - 5)] = p.value;
    }
  }
  std::vector<LinearLayer> layers;
  for (const auto& p : impl_->module.named_parameters(/*recurse=*/true)) {
    if (p.value.dim() != 2 || !p.value.is_floating_point() || !ends_with(p.name, ".weight")) {
      continue;
    }
    LinearLayer layer;
    layer.name = p.name.substr(0, p.name.size() - 7);
    const torch::Tensor w = p.value.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    layer.classes = w.size(0);
    layer.dim = w.size(1);
    layer.weight.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
    const auto bias = biases.find(layer.name);
    if (bias != biases.end() && bias->second.size(0) == layer.classes) {
      const torch::Tensor b = bias->second.detach().to(torch::kCPU, torch::kFloat32).contiguous();
      layer.bias.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
    } else {
      layer.bias.assign(static_cast<std::size_t>(layer.classes), 0.0F);
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

void validate(const OdinSettings& odin) {
  OODFLOW_CHECK(std::isfinite(odin.temperature) && odin.temperature > 0,
                "ODIN temperature T must be > 0, got " << odin.temperature);
  OODFLOW_CHECK(std::isfinite(odin.epsilon) && odin.epsilon >= 0,
                "ODIN perturbation eps must be >= 0, got " << odin.epsilon);
  for (double s : odin.std) {
    OODFLOW_CHECK(std::isfinite(s) && s > 0, "ODIN needs a positive --std, got " << s);
  }
}

std::string Backbone::describe() const {
  nlohmann::json j = {{"path", options_.path},
                      {"sha256", sha256_},
                      {"method", options_.method},
                      {"output", impl_->output_kind}};
  if (impl_->output_kind != "tensor") j["features_key"] = impl_->features_key;
  j["logits_key"] = impl_->logits_key;
  return j.dump();
}

}  // namespace oodflow::extract
