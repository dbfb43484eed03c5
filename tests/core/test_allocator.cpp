#include "oodflow/core/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// AddressSanitizer's allocator replaces glibc's (GCC defines the first macro, clang answers
// the second).
#if defined(__SANITIZE_ADDRESS__)
#define OODFLOW_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OODFLOW_TEST_UNDER_ASAN 1
#endif
#endif

#if defined(__GLIBC__)
// 40 MiB: above the 32 MiB ceiling of glibc's own dynamic mmap threshold, so that with glibc's
// defaults such a block is always a fresh mapping, unmapped when freed (and faulted in again
// page by page the next time). Allocated as LibTorch's CPU allocator does (posix_memalign, 64).
TEST(Allocator, LargeBlocksComeFromTheHeapAndStayThereWhenFreed) {
#if defined(OODFLOW_TEST_UNDER_ASAN)
  GTEST_SKIP() << "AddressSanitizer replaces malloc: glibc's settings do not apply";
#endif
  ASSERT_TRUE(oodflow::keep_large_allocations_in_heap());
  ASSERT_TRUE(oodflow::keep_large_allocations_in_heap());  // idempotent
  constexpr std::size_t kBytes = std::size_t{40} << 20;
  const struct mallinfo2 before = mallinfo2();
  void* block = nullptr;
  ASSERT_EQ(posix_memalign(&block, 64, kBytes), 0);
  static_cast<volatile char*>(block)[kBytes - 1] = 1;
  const struct mallinfo2 holding = mallinfo2();
  EXPECT_EQ(holding.hblks, before.hblks) << "the block was mapped on its own";
  EXPECT_GE(holding.arena, before.arena + kBytes) << "the block is not in the heap";
  std::free(block);
  EXPECT_EQ(mallinfo2().arena, holding.arena) << "the heap was trimmed";
  // More than 1 GiB freed at once (a step at d = 2048 frees about that) stays too.
  std::vector<void*> blocks(28);
  for (void*& b : blocks) {
    ASSERT_EQ(posix_memalign(&b, 64, kBytes), 0);
    static_cast<volatile char*>(b)[0] = 1;
  }
  const std::size_t grown = mallinfo2().arena;
  for (void* b : blocks) std::free(b);
  EXPECT_EQ(mallinfo2().arena, grown) << "the heap was trimmed after 1.1 GiB were freed";
}
#endif
