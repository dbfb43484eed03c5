#!/usr/bin/env bash
# Extraction-throughput benchmark (not a test): `oodflow extract` against the same TorchScript
# model driven from Python (torchvision transforms + DataLoader, scripts/bench_extract.py) on
# the same JPEG photographs with the same thread settings, in one run. Prints images/s and the
# backbone's share of the wall time for each pipeline.
#   bash scripts/bench_extract.sh              # 512 images, about 10 minutes on 2 cores
#   IMAGES=128 bash scripts/bench_extract.sh   # quicker, noisier
# Needs Debian's python3-torch and python3-torchvision (installed here when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${OODFLOW_BENCH_DIR:-$here/out/bench_extract}"
images="${IMAGES:-512}"
py=/usr/bin/python3

"$here/scripts/install_deps.sh" >/dev/null
if ! "$py" -c "import torch, torchvision" 2>/dev/null; then
  echo "bench_extract: installing Debian's python3-torch and python3-torchvision"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-torchvision >/dev/null
fi
"$here/scripts/build.sh" >/dev/null
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"

source "$here/scripts/bench_inputs.sh"
bench_inputs "$work" "$images" "$py" "$here"

# One row: pipeline, settings, images/s, backbone share.
report() { printf '| %-22s | %-34s | %8.1f | %5.0f%% |\n' "$1" "$2" "$3" "$4"; }

run_python() {  # threads workers resize crop
  local line
  line=$(OMP_NUM_THREADS="$1" OPENBLAS_NUM_THREADS="$1" "$py" "$here/scripts/bench_extract.py" \
    --backbone "$work/resnet18.pt" --data "$work/images" --threads "$1" --workers "$2" \
    --resize "$3" --crop "$4")
  report "python (DataLoader)" "threads $1, workers $2, ${3}/${4}" \
    "$(echo "$line" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')" \
    "$(echo "$line" | "$py" -c 'import json,sys; print(100*json.load(sys.stdin)["forward_share"])')"
}

run_oodflow() {  # threads workers resize crop [env...]
  local threads="$1" workers="$2" resize="$3" crop="$4"
  shift 4
  local log
  log=$(env "$@" "$oodflow" extract --config "$here/configs/extract_imagenet.json" \
    --backbone "$work/resnet18.pt" --data "$work/images" --out "$work/features.safetensors" \
    --threads "$threads" --workers "$workers" --resize "$resize" --crop "$crop" 2>&1 |
    grep "extract: wrote")
  # "... ; 123 images/s, backbone 97% of the time"
  local rate share
  rate=$(echo "$log" | sed -E 's/.*; ([0-9.]+) images\/s.*/\1/')
  share=$(echo "$log" | sed -E 's/.*backbone ([0-9.]+)%.*/\1/')
  report "oodflow extract" "threads $threads, workers $workers, ${resize}/${crop} $*" "$rate" "$share"
}

echo "$images JPEG photographs (300-500 px), resnet18 (random weights), batch 64"
echo
echo "| pipeline               | settings                           | images/s | backbone |"
echo "|------------------------|------------------------------------|----------|----------|"
for size in "256 224" "64 56"; do
  set -- $size
  for threads in 1 2; do
    run_python "$threads" 2 "$1" "$2"
    run_oodflow "$threads" 0 "$1" "$2"
    run_oodflow "$threads" 2 "$1" "$2"
  done
  run_oodflow 0 2 "$1" "$2"  # the defaults: every core, two workers
done
