#!/usr/bin/env bash
# From nothing to a tested build: installs the system packages, builds, runs every test.
# This is the command .ci/run calls.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/install_deps.sh"
"$here/scripts/build.sh"
cd "${OODFLOW_BUILD_DIR:-$here/build}"
ctest --output-on-failure --parallel 2 --timeout 900
