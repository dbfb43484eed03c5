#include "oodflow/core/error.h"

namespace oodflow::detail {

void throw_error(const std::string& message) {
  throw Error(message);
}

}  // namespace oodflow::detail
