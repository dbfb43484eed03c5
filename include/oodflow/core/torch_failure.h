// What went wrong in LibTorch, in one line. A failure inside a TorchScript model arrives as a
// c10::Error of 20-100 lines: the interpreter's traceback, then the cause ("RuntimeError:
// ..."), and for a missing kernel the list of every dispatch key with the file that registers
// it. The line a user needs is the cause, and what to do depends on its kind: a model that
// needs CUDA on a machine without it, weights of another dtype, an input of the wrong shape,
// or memory. Only the shape kind is about --channels/--resize/--crop.
#pragma once

#include <exception>
#include <string>

namespace oodflow {

enum class TorchFailureKind {
  kNeedsCuda,    ///< the model asks for CUDA, which this machine or build does not have
  kDevice,       ///< tensors on different devices (a model pinned to one device)
  kDtype,        ///< weights and input of different dtypes, or a dtype with no CPU kernel
  kShape,        ///< the input's shape does not fit the model
  kOutOfMemory,  ///< an allocation failed
  kOther,
};

struct TorchFailure {
  TorchFailureKind kind = TorchFailureKind::kOther;
  /// The cause as one line, without traceback or dispatcher listing, at most ~300 characters.
  std::string cause;
};

/// Classifies any exception thrown by LibTorch (c10::Error or std::exception).
TorchFailure explain_torch_failure(const std::exception& e);

/// A remedy for the kinds that have one ("" for kShape and kOther, whose hint depends on the
/// caller): e.g. for kNeedsCuda "the model needs CUDA, which this machine/build does not have;
/// ...". `weights_dtype` names the model's parameter dtype for kDtype ("Half"), or "".
std::string torch_failure_remedy(const TorchFailure& failure, const std::string& weights_dtype);

}  // namespace oodflow
