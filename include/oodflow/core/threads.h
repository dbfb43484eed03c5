// Compute threads. Debian's LibTorch runs its intra-op pool on OpenMP (libgomp) while
// OpenBLAS keeps its own threads; on small machines busy-waiting OpenMP threads steal the
// cores OpenBLAS needs (docs/threads.md), so oodflow sets both pools from one --threads value.
#pragma once

#include <string>

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
/// libgomp and OpenBLAS read only when they are loaded, before main() runs, where it pays:
/// - OMP_WAIT_POLICY=PASSIVE when `runs_backbone`: idle OpenMP threads sleep instead of
///   spinning on the cores OpenBLAS needs (docs/threads.md). The other commands keep
///   LibTorch's OpenMP pool at one thread, so they do not pay the second start (a LibTorch
///   load, about half a second).
/// - OPENBLAS_CORETYPE=openblas_core_override(blas_core()) when `uses_blas` and OpenBLAS did
///   not recognise the CPU and fell back to its generic kernels
///   (docs/threads.md#the-blas-matters-more-than-the-threads).
/// A variable the user set is kept, and OODFLOW_NO_REEXEC=1 turns the re-execution off.
/// Names what it set in OODFLOW_SET_ENV, for the log line of set_compute_threads. Returns
/// normally when nothing needs setting or the re-execution fails (speed, never results).
void reexec_with_tuned_libraries(char** argv, bool runs_backbone, bool uses_blas = true);

/// The OpenBLAS kernels to force on this CPU when OpenBLAS chose `detected_core`: when it
/// fell back to "Prescott" (SSE3; OpenBLAS 0.3.21, Debian 12's, does so on CPUs newer than
/// it knows, such as Emerald Rapids, and runs matrix products 4x slower), "SkylakeX" if the
/// CPU has AVX-512 F, BW, VL, DQ and CD, else "Haswell" if it has AVX2 and FMA; otherwise
/// "" (nothing to change).
std::string openblas_core_override(const std::string& detected_core);

/// The OpenBLAS kernels in use ("Haswell", "SkylakeX", ...), "" when the BLAS is not
/// OpenBLAS.
std::string blas_core();

/// Sets OpenBLAS's threads alone (no effect with another BLAS).
void set_blas_threads(int threads);

/// The thread counts in force: LibTorch intra-op, and OpenBLAS (-1 when not OpenBLAS).
int torch_threads();
int blas_threads();

}  // namespace oodflow
