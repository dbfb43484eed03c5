#!/usr/bin/env bash
# Builds oodflow and its tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DOODFLOW_SANITIZE=address,undefined, into build-asan/) and runs the unit tests under them.
# LibTorch, OpenCV and OpenBLAS come from Debian uninstrumented; see docs/reliability.md (Sanitizers) for
# the options below and why each is needed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${OODFLOW_ASAN_BUILD_DIR:-$here/build-asan}"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# -O1 -g1 rather than RelWithDebInfo's -O2 -g: the reports need line tables (-g1 has them), not
# -O2's optimisations nor the variables' debug information, and this compiles in half the time.
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DOODFLOW_SANITIZE=address,undefined -DOODFLOW_BUILD_BENCHMARKS=OFF >/dev/null
fi
cmake --build "$build" --parallel "${OODFLOW_JOBS:-2}" --target oodflow_tests
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_container_overflow=0:halt_on_error=1:suppressions=$here/tests/sanitizers/asan.supp}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$here/tests/sanitizers/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
"$build/tests/oodflow_tests" --gtest_brief=1 "$@"
