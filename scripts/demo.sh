#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the project and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${WIM_JOBS:-2}"
echo "demo: nothing to run yet"
