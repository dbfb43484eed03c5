#!/usr/bin/env bash
# Training-speed benchmark (not a test): one epoch of the reference glow flow (K=10, batch
# 250) on N=20000 synthetic features at d=512 and d=2048, reported as samples/s and as the
# fraction of this machine's float32 GEMM peak measured in the same process. Each run is its
# own process (libgomp reads OMP_WAIT_POLICY at start; heaps do not carry over). Then the
# thread settings compared on shorter runs, to justify the default of --threads.
#   bash scripts/bench_train.sh                  # about 15 minutes on 2 cores
#   SAMPLES=5000 bash scripts/bench_train.sh     # quicker, noisier
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/build.sh" >/dev/null
cmake --build "${OODFLOW_BUILD_DIR:-$here/build}" --target oodflow_bench_train >/dev/null
bench="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow_bench_train"
samples="${SAMPLES:-20000}"
short="${SHORT_SAMPLES:-2500}"

run() {  # label, then environment assignments and bench arguments
  local label="$1"
  shift
  echo "== $label"
  env "$@"
  echo
}
for d in 512 2048; do
  run "default --threads 0 (OpenBLAS on all cores, LibTorch 1 thread), d=$d, N=$samples" \
    "$bench" --dims "$d" --samples "$samples"
  run "default --threads 0 with OMP_WAIT_POLICY=PASSIVE (both pools on all cores), d=$d" \
    OMP_WAIT_POLICY=PASSIVE "$bench" --dims "$d" --samples "$samples"
done
for threads in 1 2; do
  run "--threads $threads in both pools (OpenMP busy-waits), N=$short" \
    "$bench" --dims 512,2048 --samples "$short" --threads "$threads"
done
