#!/usr/bin/env bash
# Configures and builds oodflow (Release) into build/, or into $OODFLOW_BUILD_DIR.
# Two parallel jobs by default: a LibTorch translation unit takes ~1 GB of memory to compile.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${OODFLOW_BUILD_DIR:-$here/build}"
jobs="${OODFLOW_JOBS:-2}"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build "$build" --parallel "$jobs"
echo "build: $build/apps/oodflow"
