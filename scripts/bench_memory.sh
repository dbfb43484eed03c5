#!/usr/bin/env bash
# Flat memory on inputs larger than memory: writes feature files of N x 2048 float32 (6 GiB at
# the largest N, 1.5 GiB at a quarter of it), then measures the peak resident memory
# (/usr/bin/time -v, "Maximum resident set size") of `train` (one epoch, a small RealNVP: the
# point is the data path, not the model) and `score` on each, and of `merge` writing N rows:
# the smaller file given N / (its rows) times (1 or 4 inputs), so that no second file of N rows
# is on disk. The peak must not grow with N.
# Usage: scripts/bench_memory.sh [WORK_DIR] (needs ~8 GB of disk; removes its files at the end)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$here/out/bench_memory}"
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"
mkdir -p "$work"
big_n=786432  # x 2048 x 4 bytes = 6 GiB
small_n=$((big_n / 4))
small="$work/features_$small_n.safetensors"
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
make_features() {  # path, rows: writes the file unless it exists
  [ -f "$1" ] || /usr/bin/python3 "$here/scripts/make_big_features.py" "$1" "$2" 2048 >/dev/null
}
printf "%-34s %12s  %8s\n" "command" "peak RSS" "wall"
for n in $small_n $big_n; do
  # merge first and its output removed at once: at the largest N, the smaller file, the merged
  # one and no other (7.5 GiB) are on disk, as later with the two feature files.
  make_features "$small" "$small_n"
  inputs=()
  for ((i = 0; i < n / small_n; i++)); do inputs+=("$small"); done
  peak "merge N=$n (${#inputs[@]} x $(du -h "$small" | cut -f1))" \
    "$oodflow" --quiet merge "${inputs[@]}" --out "$work/merged_$n.safetensors"
  rm -f "$work/merged_$n.safetensors"
  file="$work/features_$n.safetensors"
  make_features "$file" "$n"
  size=$(du -h "$file" | cut -f1)
  peak "train N=$n ($size)" "$oodflow" --quiet train -f "$file" -o "$work/flow_$n.safetensors" \
    --arch realnvp --blocks 1 --hidden 16 --lr 1e-4
  peak "score N=$n ($size)" "$oodflow" --quiet score --model "$work/flow_$n.safetensors" \
    --id "$file" --scores "$work/scores_$n.csv"
done
rm -f "$work"/features_*.safetensors "$work"/merged_*.safetensors "$work"/scores_*.csv
