#!/usr/bin/env bash
# scripts/demo.sh — the main job on the demo model: install what is needed, build, run the digits
# CNN (models/digits_cnn.onnx) on its 450 test images (predictions and accuracy), then serve the
# demo model repository (models/repository) over KServe v2 HTTP on port 8000 until Ctrl-C.
# DEMO_SERVE=0 stops after the offline run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" build/strata >/dev/null
build/strata inspect models/digits_cnn.onnx
build/strata run models/digits_cnn.onnx -i input=models/digits_test_x.npy \
    --labels models/digits_test_y.npy -o build/demo-out
[ "${DEMO_SERVE:-1}" = 0 ] && exit 0
cat <<'MSG'

Serving models/repository on http://127.0.0.1:8000 (KServe v2), metrics on :8002. Try:
  curl -s localhost:8000/v2/models/digits
  # the first test image (a 2); the answer's largest logit is the predicted digit
  curl -s -X POST localhost:8000/v2/models/digits/infer -H 'Content-Type: application/json' \
    -d '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,8,8],"data":[0,0,0.4375,1,0.875,0.1875,0,0,0,0,0.5625,0.875,0.6875,0.9375,0,0,0,0,0.0625,0.3125,0,0.9375,0.3125,0,0,0,0,0,0,1,0.3125,0,0,0,0,0,0.1875,1,0.25,0,0,0,0,0.0625,0.75,0.875,0.0625,0,0,0,0.3125,0.75,1,1,0.875,0.0625,0,0,0.5,1,0.875,0.625,0.8125,0.1875]}]}'
MSG
exec build/strata serve --model-repository models/repository --http-port 8000 --metrics-port 8002
