#!/bin/bash
# bench/serve_bench.sh — Strata's server against a FastAPI + PyTorch server (bench/peers/fastapi_server.py)
# on the same model and load, both driven by `strata perf`, in A B A B order; prints medians and
# ratios (issue 4's bars): digits throughput and p99, ResNet-50 throughput, server vs offline
# throughput of the same plan at batch 8, and the per-request overhead at concurrency 1.
# usage: STRATA=build/strata DUR=5 ROUNDS=2 C=16 bench/serve_bench.sh [digits] [resnet50]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STRATA=${STRATA:-$ROOT/build/strata}
DUR=${DUR:-5}            # seconds measured per run
ROUNDS=${ROUNDS:-2}      # A B rounds (medians over them)
C=${C:-16}               # concurrency of the comparison
PY=/usr/bin/python3
WHAT=${*:-digits resnet50}
TMP=$(mktemp -d /tmp/serve-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not ready: $1" >&2; return 1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }     # a key=value of a PERF line
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# the repository: the demo digits config, digits without the batching delay (overhead at c=1),
# ResNet-50 batching to 8
REPO=$TMP/repo
mkdir -p "$REPO"
cp -r "$ROOT/models/repository/digits" "$REPO/digits"
mkdir -p "$REPO/digits_nodelay/1"
cp "$ROOT/models/digits_cnn.onnx" "$REPO/digits_nodelay/1/model.onnx"
sed -e 's/name: "digits"/name: "digits_nodelay"/' -e 's/max_queue_delay_microseconds: [0-9]*/max_queue_delay_microseconds: 0/' \
    -e 's/count: 2/count: 1/' "$ROOT/models/repository/digits/config.pbtxt" > "$REPO/digits_nodelay/config.pbtxt"
if [[ " $WHAT " == *" resnet50 "* ]]; then
    mkdir -p "$REPO/resnet50/1"
    ln -s "$ROOT/bench/models/resnet50.onnx" "$REPO/resnet50/1/model.onnx"
    cat > "$REPO/resnet50/config.pbtxt" <<'EOF'
max_batch_size: 8
input [ { name: "input", data_type: TYPE_FP32, dims: [ 3, 224, 224 ] } ]
output [ { name: "output", data_type: TYPE_FP32, dims: [ 1000 ] } ]
dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 20000 }
instance_group [ { count: 1, kind: KIND_CPU } ]
EOF
fi

SPORT=$(free_port)
"$STRATA" serve --model-repository "$REPO" --http-port "$SPORT" --grpc-port 0 --metrics-port 0 --plan-cache "$TMP/cache" \
    --host 127.0.0.1 > "$TMP/serve.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$SPORT/v2/health/ready"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $STRATA, DUR=$DUR ROUNDS=$ROUNDS C=$C"

perf() {  # url model concurrency [extra args] -> PERF line
    local url=$1 model=$2 c=$3; shift 3
    "$STRATA" perf --url "$url" --model "$model" --concurrency "$c" --duration "$DUR" --warmup 1 "$@" | grep '^PERF' || true
}

compare() {  # name strata_model peer_model protocol_flag
    local name=$1 smodel=$2 pmodel=$3 flag=$4
    local PPORT
    PPORT=$(free_port)
    $PY "$ROOT/bench/peers/fastapi_server.py" --model "$pmodel" --port "$PPORT" > "$TMP/peer-$pmodel.log" 2>&1 &
    local ppid=$!
    PIDS+=($ppid)
    wait_ready "http://127.0.0.1:$PPORT/v2/health/ready"
    local st="" sp="" pt="" pp=""
    for r in $(seq "$ROUNDS"); do
        local a b
        a=$(perf "http://127.0.0.1:$SPORT" "$smodel" "$C" $flag)
        b=$(perf "http://127.0.0.1:$PPORT" "$pmodel" "$C" $flag)
        echo "  round $r strata:  $a"
        echo "  round $r fastapi: $b"
        st="$st $(echo "$a" | field throughput)"; sp="$sp $(echo "$a" | field p99_us)"
        pt="$pt $(echo "$b" | field throughput)"; pp="$pp $(echo "$b" | field p99_us)"
    done
    kill "$ppid"; wait "$ppid" 2>/dev/null || true
    local mst msp mpt mpp
    mst=$(echo "$st" | median); msp=$(echo "$sp" | median); mpt=$(echo "$pt" | median); mpp=$(echo "$pp" | median)
    echo "RESULT $name c=$C ${flag:-binary}: strata $mst infer/s p99 $msp us | fastapi $mpt infer/s p99 $mpp us |" \
         "throughput ratio $(ratio "$mst" "$mpt")x, p99 ratio $(ratio "$msp" "$mpp")"
}

if [[ " $WHAT " == *" digits "* ]]; then
    echo "== digits CNN (JSON tensors, both servers)"
    compare digits digits digits --json
    echo "== digits CNN (binary tensor extension, both servers)"
    compare digits-binary digits digits ""
    echo "== per-request overhead, digits CNN, binary extension, concurrency 1, no batching delay"
    ov=""
    for r in $(seq "$ROUNDS"); do
        l=$(perf "http://127.0.0.1:$SPORT" digits_nodelay 1)
        echo "  round $r: $l"
        ov="$ov $(echo "$l" | awk '{for (i=1;i<=NF;i++) {split($i,kv,"="); v[kv[1]]=kv[2]} printf "%.1f", v["avg_us"]-v["infer_us"]}')"
    done
    echo "RESULT overhead: median client latency minus model compute = $(echo "$ov" | median) us per request"
fi

if [[ " $WHAT " == *" resnet50 "* ]]; then
    echo "== ResNet-50 (binary tensor extension, both servers)"
    compare resnet50 resnet50 resnet50 ""
    echo "== ResNet-50: server at concurrency $C vs strata bench offline at batch 8 (the same plan)"
    PLAN=$(ls "$TMP"/cache/resnet50-1-*.plan | head -1)
    sv="" of=""
    for r in $(seq "$ROUNDS"); do
        l=$(perf "http://127.0.0.1:$SPORT" resnet50 "$C")
        o=$("$STRATA" bench "$PLAN" --batch 8 --iters 20 --json | $PY -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["throughput_per_s"])')
        echo "  round $r server: $l"
        echo "  round $r offline batch 8: $o samples/s"
        sv="$sv $(echo "$l" | field throughput)"; of="$of $o"
    done
    msv=$(echo "$sv" | median); mof=$(echo "$of" | median)
    echo "RESULT resnet50 server c=$C $msv infer/s vs offline batch 8 $mof samples/s: $(ratio "$msv" "$mof")x"
fi
