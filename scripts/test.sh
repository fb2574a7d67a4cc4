#!/usr/bin/env bash
# scripts/test.sh — all tests: install what is needed, build with warnings as errors, and run
# the quick tier (unit tests, ONNX backend conformance against its baseline, server tests, fuzz
# regression replays under ASan/UBSan, layer rule).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" WERROR=1 all
make -j"$(nproc)" replay-asan   # the fuzz regression replays under ASan + UBSan
make test
