#!/usr/bin/env bash
# The HTML report as a user sees it: `score --html --svg` on synthetic sets with a flow and
# two baselines, then check_html_report.py parses the page and the SVG files strictly, counts
# one <svg> per plot, rejects any external reference, and renders the page in headless
# Chromium (installed by scripts/install_deps.sh) to check that the screenshot shows the
# plots' colours, not a blank page.
# Usage (CTest): html_report.sh <repo root> <build dir> <work dir>
set -euo pipefail
root="$1" build="$2" work="$3"
oodflow="$build/apps/oodflow"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
"$oodflow" --quiet synth -o . --dim 16 --train 3000 --test 600 --shifts 1,2
"$oodflow" --quiet train -f id_train.safetensors -o flow.safetensors --blocks 2 --lr 1e-3
"$oodflow" --quiet fit --detector knn --k 10 -f id_train.safetensors -o knn.safetensors
"$oodflow" --quiet fit --detector gaussian -f id_train.safetensors -o gaussian.safetensors
"$oodflow" --quiet score --model flow.safetensors --model knn.safetensors \
  --model gaussian.safetensors --id id_test.safetensors \
  --ood near=ood_shift1.safetensors --ood far=ood_shift2.safetensors \
  --html report.html --svg svg >/dev/null
# 2 OOD sets x (1 ROC chart + 3 histograms)
/usr/bin/python3 "$root/tests/scripts/check_html_report.py" report.html svg 8
