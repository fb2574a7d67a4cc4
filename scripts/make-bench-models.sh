#!/bin/sh
# Make the large benchmark models (not stored in git) into bench/models/.
# Copies the shared exporter (/work/shared/models/make_models.py, read-only in CI) to a
# scratch folder, runs it there with Debian's python and moves the .onnx files into place.
# Usage: scripts/make-bench-models.sh [name,name]   (default: resnet50; also bert_base, ...)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAMES=${1:-resnet50}
PY=${PYTHON:-/usr/bin/python3}
SRC=${MAKE_MODELS:-}
if [ -z "$SRC" ]; then
    for c in "$ROOT/../shared/models/make_models.py" /work/shared/models/make_models.py; do
        if [ -f "$c" ]; then SRC=$c; break; fi
    done
fi
if [ -z "$SRC" ] || [ ! -f "$SRC" ]; then
    echo "make-bench-models: make_models.py not found (set MAKE_MODELS=/path/to/make_models.py)" >&2
    exit 1
fi

OUT="$ROOT/bench/models"
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-models.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

echo "make-bench-models: exporting $NAMES with $SRC (scratch $WORK)"
cp "$SRC" "$WORK/make_models.py"
(cd "$WORK" && "$PY" make_models.py --only "$NAMES")

old_ifs=$IFS
IFS=,
for n in $NAMES; do
    [ -n "$n" ] || continue
    if [ ! -f "$WORK/models/$n.onnx" ]; then
        echo "make-bench-models: $n.onnx was not produced" >&2
        exit 1
    fi
    mv -f "$WORK/models/$n.onnx" "$OUT/$n.onnx"
    echo "make-bench-models: wrote $OUT/$n.onnx ($(wc -c < "$OUT/$n.onnx") bytes)"
done
IFS=$old_ifs
if [ -f "$WORK/models/model_info.json" ]; then
    cp -f "$WORK/models/model_info.json" "$OUT/model_info.json"
fi
