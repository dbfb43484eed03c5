#!/usr/bin/env bash
# Fit and score time of every detector (not a test): N = 50,000 training and 10,000 test
# features of dimension D = 512 with 100-class logits, labels and a classifier head
# (synthetic, from scripts/make_detector_bench.py), next to the flow's one-epoch training
# and scoring. Each command is its own process, timed from start to end (file reading
# included), with the default threads.
#   bash scripts/bench_detectors.sh                    # about 5 minutes on 2 cores
#   N=10000 bash scripts/bench_detectors.sh            # quicker
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${OODFLOW_BENCH_DIR:-$here/out/bench_detectors}"
n="${N:-50000}"
"$here/scripts/build.sh" >/dev/null
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"
mkdir -p "$work"
/usr/bin/python3 "$here/scripts/make_detector_bench.py" --out "$work" --train "$n" --test 10000 \
  --dim 512 --classes 100

seconds() {  # command...: wall seconds of one run
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  awk -v ns="$((end - start))" 'BEGIN { print ns / 1e9 }'
}

echo "N = $n training, 10000 test features, D = 512, 100 classes"
echo
echo "| detector | fit (s) | score 10k (s) |"
echo "|---|---|---|"
for d in msp maxlogit energy react gaussian mahalanobis knn vim; do
  fit=$(seconds "$oodflow" --quiet fit --detector "$d" -f "$work/train.safetensors" \
    -o "$work/$d.safetensors" --backbone "$work/head.pt")
  score=$(seconds "$oodflow" --quiet score --model "$work/$d.safetensors" \
    --id "$work/test.safetensors" --scores "$work/$d.scores.csv")
  printf '| %s | %.2f | %.2f |\n' "$d" "$fit" "$score"
done
fit=$(seconds "$oodflow" --quiet train --config "$here/configs/glow.json" \
  -f "$work/train.safetensors" -o "$work/flow.safetensors")
score=$(seconds "$oodflow" --quiet score --model "$work/flow.safetensors" \
  --id "$work/test.safetensors" --scores "$work/flow.scores.csv")
printf '| flow (glow, 1 epoch) | %.2f | %.2f |\n' "$fit" "$score"
