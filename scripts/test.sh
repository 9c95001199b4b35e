#!/usr/bin/env bash
# The README's test command: installs/builds via setup.sh, then runs the hermetic test suite
# (label "unit": needs nothing but what setup.sh installs). Data-dependent tests (label "data",
# against ../shared/data) run with: ctest --test-dir build -L data
# Environment: as setup.sh (BUILD_DIR, TERRASEG_WERROR, JOBS).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir "${BUILD_DIR:-build}" -L unit --output-on-failure -j "${JOBS:-$(nproc)}"
