// Compute threads. Debian's LibTorch runs its intra-op pool on OpenMP (libgomp) while
// OpenBLAS keeps its own threads; on small machines busy-waiting OpenMP threads steal the
// cores OpenBLAS needs (docs/threads.md), so oodflow sets both pools from one --threads value.
#pragma once

#include <string>

#include "oodflow/core/library_environment.h"

namespace oodflow {

/// 0 = automatic: every core (std::thread::hardware_concurrency()).
inline constexpr int kDefaultThreads = 0;

/// What the threads will run: matrix products (the flows and the detectors: OpenBLAS), or a
/// backbone's convolutions (oneDNN, on LibTorch's OpenMP pool; measured by
/// scripts/bench_extract.sh).
enum class Workload { kMatrixProducts, kBackbone };

/// Puts `threads` (0 = every core) where the workload computes: for matrix products in
/// OpenBLAS's pool with LibTorch's intra-op pool at one thread (two pools on the same cores
/// are slower, measured by scripts/bench_threads.sh); for a backbone in both pools.
void set_compute_threads(int threads, Workload workload = Workload::kMatrixProducts);

/// Re-executes the program (/proc/self/exe, the same arguments) with the environment that
/// libgomp and OpenBLAS read only when they are loaded, before main() runs: the variables of
/// tuned_library_environment(runs_backbone, uses_blas, blas_core()) (library_environment.h),
/// for a program started without the launcher, which sets them before LibTorch loads. The
/// cost is a second LibTorch load (0.3-0.4 s here, docs/speed.md#threads). Returns normally when
/// nothing needs setting or the re-execution fails (speed, never results).
void reexec_with_tuned_libraries(char** argv, bool runs_backbone, bool uses_blas = true);

/// The OpenBLAS kernels in use ("Haswell", "SkylakeX", ...), "" when the BLAS is not
/// OpenBLAS.
std::string blas_core();

/// Sets OpenBLAS's threads alone (no effect with another BLAS).
void set_blas_threads(int threads);

/// The thread counts in force: LibTorch intra-op, and OpenBLAS (-1 when not OpenBLAS).
int torch_threads();
int blas_threads();

}  // namespace oodflow
