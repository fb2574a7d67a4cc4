#!/usr/bin/env bash
# Plan benchmark (issue 3): Strata's plan open + session creation against ONNX Runtime's session
# creation on the same ONNX file; Strata's first run against its steady-state median; the memory
# plan's arena against the sum of all intermediates; peak RSS of a loaded session that has run
# (Strata `bench` on the plan vs ORT `ort_run.js`), all under /usr/bin/time -v, alternating
# A B A B over ROUNDS rounds, medians reported with ratios.
#
# usage: bench/plan_bench.sh [MODEL.onnx]   (default bench/models/resnet50.onnx)
# env:   STRATA=build/strata  ROUNDS=5  THREADS=1  ITERS=5  NODE=node
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${1:-$ROOT/bench/models/resnet50.onnx}
STRATA=${STRATA:-$ROOT/build/strata}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-1}
ITERS=${ITERS:-5}
NODE=${NODE:-node}
PEERS=$ROOT/bench/peers
TIME=/usr/bin/time

die() { echo "plan_bench: $*" >&2; exit 1; }
[ -f "$MODEL" ] || die "$MODEL not found (scripts/make-bench-models.sh)"
[ -x "$STRATA" ] || die "$STRATA not built (make -j2)"
[ -x "$TIME" ] || die "$TIME missing (scripts/install-deps.sh)"
[ -d "$PEERS/node_modules/onnxruntime-node" ] || die "onnxruntime-node missing (scripts/install-deps.sh --bench)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/plan_bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
PLAN=$TMP/model.plan
rss_mb() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1" | awk '{printf "%.1f", $1*1024/1e6}'; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
json() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# input shape for ORT: the model's first input with symbolic dims as 1
/usr/bin/python3 - "$MODEL" "$TMP/x.npy" <<'EOF'
import sys, numpy as np, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
inits = {i.name for i in m.graph.initializer}
inp = [i for i in m.graph.input if i.name not in inits][0]
shape = [d.dim_value if d.dim_value > 0 else 1 for d in inp.type.tensor_type.shape.dim]
elem = inp.type.tensor_type.elem_type
x = (np.random.rand(*shape).astype(np.float32) if elem == 1 else np.random.randint(0, 1000, shape).astype(np.int64))
np.save(sys.argv[2], x)
EOF

cat "$MODEL" > /dev/null
t0=$(date +%s%N)
"$STRATA" compile "$MODEL" -o "$PLAN" > "$TMP/compile.txt"
compile_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
"$STRATA" inspect "$PLAN" --json > "$TMP/inspect.json"
arena=$(json "$TMP/inspect.json" arena_bytes); inter=$(json "$TMP/inspect.json" intermediate_bytes)
echo "model: $MODEL  plan: $(stat -c %s "$PLAN") bytes, compiled in ${compile_ms} ms ($(cat "$TMP/compile.txt" | sed 's/.*: //'))"
echo "threads $THREADS, $ROUNDS rounds alternating strata / ort; ${ITERS} timed runs each"
printf '%-5s %14s %10s %10s %12s %14s %12s %10s\n' round s_load_ms s_first s_p50 s_rssMB ort_create_ms ort_rssMB ort_p50
for r in $(seq 1 "$ROUNDS"); do
    "$TIME" -v -o "$TMP/s.time" "$STRATA" bench "$PLAN" --iters "$ITERS" --warmup 0 --threads "$THREADS" --json > "$TMP/s.json"
    s_load=$(json "$TMP/s.json" load_ms); s_first=$(json "$TMP/s.json" first_run_ms); s_p50=$(json "$TMP/s.json" p50_ms)
    s_rss=$(rss_mb "$TMP/s.time")
    "$NODE" "$PEERS/ort_load.js" "$MODEL" --runs 1 --threads "$THREADS" > "$TMP/o.json"
    o_create=$(json "$TMP/o.json" median_ms)
    "$TIME" -v -o "$TMP/o.time" "$NODE" "$PEERS/ort_run.js" "$MODEL" "$TMP/x.npy" --runs "$ITERS" --warmup 1 --threads "$THREADS" > "$TMP/or.json"
    o_rss=$(rss_mb "$TMP/o.time"); o_p50=$(json "$TMP/or.json" median_ms)
    printf '%-5s %14.3f %10.2f %10.2f %12s %14.1f %12s %10.2f\n' "$r" "$s_load" "$s_first" "$s_p50" "$s_rss" "$o_create" "$o_rss" "$o_p50"
    echo "$s_load $s_first $s_p50 $s_rss $o_create $o_rss $o_p50" >> "$TMP/rows"
done
col() { awk -v c="$1" '{print $c}' "$TMP/rows" | median; }
sl=$(col 1); sf=$(col 2); sp=$(col 3); sr=$(col 4); oc=$(col 5); orr=$(col 6); op=$(col 7)
echo
echo "| plan open + session ms | ORT session create ms | speed-up | first run / p50 | arena MB | intermediates MB | arena share | Strata RSS MB | ORT RSS MB | RSS ratio | Strata p50 ms | ORT p50 ms | latency ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -v sl="$sl" -v oc="$oc" -v sf="$sf" -v sp="$sp" -v a="$arena" -v i="$inter" -v sr="$sr" -v orr="$orr" -v op="$op" 'BEGIN {
    printf "| %.2f | %.1f | %.1fx | %.2f | %.1f | %.1f | %.1f%% | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f |\n",
        sl, oc, oc/sl, sf/sp, a/1e6, i/1e6, 100*a/i, sr, orr, sr/orr, sp, op, sp/op }'
