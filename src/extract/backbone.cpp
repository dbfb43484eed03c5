#include "oodflow/extract/backbone.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/core/sha256.h"
#include "oodflow/io/mapped_file.h"

namespace oodflow::extract {
namespace {

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

// TorchScript wraps the real failure: "The following operation failed in the TorchScript
// interpreter." then a traceback, then the cause ("RuntimeError: ... expected input to have
// 3 channels, but got 1"). The last non-empty line is the one a user needs.
std::string cause(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  const std::string text = torch_error ? torch_error->what_without_backtrace() : e.what();
  std::string last;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    begin = end + 1;
  }
  const auto start = last.find_first_not_of(" \t");
  return start == std::string::npos ? first_line(text) : last.substr(start);
}

}  // namespace

struct Backbone::Impl {
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
  std::string output_kind;  // "tensor", "tuple", "list" or "dict", known after the first run
  std::string features_key;
  std::string logits_key;

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
  try {
    return run_batch(input, batch, channels, height, width);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // LibTorch outside the call itself, e.g. out of memory
    OODFLOW_FAIL("backbone '" << options_.path << "' failed on a batch of " << batch
                              << " images: " << cause(e));
  }
}

BackboneOutputs Backbone::run_batch(const float* input, std::int64_t batch, int channels,
                                    int height, int width) {
  Impl& impl = *impl_;
  const std::string& path = options_.path;
  c10::InferenceMode inference;
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(input), {batch, channels, height, width}, torch::kFloat32)
          .to(impl.device);
  c10::IValue out;
  try {
    out = impl.module.get_method(options_.method)({x});
  } catch (const std::exception& e) {
    OODFLOW_FAIL("backbone '" << path << "' rejected an input of shape [" << batch << ", "
                              << channels << ", " << height << ", " << width
                              << "] (check --channels, --resize and --crop): " << cause(e));
  }
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
        t.reshape({batch, t.size(1)}).to(torch::kCPU, torch::kFloat32).contiguous();
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
  return result;
}

void Backbone::head(std::vector<float>* weight, std::vector<float>* bias, std::int64_t* classes,
                    std::int64_t* dim) const {
  const auto missing = [&] {
    OODFLOW_FAIL("backbone '" << options_.path
                              << "' has no classifier head (a submodule 'head' with 'weight' "
                                 "[C, D] and 'bias' [C]); export it with "
                                 "scripts/export_backbone.py");
  };
  if (!impl_->module.hasattr("head")) missing();
  const c10::IValue head = impl_->module.attr("head");
  if (!head.isModule()) missing();
  const torch::jit::Module m = head.toModule();
  if (!m.hasattr("weight") || !m.hasattr("bias")) missing();
  const c10::IValue w = m.attr("weight");
  const c10::IValue b = m.attr("bias");
  if (!w.isTensor() || !b.isTensor()) missing();
  const torch::Tensor wt = w.toTensor().detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor bt = b.toTensor().detach().to(torch::kCPU, torch::kFloat32).contiguous();
  OODFLOW_CHECK(wt.dim() == 2 && bt.dim() == 1 && bt.size(0) == wt.size(0),
                "backbone '" << options_.path << "': head weight " << shape_text(wt) << " and bias "
                             << shape_text(bt) << " do not fit together");
  *classes = wt.size(0);
  *dim = wt.size(1);
  weight->assign(wt.data_ptr<float>(), wt.data_ptr<float>() + wt.numel());
  bias->assign(bt.data_ptr<float>(), bt.data_ptr<float>() + bt.numel());
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
