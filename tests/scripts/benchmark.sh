#!/usr/bin/env bash
# scripts/benchmark.py on the committed fixture images and backbone: four detectors (ODIN's
# scores extracted with the features), two seeds, two epoch counts. Checks that the grid is complete, that features are extracted
# once per (backbone, dataset) (id_train, id_test and the OOD set "same" are one dataset)
# and reused from the cache, and that a second run gives the
# same results files (reproducibility).
# Usage (CTest): benchmark.sh <repo root> <build dir> <work dir>
set -euo pipefail
root="$1" build="$2" work="$3"
rm -rf "$work"
mkdir -p "$work/data"
data="$root/tests/data/extract"
cp -r "$data/images" "$work/data/id"
cp -r "$data/photos" "$work/data/ood"
cat >"$work/config.json" <<JSON
{
  "data": "$work/data",
  "oodflow": "$build/apps/oodflow",
  "extract": ["--crop", "20", "--mean", "0.5", "--std", "0.25", "--odin"],
  "backbones": [{
    "name": "tiny",
    "model": "$data/tiny_backbone.pt",
    "preprocessing": "$root/configs/extract_imagenet.json",
    "id_train": "id", "id_test": "id",
    "ood": {"photos": "ood", "same": "id"}
  }],
  "detectors": [
    {"name": "glow", "config": "$root/configs/glow.json", "options": ["--blocks", "1", "--lr", "1e-3"]},
    {"name": "realnvp", "config": "$root/configs/realnvp.json", "options": ["--blocks", "1"]},
    {"name": "knn", "fit": "knn", "options": ["--k", "3"]},
    {"name": "odin", "fit": "odin"}
  ],
  "seeds": [0, 1],
  "epochs": [1, 2]
}
JSON
python3 "$root/scripts/benchmark.py" --config "$work/config.json" --out "$work/run1" >"$work/log1"
python3 "$root/scripts/benchmark.py" --config "$work/config.json" --out "$work/run2" >"$work/log2"
grep -q "2 feature files extracted, 2 reused" "$work/log1" || { cat "$work/log1"; exit 1; }
grep -q "0 feature files extracted, 4 reused" "$work/log2" || { cat "$work/log2"; exit 1; }
cmp "$work/run1/results.csv" "$work/run2/results.csv"
cmp "$work/run1/results.md" "$work/run2/results.md"
# backbone x 2 OOD sets x 4 detectors x 2 epoch counts, plus the header.
rows=$(wc -l <"$work/run1/results.csv")
[ "$rows" -eq 17 ] || { echo "expected 17 lines in results.csv, got $rows"; cat "$work/run1/results.csv"; exit 1; }
# An OOD set equal to the ID test set is indistinguishable: AUROC exactly 0.5.
for detector in glow odin; do
  grep -q "^tiny,same,$detector,1,2,0.500000,0.000000" "$work/run1/results.csv" ||
    { cat "$work/run1/results.csv"; exit 1; }
done
# The feature space of the ID training features, from `oodflow inspect`: the same figures in
# every row of the backbone, and a table next to the mean AUROC.
head -1 "$work/run1/results.csv" | grep -q ",uniformity,tolerance$" ||
  { head -1 "$work/run1/results.csv"; exit 1; }
[ "$(cut -d, -f14,15 "$work/run1/results.csv" | tail -n +2 | sort -u | wc -l)" -eq 1 ] ||
  { cat "$work/run1/results.csv"; exit 1; }
grep -q "^| tiny | -[0-9.]* | [0-9.-]* | " "$work/run1/results.md" ||
  { cat "$work/run1/results.md"; exit 1; }
grep -q "AUROC by epochs" "$work/run1/results.md" || { cat "$work/run1/results.md"; exit 1; }
# A baseline is fitted once: the same value for both seeds, spread 0.
grep -q "^tiny,photos,knn,1,2,[0-9.]*,0.000000" "$work/run1/results.csv" ||
  { cat "$work/run1/results.csv"; exit 1; }
# One HTML report per backbone with every detector, the same bytes on the second run.
svgs=$(grep -o "<svg" "$work/run1/report_tiny.html" | wc -l)
# 2 OOD sets x (1 ROC chart + 4 histograms)
[ "$svgs" -eq 10 ] || { echo "report_tiny.html holds $svgs plots, expected 10"; exit 1; }
cmp "$work/run1/report_tiny.html" "$work/run2/report_tiny.html"
echo "benchmark: complete grid, cached features, identical results and report on a second run"
