#!/usr/bin/env bash
# bf16 benchmark (issue 5): plans compiled with --precision bf16 against fp32 plans of the same
# ONNX file (output cosine similarity, digits CNN top-1) and against ONNX Runtime 1.30 fp32
# (batch-8 throughput, A B A B over ROUNDS rounds, medians). Prints a markdown table.
#
# usage: bench/precision_bench.sh [MODEL...]   (names: resnet50 bert_base mobilenet_v2 digits_cnn)
# env:   STRATA=build/strata  ROUNDS=3  ITERS=5  BATCH=8  THREADS="1 2"  NODE=node
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STRATA=${STRATA:-$ROOT/build/strata}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-5}
BATCH=${BATCH:-8}
THREADS=${THREADS:-"1 2"}
NODE=${NODE:-node}
PEERS=$ROOT/bench/peers
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(resnet50 bert_base mobilenet_v2 digits_cnn)

BENCH_NAME=precision_bench
# shellcheck source=bench/peer_lib.sh
. "$ROOT/bench/peer_lib.sh"

echo "| model | threads | bf16 kernels | cosine bf16 vs fp32 | top-1 fp32 / bf16 | Strata bf16 p50 ms (batch $BATCH) | ORT fp32 p50 ms | throughput Strata bf16 / ORT fp32 |"
echo "|---|---|---|---|---|---|---|---|"
for name in "${MODELS[@]}"; do
    model=$(model_path "$name")
    [ -n "$model" ] || { echo "| $name | (model missing: scripts/make-bench-models.sh $name) |"; continue; }
    # the input: the model's first input at batch $BATCH (the digits test set for the digits CNN)
    spec=$(/usr/bin/python3 - "$model" "$BATCH" "$TMP/x.npy" "$ROOT/../shared/models/digits_test_x.npy" "$name" <<'EOF'
import sys, numpy as np, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
b = int(sys.argv[2])
inits = {i.name for i in m.graph.initializer}
inp = [i for i in m.graph.input if i.name not in inits][0]
dims = [d.dim_value if d.dim_value > 0 else (b if k == 0 else 1) for k, d in enumerate(inp.type.tensor_type.shape.dim)]
rng = np.random.default_rng(0)
if sys.argv[5] == "digits_cnn":
    x = np.load(sys.argv[4])[:b]
elif inp.type.tensor_type.elem_type == 1:
    x = rng.random(dims, dtype=np.float32)
else:
    x = rng.integers(0, 1000, dims).astype(np.int64)
np.save(sys.argv[3], x)
print(inp.name + " " + "x".join(str(d) for d in x.shape))
EOF
)
    input=${spec% *}; shape=${spec#* }
    "$STRATA" compile "$model" -o "$TMP/f32.plan" --shape "$input=$shape" > /dev/null
    "$STRATA" compile "$model" -o "$TMP/bf16.plan" --shape "$input=$shape" --precision bf16 > /dev/null
    n_bf16=$("$STRATA" profile "$TMP/bf16.plan" --batch "$BATCH" --iters 1 --top 100000 2>/dev/null | grep -c "_bf16" || true)
    rm -rf "$TMP/of" "$TMP/ob"
    "$STRATA" run "$TMP/f32.plan" -i "$input=$TMP/x.npy" -o "$TMP/of" > /dev/null
    "$STRATA" run "$TMP/bf16.plan" -i "$input=$TMP/x.npy" -o "$TMP/ob" > /dev/null
    cos=$(/usr/bin/python3 - "$TMP/of" "$TMP/ob" <<'EOF'
import sys, os, numpy as np
worst = 1.0
for f in sorted(os.listdir(sys.argv[1])):
    a = np.load(os.path.join(sys.argv[1], f)).astype(np.float64).ravel()
    b = np.load(os.path.join(sys.argv[2], f)).astype(np.float64).ravel()
    worst = min(worst, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
print("%.6f" % worst)
EOF
)
    top1="-"
    if [ "$name" = digits_cnn ]; then
        tx=$ROOT/../shared/models/digits_test_x.npy; ty=$ROOT/../shared/models/digits_test_y.npy
        n=$(/usr/bin/python3 -c "import numpy as np,sys; print(np.load(sys.argv[1]).shape[0])" "$tx")
        "$STRATA" compile "$model" -o "$TMP/f32all.plan" --shape "$input=${n}x1x8x8" > /dev/null
        "$STRATA" compile "$model" -o "$TMP/bf16all.plan" --shape "$input=${n}x1x8x8" --precision bf16 > /dev/null
        a32=$("$STRATA" run "$TMP/f32all.plan" -i "$input=$tx" --labels "$ty" | awk '/^accuracy/ {print $2}')
        a16=$("$STRATA" run "$TMP/bf16all.plan" -i "$input=$tx" --labels "$ty" | awk '/^accuracy/ {print $2}')
        top1="$a32 / $a16 of $n"
    fi
    for t in $THREADS; do
        : > "$TMP/s"; : > "$TMP/o"
        for r in $(seq 1 "$ROUNDS"); do
            "$STRATA" bench "$TMP/bf16.plan" --batch "$BATCH" --threads "$t" --iters "$ITERS" --warmup 1 --json > "$TMP/s.json"
            json "$TMP/s.json" p50_ms >> "$TMP/s"
            "$NODE" "$PEERS/ort_run.js" "$model" "$TMP/x.npy" --runs "$ITERS" --warmup 1 --threads "$t" > "$TMP/o.json"
            json "$TMP/o.json" median_ms >> "$TMP/o"
        done
        s=$(median < "$TMP/s"); o=$(median < "$TMP/o")
        awk -v n="$name" -v t="$t" -v k="$n_bf16" -v c="$cos" -v a="$top1" -v s="$s" -v o="$o" \
            'BEGIN { printf "| %s | %s | %s | %s | %s | %.3f | %.3f | %.2fx |\n", n, t, k, c, a, s, o, o / s }'
    done
done
