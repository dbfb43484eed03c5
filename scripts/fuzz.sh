#!/usr/bin/env bash
# Builds the libFuzzer targets of the file-format layer (clang-14, AddressSanitizer and
# UndefinedBehaviorSanitizer; a formats-only build without LibTorch, in build-fuzz/) and runs
# each for SECONDS (default 60), starting from its committed seed corpus in tests/fuzz/corpus/
# (copied to a scratch corpus, so the committed one stays as it is). Prints one line per
# target: executions, executions/s, coverage (edges), features, corpus size, peak RSS, result.
# A crash, leak, timeout (> 10 s for one input) or sanitizer report fails the run; the input
# that caused it is kept in $work/artifacts/ and must become a regression input in
# tests/fuzz/corpus/<target>/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET ...]   (env: OODFLOW_FUZZ_JOBS=2 runs targets in
# parallel; OODFLOW_FUZZ_BUILD_DIR, OODFLOW_FUZZ_WORK)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors npy idx feature_file scores image_list json_config)
build="${OODFLOW_FUZZ_BUILD_DIR:-$here/build-fuzz}"
work="${OODFLOW_FUZZ_WORK:-$build/runs}"
jobs="${OODFLOW_FUZZ_JOBS:-1}"

command -v clang++-14 >/dev/null ||
  { echo "fuzz.sh: clang++-14 is missing: bash scripts/install_deps.sh installs it" >&2; exit 1; }
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$build" "${generator[@]}" -DOODFLOW_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --parallel 2 >/dev/null

run_target() {
  local t="$1" log="$work/$1.log"
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  # Leaks are reported at exit; -error_exitcode makes any finding a failure.
  if "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" \
      "$work/corpus/$t" "$here/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log)"
  fi
  local execs rate rss cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  cov=$(grep -E "^#[0-9]+.*cov: " "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\1 \2 \3/')
  read -r edges features corpus <<<"${cov:-0 0 0}"
  printf "%-13s %11s %9s %7s %9s %7s %8s  %s\n" "$t" "${execs:-0}" "${rate:-0}" "$edges" \
    "$features" "$corpus" "${rss:-0}MB" "$result"
  [ "$result" = ok ]
}
export -f run_target
export build work seconds here

printf "%-13s %11s %9s %7s %9s %7s %8s  %s\n" target executions "exec/s" edges features corpus \
  "peak RSS" result
status=0
printf "%s\n" "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_target {}' || status=1
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds} s each: $([ $status = 0 ] && echo 'no crash, leak, hang or sanitizer report' || echo 'FINDINGS above')"
exit $status
