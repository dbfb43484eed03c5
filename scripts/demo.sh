#!/usr/bin/env bash
# The main job on the embedded default data, from nothing: installs the system packages,
# builds, writes the synthetic benchmark (Gaussian-mixture ID features, mean-shifted OOD
# sets), trains the reference flow for one epoch and scores it. Outputs go to out/demo/
# (or $OODFLOW_DEMO_DIR): flow.safetensors, report.json, scores.csv.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OODFLOW_DEMO_DIR:-$here/out/demo}"
"$here/scripts/install_deps.sh"
"$here/scripts/build.sh"
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"
# Lets LibTorch's OpenMP threads sleep instead of spinning, so both thread pools can use
# every core (the fastest setting measured: README, Speed).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
mkdir -p "$out"

"$oodflow" synth --out-dir "$out/data" --dim 256 --train 20000 --test 5000 --shifts 0.5,1
"$oodflow" train --config "$here/configs/glow.json" \
  --features "$out/data/id_train.safetensors" --out "$out/flow.safetensors"
"$oodflow" score --flow "$out/flow.safetensors" --id "$out/data/id_test.safetensors" \
  --ood shift0.5="$out/data/ood_shift0.5.safetensors" \
  --ood shift1="$out/data/ood_shift1.safetensors" \
  --out "$out/report.json" --scores "$out/scores.csv"
echo "demo: report in $out/report.json, per-sample scores in $out/scores.csv"
