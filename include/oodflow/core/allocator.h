// Memory allocator tuning for LibTorch workloads with large temporaries.
#pragma once

namespace oodflow {

/// Keeps freed blocks (up to 1 GiB each) in the heap, where the next allocations reuse them,
/// instead of returning them to the OS: the resident size stays at the process's peak.
/// LibTorch's CPU tensors are plain malloc blocks, and a training step allocates and frees every
/// batch-sized and d x d temporary and gradient. By default glibc maps large blocks afresh (above
/// a threshold that starts at 128 KiB and rises to at most 32 MiB), unmaps them when freed and
/// trims the heap's top, and touching fresh pages again costs page faults: at d = 2048,
/// 77,000-89,000 per step of 1.8 s (counted with getrusage around the steps of
/// scripts/bench_train.sh's program), none with this. Process-wide and idempotent; returns false
/// when glibc refused a setting (and always outside glibc, where it does nothing).
bool keep_large_allocations_in_heap();

}  // namespace oodflow
