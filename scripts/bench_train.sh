#!/usr/bin/env bash
# Training-speed benchmark (not a test): one epoch of the reference glow flow (K=10, batch
# 250) on N=20000 synthetic features at d=512 and d=2048, reported as samples/s and as the
# fraction of this machine's float32 GEMM peak measured in the same process. Then the thread
# settings compared on a shorter run, to justify the default of --threads.
#   bash scripts/bench_train.sh            # full run, ~15 minutes on 2 cores
#   SAMPLES=5000 bash scripts/bench_train.sh   # quicker
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/build.sh" >/dev/null
bench="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow_bench_train"
samples="${SAMPLES:-20000}"
short="${SHORT_SAMPLES:-2500}"

echo "== default threads (--threads 0: OpenBLAS on all cores, LibTorch 1 thread), N=$samples"
"$bench" --dims 512,2048 --samples "$samples"
echo
echo "== default threads with OMP_WAIT_POLICY=PASSIVE (LibTorch on all cores too), N=$samples"
OMP_WAIT_POLICY=PASSIVE "$bench" --dims 512,2048 --samples "$samples"
echo
for threads in 1 2; do
  echo "== --threads $threads in both pools (OpenMP spinning), N=$short"
  "$bench" --dims 512,2048 --samples "$short" --threads "$threads"
  echo
done
