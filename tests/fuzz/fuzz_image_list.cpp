// libFuzzer entry point: oodflow::fuzz::image_list (fuzz_targets.h). An oodflow::Error is the
// expected answer to bad bytes; any other exception escapes and counts as a crash.
#include "fuzz_targets.h"
#include "oodflow/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    oodflow::fuzz::image_list(data, size);
  } catch (const oodflow::Error&) {
  }
  return 0;
}
