#!/usr/bin/env bash
# ODIN's cost (benchmark, not a test): `oodflow extract` with and without --odin on the same
# images, alternated so that both see the same machine load; prints images/s, peak memory and
# the cost of an image with ODIN relative to plain extraction (ODIN adds a backward pass and
# a second forward pass). Backbones: the Fashion-MNIST CNN of the benchmark of docs/benchmarks.md at 28x28
# and a ResNet-18 (random weights) at 224x224.
#   bash scripts/bench_odin.sh                   # about 10 minutes on 2 cores
#   REPEATS=1 IMAGES=64 bash scripts/bench_odin.sh   # quicker, noisier
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${OODFLOW_BENCH_DIR:-$here/out/bench_odin}"
repeats="${REPEATS:-3}"
images="${IMAGES:-128}"
py=/usr/bin/python3
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"
data="${OODFLOW_DATA:-$HOME/.cache/oodflow}"
[ -x "$oodflow" ] || "$here/scripts/build.sh" >/dev/null
[ -f "$data/fashion-mnist/t10k-images-idx3-ubyte.gz" ] || "$here/scripts/fetch_data.sh" >/dev/null

source "$here/scripts/bench_inputs.sh"
bench_inputs "$work" "$images" "$py" "$here"

# Runs one extraction; prints "images/s peak-MB".
extract() {
  local log
  log=$(/usr/bin/time -f 'peak %M' "$oodflow" extract "$@" --out "$work/f.safetensors" 2>&1)
  local rate peak
  rate=$(echo "$log" | grep "extract: wrote" | sed -E 's/.*; ([0-9.]+) images\/s.*/\1/')
  peak=$(echo "$log" | grep '^peak ' | awk '{printf "%.0f", $2 / 1024}')
  echo "$rate $peak"
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# bench NAME ARGS...: `repeats` alternations of plain and --odin extraction.
bench() {
  local name="$1"
  shift
  local plain="" odin="" plain_mb=0 odin_mb=0 r
  for ((r = 0; r < repeats; r++)); do
    read -r rate mb < <(extract "$@")
    plain+="$rate"$'\n'
    plain_mb=$mb
    read -r rate mb < <(extract "$@" --odin)
    odin+="$rate"$'\n'
    odin_mb=$mb
  done
  local p o
  p=$(printf '%s' "$plain" | median)
  o=$(printf '%s' "$odin" | median)
  printf '| %-36s | %8.1f | %8.1f | %5.2fx | %6s | %6s |\n' "$name" "$p" "$o" \
    "$(echo "$p / $o" | bc -l)" "$plain_mb" "$odin_mb"
}

echo "median of $repeats alternated runs; cost = plain images/s / ODIN images/s"
echo
echo "| backbone, input, batch               | plain/s  | ODIN/s   | cost   | MB     | ODIN MB |"
echo "|--------------------------------------|----------|----------|--------|--------|---------|"
bench "fmnist_resnet, 28x28 grey, batch 500" --backbone "$here/configs/backbones/fmnist_resnet.pt" \
  --data "$data/fashion-mnist/t10k-images-idx3-ubyte.gz" --shard 0/5 --batch-size 500 \
  --config "$here/configs/extract_grey28.json"
bench "resnet18, 224x224 RGB, batch 32" --backbone "$work/resnet18.pt" --data "$work/images" \
  --batch-size 32 --config "$here/configs/extract_imagenet.json"
