// Compute threads. Debian's LibTorch runs its intra-op pool on OpenMP (libgomp) while
// OpenBLAS keeps its own threads; on small machines busy-waiting OpenMP threads steal the
// cores OpenBLAS needs (docs/threads.md), so oodflow sets both pools from one --threads value.
#pragma once

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

/// Makes idle OpenMP threads sleep instead of spinning, which they otherwise do on the cores
/// OpenBLAS needs (docs/threads.md): called first thing in main(), it sets
/// OMP_WAIT_POLICY=PASSIVE and re-executes the program (/proc/self/exe, the same arguments),
/// since libgomp reads the variable once, when it is loaded, before main() runs. Unless set,
/// GLIBC_TUNABLES=glibc.malloc.hugetlb=1 goes with it (the heap on transparent huge pages:
/// fewer page faults in the first training step), also read only at start. Does nothing
/// when OMP_WAIT_POLICY is already set (the user's choice, or the re-executed process) or
/// OODFLOW_NO_REEXEC is set; returns normally when the re-execution fails (the policy costs
/// speed, never results).
void reexec_with_passive_openmp(char** argv);

/// Sets OpenBLAS's threads alone (no effect with another BLAS).
void set_blas_threads(int threads);

/// The thread counts in force: LibTorch intra-op, and OpenBLAS (-1 when not OpenBLAS).
int torch_threads();
int blas_threads();

}  // namespace oodflow
