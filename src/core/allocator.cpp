#include "oodflow/core/allocator.h"

// A C library header first: it defines __GLIBC__. Without one the test below was false and
// this function did nothing (training faulted in 77,000-89,000 pages per step at d = 2048).
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace oodflow {

bool keep_large_allocations_in_heap() {
#if defined(__GLIBC__)
  // Both are needed: setting either turns off glibc's dynamic adjustment of the other, and a
  // trim threshold alone leaves the mmap threshold at 128 KiB, where every large block is
  // mapped afresh. No trimming at all (-1, mallopt(3)): a step at d = 2048 frees about
  // 1 GiB, and a 1 GiB threshold gave it back at some steps and not others, by the heap's
  // layout (78,000 faults per step in one build, none in another).
  constexpr int kOneGiB = 1 << 30;
  static const bool applied =
      mallopt(M_MMAP_THRESHOLD, kOneGiB) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
  return applied;
#else
  return false;
#endif
}

}  // namespace oodflow
