#!/usr/bin/env bash
# Flat memory on inputs larger than memory: writes feature files of N x 2048 float32 (6 GiB at
# the largest N, 1.5 GiB at a quarter of it), then measures the peak resident memory
# (/usr/bin/time -v, "Maximum resident set size") of `train` (one epoch, a small RealNVP: the
# point is the data path, not the model) and `score` on each. The peak must not grow with N.
# Usage: scripts/bench_memory.sh [WORK_DIR] (needs ~8 GB of disk; removes its files at the end)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$here/out/bench_memory}"
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"
mkdir -p "$work"
big_n=786432  # x 2048 x 4 bytes = 6 GiB
peak() {  # label, command...: prints the label, wall time and peak RSS of the command
  local label="$1"
  shift
  /usr/bin/time -v "$@" 2>"$work/time.txt" >/dev/null ||
    { cat "$work/time.txt" >&2; exit 1; }
  local rss wall
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt")
  printf "%-34s %9s MB  %8s\n" "$label" "$((rss / 1024))" "$wall"
}
printf "%-34s %12s  %8s\n" "command" "peak RSS" "wall"
for n in $((big_n / 4)) $big_n; do
  file="$work/features_$n.safetensors"
  [ -f "$file" ] || /usr/bin/python3 "$here/scripts/make_big_features.py" "$file" "$n" 2048 >/dev/null
  size=$(du -h "$file" | cut -f1)
  peak "train N=$n ($size)" "$oodflow" --quiet train -f "$file" -o "$work/flow_$n.safetensors" \
    --arch realnvp --blocks 1 --hidden 16 --lr 1e-4
  peak "score N=$n ($size)" "$oodflow" --quiet score --model "$work/flow_$n.safetensors" \
    --id "$file" --scores "$work/scores_$n.csv"
done
rm -f "$work"/features_*.safetensors "$work"/scores_*.csv
