#include "oodflow/core/torch_failure.h"

#include <c10/util/Exception.h>

#include <vector>

namespace oodflow {
namespace {

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

bool contains_any(const std::string& text, std::initializer_list<const char*> parts) {
  for (const char* p : parts) {
    if (contains(text, p)) return true;
  }
  return false;
}

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

// "RuntimeError: ...", "torch.jit.Error: ...": the interpreter's line with the real cause.
bool is_exception_line(const std::string& line) {
  const auto colon = line.find(": ");
  if (colon == std::string::npos || colon == 0) return false;
  const std::string type = line.substr(0, colon);
  if (type.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") !=
      std::string::npos) {
    return false;
  }
  return type.size() >= 5 &&
         (type.compare(type.size() - 5, 5, "Error") == 0 ||
          (type.size() >= 9 && type.compare(type.size() - 9, 9, "Exception") == 0));
}

// The cause line: after the TorchScript traceback when there is one, else the first line
// (a kernel's message; the dispatcher's listing of registrations follows it).
std::string cause_line(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.push_back(trim(text.substr(begin, end - begin)));
    begin = end + 1;
  }
  std::string cause;
  for (auto it = lines.rbegin(); it != lines.rend() && cause.empty(); ++it) {
    if (is_exception_line(*it)) cause = it->substr(it->find(": ") + 2);
  }
  for (std::size_t i = 0; i < lines.size() && cause.empty(); ++i) cause = lines[i];
  // A missing kernel's message goes on for a paragraph; its first sentence says it all.
  constexpr std::size_t kLongest = 300;
  if (cause.size() > kLongest) {
    const auto stop = cause.find(". ", 40);
    cause = stop != std::string::npos && stop < kLongest ? cause.substr(0, stop + 1)
                                                         : cause.substr(0, kLongest) + "...";
  }
  return cause;
}

// The phrases are LibTorch's own error texts (such as "... not implemented for 'Half'", raised
// when a kernel lacks a dtype), matched to tell the user what to change.
TorchFailureKind kind_of(const std::string& cause) {
  if (contains_any(cause,
                   {"'CUDA' backend", "not compiled with CUDA", "NVIDIA driver", "No CUDA GPUs",
                    "no CUDA-capable device", "without ATen_cuda", "CUDA driver version",
                    "CUDA is not available", "support for cuda", "compiled with CUDA"})) {
    return TorchFailureKind::kNeedsCuda;
  }
  if (contains_any(cause, {"to be on the same device", "same device"})) {
    return TorchFailureKind::kDevice;
  }
  if (contains_any(cause, {"out of memory", "can't allocate memory", "Cannot allocate memory"})) {
    return TorchFailureKind::kOutOfMemory;
  }
  if (contains_any(cause, {"expected scalar type", "not implemented for 'Half'",
                           "not implemented for 'BFloat16'", "must have the same dtype",
                           "same dtype", "found dtype"}) ||
      (contains(cause, "type (") && contains(cause, "should be the same"))) {
    return TorchFailureKind::kDtype;
  }
  if (contains_any(cause, {"shape", "size", "channels", "dimension", "dims", "Given groups",
                           "Kernel size", "expected input", "must match"})) {
    return TorchFailureKind::kShape;
  }
  return TorchFailureKind::kOther;
}

}  // namespace

TorchFailure explain_torch_failure(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  const std::string text = torch_error ? torch_error->what_without_backtrace() : e.what();
  TorchFailure failure;
  failure.cause = cause_line(text);
  failure.kind = kind_of(failure.cause);
  return failure;
}

std::string torch_failure_remedy(const TorchFailure& failure, const std::string& weights_dtype) {
  switch (failure.kind) {
    case TorchFailureKind::kNeedsCuda:
      return "the model needs CUDA, which this machine/build does not have (its code puts a "
             "tensor on a CUDA device); export it without a fixed device (e.g. device=x.device), "
             "or run it with --device cuda on a CUDA machine";
    case TorchFailureKind::kDevice:
      return "the model mixes devices (its code fixes one); export it without a fixed device, "
             "or pass the --device it was written for";
    case TorchFailureKind::kDtype:
      return (weights_dtype.empty() || weights_dtype == "Float"
                  ? std::string("the model expects another dtype than the float32 input")
                  : "the model's weights are " + weights_dtype + " while its input is float32") +
             "; export it in float32 (model.float() before torch.jit.save)";
    case TorchFailureKind::kOutOfMemory:
      return "out of memory; lower --batch-size";
    case TorchFailureKind::kShape:
    case TorchFailureKind::kOther:
      break;
  }
  return "";
}

}  // namespace oodflow
