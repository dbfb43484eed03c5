// Compute threads. Debian's LibTorch runs its intra-op pool on OpenMP (libgomp) while
// OpenBLAS keeps its own threads; on small machines busy-waiting OpenMP threads steal the
// cores OpenBLAS needs (docs/threads.md), so oodflow sets both pools from one --threads value.
#pragma once

namespace oodflow {

/// 0 = automatic, the fastest setting measured by scripts/bench_train.sh: OpenBLAS on every
/// core; LibTorch's OpenMP pool on every core only when OMP_WAIT_POLICY=passive (libgomp
/// reads it at process start), otherwise one thread.
inline constexpr int kDefaultThreads = 0;

/// What the threads will mostly run, for the automatic choice: the flow's matrix products
/// (OpenBLAS), or a backbone's convolutions (oneDNN, on LibTorch's OpenMP pool: there one
/// thread per core is the fastest, measured by scripts/bench_extract.sh).
enum class Workload { kMatrixProducts, kBackbone };

/// Sets LibTorch's intra-op threads and, when OpenBLAS provides the BLAS, its thread count:
/// `threads` > 0 uses that many in both pools; 0 chooses automatically (see above; for a
/// backbone, every core in both pools).
void set_compute_threads(int threads, Workload workload = Workload::kMatrixProducts);

/// Makes idle OpenMP threads sleep instead of spinning, which they otherwise do on the cores
/// OpenBLAS needs (docs/threads.md): called first thing in main(), it sets
/// OMP_WAIT_POLICY=PASSIVE and re-executes the program (/proc/self/exe, the same arguments),
/// since libgomp reads the variable once, when it is loaded, before main() runs. Does nothing
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
