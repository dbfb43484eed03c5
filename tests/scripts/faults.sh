#!/usr/bin/env bash
# Faults as a user meets them, on the CLI: a command killed (SIGKILL) while it trains and
# writes, two processes writing one output, a full disk, a missing output folder, and a
# backbone that changed on disk after the features were extracted. Each check fails the test
# when its promise breaks. Usage (CTest): faults.sh <repo root> <build dir> <work dir>
set -euo pipefail
root="$1" build="$2" work="$3"
oodflow="$build/apps/oodflow"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
fail() { echo "faults: $*" >&2; exit 1; }
one_line_error() {  # expected exit code, needle, command...
  local code="$1" needle="$2"
  shift 2
  set +e
  "$@" >out.txt 2>err.txt
  local got=$?
  set -e
  [ "$got" -eq "$code" ] || fail "expected exit $code, got $got: $* ($(cat err.txt))"
  # One error line; warnings about the data (e.g. constant feature dimensions) may precede it.
  [ "$(grep -c '^error: ' err.txt)" -eq 1 ] && [ "$(grep -vc '^warning: ' err.txt)" -eq 1 ] &&
    grep '^error: ' err.txt | grep -q -- "$needle" ||
    fail "expected one error line naming '$needle': $(cat err.txt)"
}
no_temporaries() {
  if ls -A | grep -q '\.tmp-'; then fail "stray temporary files: $(ls -A | grep '\.tmp-')"; fi
}

"$oodflow" --quiet synth -o . --dim 64 --train 60000 --test 2000 --shifts 2

# 1. SIGKILL at several moments of `train` (loading, training, writing): the flow file is
# absent or complete, never partial; the next run leaves no temporary behind.
for delay in 0.05 0.3 0.6 0.9 1.2 1.5; do
  timeout -s KILL "$delay" "$oodflow" --quiet train -f id_train.safetensors -o flow.safetensors \
    --blocks 2 --lr 1e-3 2>/dev/null || true
  if [ -e flow.safetensors ]; then
    "$oodflow" --quiet score --model flow.safetensors --id id_test.safetensors --ood ood_shift2.safetensors \
      >/dev/null || fail "a flow file left by a killed train (after ${delay} s) does not load"
  fi
done
"$oodflow" --quiet train -f id_train.safetensors -o flow.safetensors --blocks 2 --lr 1e-3
no_temporaries

# 2. Two processes write the same output at once: one complete, valid file.
"$oodflow" --quiet train -f id_train.safetensors -o same.safetensors --blocks 2 --seed 1 &
"$oodflow" --quiet train -f id_train.safetensors -o same.safetensors --blocks 2 --seed 2 &
wait
"$oodflow" --quiet score --model same.safetensors --id id_test.safetensors --ood ood_shift2.safetensors \
  >/dev/null || fail "concurrent writers left an invalid flow file"
no_temporaries

# 3. A full disk and a missing folder: one clear line, exit 1, nothing left.
one_line_error 1 "/dev/full" "$oodflow" --quiet score --model flow.safetensors \
  --id id_test.safetensors --ood ood_shift2.safetensors --out /dev/full
one_line_error 1 "No space left" "$oodflow" --quiet detect -m flow.safetensors \
  -f id_test.safetensors -o /dev/full
one_line_error 1 "no/such/folder" "$oodflow" --quiet train -f id_test.safetensors \
  -o no/such/folder/flow.safetensors
[ -c /dev/full ] || fail "/dev/full is no longer a device"

# 4. The backbone recorded (by SHA-256) in the features changes on disk: fit (ReAct reads its
# classifier head) and detect (runs it on images) refuse it.
cp "$root/tests/data/extract/tiny_backbone.pt" backbone.pt
"$oodflow" --quiet extract --backbone backbone.pt --data "$root/tests/data/extract/images" \
  --out features.safetensors --crop 20
"$oodflow" --quiet fit --detector energy -f features.safetensors -o energy.safetensors \
  --val-fraction 0.25
/usr/bin/python3 -c "import torch; torch.jit.load('backbone.pt').save('backbone.pt')"
one_line_error 1 "SHA-256" "$oodflow" --quiet fit --detector react -f features.safetensors \
  -o react.safetensors
one_line_error 1 "--allow-backbone-mismatch" "$oodflow" --quiet detect -m energy.safetensors \
  --images "$root/tests/data/extract/images"
no_temporaries
echo "faults: kill, concurrent writers, full disk, missing folder, changed backbone: all held"
