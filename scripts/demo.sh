#!/usr/bin/env bash
# scripts/demo.sh — the main job on the demo model: install what is needed, build, and run the
# digits CNN (models/digits_cnn.onnx) on its 450 test images, printing predictions and accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" build/strata >/dev/null
build/strata inspect models/digits_cnn.onnx
build/strata run models/digits_cnn.onnx -i input=models/digits_test_x.npy \
    --labels models/digits_test_y.npy -o build/demo-out
