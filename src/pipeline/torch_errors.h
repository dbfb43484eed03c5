// Internal: LibTorch reports failures as c10::Error with a multi-line backtrace; commands turn
// them into one-line oodflow::Error messages with the context of what was being done.
#pragma once

#include <c10/util/Exception.h>

#include <string>

#include "oodflow/core/error.h"
#include "oodflow/core/torch_failure.h"

namespace oodflow::pipeline {

template <typename Fn>
auto with_torch_errors(const std::string& context, Fn&& fn) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    const TorchFailure failure = explain_torch_failure(e);
    const std::string remedy = torch_failure_remedy(failure, "");
    throw Error(context + ": " + (remedy.empty() ? "" : remedy + ". LibTorch: ") + failure.cause);
  }
}

}  // namespace oodflow::pipeline
