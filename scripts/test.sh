#!/usr/bin/env bash
# From nothing to a tested build: installs the system packages, builds, runs every test
# (unit, CLI, scripts, the fuzz smoke), then the unit tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer (scripts/test_sanitized.sh). This is the command .ci/run calls.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/install_deps.sh"
"$here/scripts/build.sh"
build="${OODFLOW_BUILD_DIR:-$here/build}"
(cd "$build" && ctest --output-on-failure --parallel 2 --timeout 900)
OODFLOW_ASAN_BUILD_DIR="${OODFLOW_ASAN_BUILD_DIR:-$build-asan}" "$here/scripts/test_sanitized.sh"
