// Internal: LibTorch reports failures as c10::Error with a multi-line backtrace; commands turn
// them into one-line oodflow::Error messages with the context of what was being done.
#pragma once

#include <c10/util/Exception.h>

#include <string>

#include "oodflow/core/error.h"

namespace oodflow::pipeline {

template <typename Fn>
auto with_torch_errors(const std::string& context, Fn&& fn) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    message = message.substr(0, message.find('\n'));
    throw Error(context + ": " + message);
  }
}

}  // namespace oodflow::pipeline
