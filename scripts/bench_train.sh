#!/usr/bin/env bash
# Training-speed benchmark (not a test): one epoch of the reference glow flow (K=10, batch
# 250, hidden = d) at d=512 and d=2048, by oodflow (apps/bench/bench_train.cpp: samples/s of
# the training loop and its ratios to this machine's GEMM peak, to the issue's compute limit
# and to the step's own matrix products timed alone) and by the paper's path in PyTorch for
# Python on the same data sizes (scripts/bench_train_pytorch.py, Debian's torch with the same
# OpenBLAS and kernels), each setting its own process. Prints the ratio of oodflow to
# PyTorch's fastest setting measured in the same run (the machines here are shared, noisy).
#   bash scripts/bench_train.sh                          # about 15 minutes on 2 cores
#   SAMPLES512=5000 SAMPLES2048=1000 bash scripts/bench_train.sh   # quicker, noisier
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/build.sh" >/dev/null
cmake --build "${OODFLOW_BUILD_DIR:-$here/build}" --target oodflow_bench_train >/dev/null
bench="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow_bench_train"
pytorch=(/usr/bin/python3 "$here/scripts/bench_train_pytorch.py")
declare -A samples=([512]="${SAMPLES512:-20000}" [2048]="${SAMPLES2048:-5000}")
summary=()
for d in 512 2048; do
  n="${samples[$d]}"
  echo "== oodflow, default threads, d=$d, N=$n"
  out=$("$bench" --dims "$d" --samples "$n")
  echo "$out"
  ours=$(echo "$out" | awk '$1 == "glow" { print $5 }')
  # PyTorch runs the OpenBLAS kernels oodflow runs (it forces them where OpenBLAS does not
  # recognise the CPU, docs/threads.md): the comparison is of the code, not of the kernels.
  kernels=$(echo "$out" | sed -n 's/.*(\([A-Za-z0-9]*\) kernels).*/\1/p')
  best=0
  best_label=""
  for setting in "1:" "2:OMP_WAIT_POLICY=PASSIVE" "2:"; do
    threads="${setting%%:*}"
    env_var="${setting#*:}"
    label="torch threads $threads${env_var:+, $env_var}"
    echo "== PyTorch, $label, d=$d, N=$n"
    line=$(env -u OMP_WAIT_POLICY OPENBLAS_CORETYPE="$kernels" ${env_var:+"$env_var"} \
      "${pytorch[@]}" --dim "$d" \
      --samples "$n" --threads "$threads")
    echo "$line"
    rate=$(echo "$line" | sed -n 's/.*samples\/s=\([0-9.]*\).*/\1/p')
    if awk -v a="$rate" -v b="$best" 'BEGIN { exit !(a > b) }'; then
      best="$rate"
      best_label="$label"
    fi
  done
  summary+=("d=$d N=$n: oodflow $ours samples/s, PyTorch's fastest ($best_label) $best: $(
    awk -v a="$ours" -v b="$best" 'BEGIN { printf "%.2f", a / b }')x")
  echo
done
printf '%s\n' "${summary[@]}"
