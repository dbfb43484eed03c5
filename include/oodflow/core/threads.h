// Compute threads. Debian's LibTorch runs its intra-op pool on OpenMP while OpenBLAS keeps
// its own threads; on small machines the two pools spin against each other (METHOD.md §4),
// so oodflow sets both explicitly from one --threads value.
#pragma once

namespace oodflow {

/// Threads used by default: the fastest setting measured by scripts/bench_train.sh.
inline constexpr int kDefaultThreads = 1;

/// Sets LibTorch's intra-op threads and, when OpenBLAS provides the BLAS, its thread count.
/// `threads` <= 0 means the number of available cores.
void set_compute_threads(int threads);

/// The thread counts in force: LibTorch intra-op, and OpenBLAS (-1 when not OpenBLAS).
int torch_threads();
int blas_threads();

}  // namespace oodflow
