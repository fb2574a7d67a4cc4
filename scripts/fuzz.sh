#!/usr/bin/env bash
# scripts/fuzz.sh — the fuzz campaign: builds the targets (make fuzz: clang, libFuzzer,
# ASan+UBSan), seeds a corpus per target once (build-fuzz/corpus/<target>/), runs each target
# for SECONDS (default 60) and keeps what crashed in build-fuzz/crashes/<target>/. A crash is a
# bug: minimise it (the target with -minimize_crash=1 -runs=10000), fix it, and commit the input
# as tests/fuzz/regress/<target>/<name> so `make test` replays it from then on.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]    targets: onnx plan safetensors npy tensor config
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(onnx plan safetensors npy tensor config)
SHARED=${STRATA_SHARED:-../shared}
PY=/usr/bin/python3
F=build-fuzz
make -s -j"$(nproc)" fuzz >/dev/null || { echo "fuzz: build failed (make fuzz)"; exit 2; }
make -s -j"$(nproc)" build/strata >/dev/null || { echo "fuzz: build failed (make)"; exit 2; }

seed() { # target: fills $F/corpus/<target> once
    local t=$1 c=$F/corpus/$1 n=0 m
    [ -d "$c" ] && return
    mkdir -p "$c"
    case $t in
    onnx)
        for m in "$SHARED"/testdata/onnx-backend/node/*/model.onnx; do
            [ "$(stat -c %s "$m")" -le 16384 ] && cp "$m" "$c/$(basename "$(dirname "$m")").onnx"
        done
        cp models/digits_cnn.onnx "$c/" ;;
    plan)
        for m in models/digits_cnn.onnx "$SHARED"/testdata/onnx-backend/node/test_{conv_with_strides_padding,gemm_default_single_elem_vector_bias,matmul_2d,softmax_axis_1,maxpool_2d_default,add_bcast,gather_0,reshape_extended_dims,layer_normalization_2d_axis0,averagepool_2d_pads,relu,transpose_default,concat_2d_axis_0,slice,where_example}/model.onnx; do
            [ -f "$m" ] || continue
            n=$((n + 1))
            build/strata compile "$m" -o "$c/seed$n.plan" >/dev/null 2>&1 || rm -f "$c/seed$n.plan"
        done ;;
    tensor)
        for m in "$SHARED"/testdata/onnx-backend/node/test_{a,b,c,g,m,r,s}*/test_data_set_0/input_0.pb; do
            [ "$(stat -c %s "$m")" -le 4096 ] && cp "$m" "$c/$(basename "$(dirname "$(dirname "$m")")").pb"
        done ;;
    npy)
        cp models/digits_test_y.npy "$c/"
        $PY - "$c" <<'PYEOF'
import sys, numpy as np
d = sys.argv[1]
for i, a in enumerate([np.arange(12, dtype=np.float32).reshape(3, 4), np.zeros((2, 0, 3), np.int64),
                       np.array(3.5, np.float64), np.arange(6, dtype='>i4'), np.ones((2, 2), np.float16),
                       np.array([True, False]), np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3))]):
    np.save(f"{d}/seed{i}.npy", a)
PYEOF
        ;;
    safetensors)
        $PY - "$c" <<'PYEOF'
import json, struct, sys
d = sys.argv[1]
def st(name, tensors):
    hdr, data = {"__metadata__": {"format": "pt"}}, b""
    for n, dt, shape, raw in tensors:
        hdr[n] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(hdr).encode()
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
st("all", [("w", "F32", [4, 3], bytes(48)), ("b", "F32", [3], bytes(12)), ("i", "I64", [2, 2, 2], bytes(64)),
           ("h", "F16", [5], bytes(10)), ("s", "F32", [], bytes(4))])
st("one", [("b", "F32", [3], struct.pack("<3f", 1, 2, 3))])
st("other", [("x", "BF16", [2], bytes(4)), ("w", "F32", [3, 4], bytes(48))])
PYEOF
        ;;
    config)
        cp models/repository/*/config.pbtxt "$c/digits.pbtxt"
        printf 'name: "m"\nbackend: "strata"\nmax_batch_size: 8\ninput [ { name: "x" data_type: TYPE_INT64 dims: [ -1, 4 ] } ]\nversion_policy: { specific: { versions: [ 1, 3 ] } }\ninstance_group [ { count: 1 kind: KIND_CPU } ]\nparameters { key: "threads" value: { string_value: "2" } }\n' > "$c/full.pbtxt"
        printf 'max_batch_size: 0\nversion_policy: { all: {} }\ndynamic_batching { }\n' > "$c/small.pbtxt" ;;
    esac
    echo "fuzz: seeded $t with $(ls "$c" | wc -l) inputs"
}

found=0
for t in "${targets[@]}"; do
    seed "$t"
    mkdir -p "$F/crashes/$t"
    maxlen=65536; [ "$t" = onnx ] || [ "$t" = plan ] && maxlen=1048576
    dict=(); [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=1024 \
    "$F/fuzz/fuzz_$t" "$F/corpus/$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -max_len=$maxlen -artifact_prefix="$F/crashes/$t/" \
        -fork="$(nproc)" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 > "$F/fuzz_$t.log" 2>&1
    last=$(grep -E '^#[0-9]+: cov:' "$F/fuzz_$t.log" | tail -1)
    crashes=$(ls "$F/crashes/$t" | wc -l)
    echo "fuzz $t: ${secs}s; ${last:-no status line}; $crashes inputs saved in $F/crashes/$t"
    if [ "$crashes" -gt 0 ]; then
        found=1
        grep -hE 'SUMMARY|runtime error|invariant broken' "$F/fuzz_$t.log" "$F"/fuzz_"$t".log.* 2>/dev/null | sort | uniq -c | head -20
    fi
done
exit $found
