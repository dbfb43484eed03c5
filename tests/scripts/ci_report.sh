#!/usr/bin/env bash
# The CI outputs as a pipeline uses them: `score` with two detectors and a gate that trips,
# writing --junit and --markdown next to the JSON report; it must exit 3, and
# check_ci_report.py parses the JUnit file as XML and the Markdown table as GFM and checks
# both against the JSON report.
# Usage (CTest): ci_report.sh <repo root> <build dir> <work dir>
set -euo pipefail
root="$1" build="$2" work="$3"
oodflow="$build/apps/oodflow"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
"$oodflow" --quiet synth -o . --dim 8 --train 1000 --test 300 --shifts 1,2
"$oodflow" --quiet fit --detector knn --k 5 -f id_train.safetensors -o knn.safetensors
"$oodflow" --quiet fit --detector gaussian -f id_train.safetensors -o gaussian.safetensors
status=0
"$oodflow" --quiet score --model knn.safetensors --model gaussian.safetensors \
  --id id_test.safetensors --ood near=ood_shift1.safetensors --ood far=ood_shift2.safetensors \
  --fail-under auroc=0.999999 --out report.json --junit junit.xml --markdown summary.md \
  >table.txt || status=$?
[ "$status" -eq 3 ] || { echo "score with a tripped gate exited $status, expected 3"; exit 1; }
/usr/bin/python3 "$root/tests/scripts/check_ci_report.py" report.json junit.xml summary.md
# "-" sends the Markdown to stdout instead of the table, as `>> $GITHUB_STEP_SUMMARY` wants.
status=0
"$oodflow" --quiet score --model knn.safetensors --id id_test.safetensors \
  --ood near=ood_shift1.safetensors --markdown - >stdout.md || status=$?
[ "$status" -eq 0 ] || { echo "score --markdown - exited $status"; exit 1; }
head -n 1 stdout.md | grep -q '^\*\*OOD detection\*\*' || { cat stdout.md; exit 1; }
if grep -q "FPR@95TPR: share" stdout.md; then
  echo "score --markdown - also printed the table"
  exit 1
fi
echo "ci_report: JUnit and Markdown agree with the JSON report"
