#!/usr/bin/env bash
# Model benchmark (issue 5): Strata against ONNX Runtime 1.30 (onnxruntime-node, graph
# optimisation level all, fp32) on the same ONNX file and the same input, per model, batch and
# thread count; A B A B over ROUNDS rounds, medians of each side's median latency, ratio
# Strata / ORT (below 1: Strata is faster).
#
# usage: bench/model_bench.sh [MODEL...]   (names: resnet50 mobilenet_v2 bert_base digits_cnn mlp)
# env:   STRATA=build/strata  ROUNDS=3  ITERS=10  BATCHES="1 8"  THREADS="1 2"  NODE=node
#        TACTICS=autotune (Strata's plans: kernels timed on this machine at the run's thread count,
#        as TensorRT's builder does; TACTICS=heuristic for the untimed choice)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STRATA=${STRATA:-$ROOT/build/strata}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-10}
BATCHES=${BATCHES:-"1 8"}
THREADS=${THREADS:-"1 2"}
NODE=${NODE:-node}
TACTICS=${TACTICS:-autotune}
PEERS=$ROOT/bench/peers
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(resnet50 mobilenet_v2 bert_base digits_cnn mlp)

BENCH_NAME=model_bench
# shellcheck source=bench/peer_lib.sh
. "$ROOT/bench/peer_lib.sh"

echo "| model | batch | threads | Strata p50 ms | ORT p50 ms | Strata / ORT |"
echo "|---|---|---|---|---|---|"
for name in "${MODELS[@]}"; do
    model=$(model_path "$name")
    [ -n "$model" ] || { echo "| $name | - | - | (model missing: scripts/make-bench-models.sh $name) | | |"; continue; }
    for b in $BATCHES; do
        # the input: the model's first input with the batch dim set, symbolic dims otherwise 1
        shape=$(/usr/bin/python3 - "$model" "$b" "$TMP/x.npy" <<'EOF'
import sys, numpy as np, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
b = int(sys.argv[2])
inits = {i.name for i in m.graph.initializer}
inp = [i for i in m.graph.input if i.name not in inits][0]
dims = [d.dim_value if d.dim_value > 0 else (b if k == 0 else 1) for k, d in enumerate(inp.type.tensor_type.shape.dim)]
rng = np.random.default_rng(0)
x = rng.random(dims, dtype=np.float32) if inp.type.tensor_type.elem_type == 1 else rng.integers(0, 1000, dims).astype(np.int64)
np.save(sys.argv[3], x)
print(inp.name + "=" + "x".join(str(d) for d in dims))
EOF
)
        for t in $THREADS; do
            # tactics timed at this thread count (as a deployment would compile for its threads)
            "$STRATA" compile "$model" -o "$TMP/m.plan" --shape "$shape" --tactics "$TACTICS" --threads "$t" \
                --timing-cache "$TMP/timing.txt" > /dev/null
            : > "$TMP/s"; : > "$TMP/o"
            for r in $(seq 1 "$ROUNDS"); do
                "$STRATA" bench "$TMP/m.plan" --batch "$b" --threads "$t" --iters "$ITERS" --warmup 2 --json > "$TMP/s.json"
                json "$TMP/s.json" p50_ms >> "$TMP/s"
                "$NODE" "$PEERS/ort_run.js" "$model" "$TMP/x.npy" --runs "$ITERS" --warmup 2 --threads "$t" > "$TMP/o.json"
                json "$TMP/o.json" median_ms >> "$TMP/o"
            done
            s=$(median < "$TMP/s"); o=$(median < "$TMP/o")
            awk -v n="$name" -v b="$b" -v t="$t" -v s="$s" -v o="$o" \
                'BEGIN { printf "| %s | %s | %s | %.3f | %.3f | %.2f |\n", n, b, t, s, o, s / o }'
        done
    done
done
