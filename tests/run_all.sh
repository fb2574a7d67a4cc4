#!/usr/bin/env bash
# tests/run_all.sh — the quick tier behind `make test`: unit tests, the ONNX backend
# conformance suite against the pass count kept in tests/conformance_baseline.txt (which only
# goes up) on the reference and the compiled path, the server's integration tests, the fuzz
# regression inputs, and the layer rule. Ends with one "N passed, N failed" line: one count per check.
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
SHARED=${STRATA_SHARED:-../shared}
export STRATA_SHARED=$SHARED
passed=0; failed=0

"$BUILD/strata-test" | tee "$BUILD/unit.log"
u_pass=$(grep -oE '^unit: [0-9]+ passed' "$BUILD/unit.log" | grep -oE '[0-9]+' || echo 0)
u_fail=$(grep -oE '[0-9]+ failed' "$BUILD/unit.log" | tail -1 | grep -oE '[0-9]+' || echo 1)
passed=$((passed + ${u_pass:-0})); failed=$((failed + ${u_fail:-1}))

baseline=$(tr -dc 0-9 < tests/conformance_baseline.txt)
dirs=()
for d in node simple pytorch-converted pytorch-operator; do dirs+=("$SHARED/testdata/onnx-backend/$d"); done
if [ -d "$SHARED/testdata/onnx-backend/node" ]; then
    "$BUILD/strata" conformance "${dirs[@]}" > "$BUILD/conformance.log" 2>&1
    grep -E 'tests passed' "$BUILD/conformance.log"
    got=$(grep -E '^all: ' "$BUILD/conformance.log" | grep -oE '^all: [0-9]+' | grep -oE '[0-9]+')
    if [ -n "$got" ] && [ "$got" -ge "$baseline" ]; then
        echo "conformance: $got passed, baseline $baseline: ok (failures listed in $BUILD/conformance.log)"
        passed=$((passed + 1))
        [ "$got" -gt "$baseline" ] && echo "conformance: raise tests/conformance_baseline.txt to $got"
    else
        echo "FAIL conformance: ${got:-?} passed is below the baseline $baseline"
        grep -E '^FAIL' "$BUILD/conformance.log" | head -50
        failed=$((failed + 1))
    fi
    # the compiled path (passes + plan + executor) must pass every test the reference passes
    # (with STRATA_STRESS_ARENA: garbage in every free arena byte before each step)
    STRATA_STRESS_ARENA=1 "$BUILD/strata" conformance --compiled "${dirs[@]}" > "$BUILD/conformance-compiled.log" 2>&1
    grep -E '^all: ' "$BUILD/conformance-compiled.log" | sed 's/^all:/compiled:/'
    # and once more with every convolution region in NHWC (the other layout's kernels)
    STRATA_LAYOUT=nhwc STRATA_STRESS_ARENA=1 "$BUILD/strata" conformance --compiled "${dirs[@]}" > "$BUILD/conformance-nhwc.log" 2>&1
    grep -E '^all: ' "$BUILD/conformance-nhwc.log" | sed 's/^all:/compiled nhwc:/'
    worse=$(comm -13 <(grep -oE '^FAIL [A-Za-z0-9_]+' "$BUILD/conformance.log" | sort) \
                     <(cat "$BUILD/conformance-compiled.log" "$BUILD/conformance-nhwc.log" | grep -oE '^FAIL [A-Za-z0-9_]+' | sort -u))
    if [ -z "$worse" ]; then
        echo "conformance --compiled: agrees with the reference path on every passing test"
        passed=$((passed + 1))
    else
        echo "FAIL conformance --compiled: fails where the reference passes:"; echo "$worse" | head -20
        grep -F -f <(echo "$worse" | sed 's/^FAIL //') "$BUILD/conformance-compiled.log" "$BUILD/conformance-nhwc.log" | head -20
        failed=$((failed + 1))
    fi
else
    echo "FAIL conformance: $SHARED/testdata/onnx-backend not found (set STRATA_SHARED)"
    failed=$((failed + 1))
fi

# the server with real HTTP clients (KServe v2, batching, bad requests, shutdown)
if /usr/bin/python3 tests/integration/test_server.py "$BUILD" > "$BUILD/server.log" 2>&1; then
    tail -1 "$BUILD/server.log" | sed 's/^/server: /'
    passed=$((passed + 1))
else
    echo "FAIL server integration test:"; grep -E 'FAIL|Error|error' "$BUILD/server.log" | head -20; tail -3 "$BUILD/server.log"
    failed=$((failed + 1))
fi

# the same server over gRPC with a real grpcio client
if /usr/bin/python3 tests/integration/test_grpc.py "$BUILD" > "$BUILD/grpc.log" 2>&1; then
    tail -1 "$BUILD/grpc.log" | sed 's/^/grpc: /'
    passed=$((passed + 1))
else
    echo "FAIL gRPC integration test:"; grep -E 'FAIL|Error|error' "$BUILD/grpc.log" | head -20; tail -3 "$BUILD/grpc.log"
    failed=$((failed + 1))
fi

# model lifecycle (poll / explicit control, versions, priorities) and the "nothing lost" soak:
# 64 clients with reloads, every answer checked, counters equal (20 s here; 60 s by hand)
if /usr/bin/python3 tests/integration/test_lifecycle.py "$BUILD" --soak-secs 20 > "$BUILD/lifecycle.log" 2>&1; then
    tail -1 "$BUILD/lifecycle.log" | sed 's/^/lifecycle: /'
    passed=$((passed + 1))
else
    echo "FAIL lifecycle integration test:"; grep -E 'FAIL|Error|error' "$BUILD/lifecycle.log" | head -20; tail -3 "$BUILD/lifecycle.log"
    failed=$((failed + 1))
fi

# fuzz regressions: every input that once broke a fuzz target (tests/fuzz/regress/<target>/)
# plus a shipped file per target, through the replay programs — the ASan + UBSan ones when
# `make replay-asan` built them (scripts/test.sh does), else the plain build's. The fuzzers
# themselves need clang: scripts/fuzz.sh.
RB=${REPLAY_BUILD:-build-asan}; [ -x "$RB/fuzz/replay_onnx" ] || RB=$BUILD
"$BUILD/strata" compile models/digits_cnn.onnx -o "$BUILD/fuzz-seed.plan" > /dev/null 2>&1
fz_bad=""; fz_n=0
for t in onnx plan safetensors npy tensor config; do
    inputs=()
    [ -d "tests/fuzz/regress/$t" ] && inputs+=("tests/fuzz/regress/$t")
    case $t in
    onnx) inputs+=(models/digits_cnn.onnx) ;;
    plan) inputs+=("$BUILD/fuzz-seed.plan") ;;
    npy) inputs+=(models/digits_test_y.npy) ;;
    config) inputs+=(models/repository/digits/config.pbtxt) ;;
    esac
    [ ${#inputs[@]} -eq 0 ] && continue
    if "$RB/fuzz/replay_$t" "${inputs[@]}" > "$BUILD/fuzz-replay-$t.log" 2>&1; then
        fz_n=$((fz_n + $(grep -oE '^replayed [0-9]+' "$BUILD/fuzz-replay-$t.log" | grep -oE '[0-9]+')))
    else
        fz_bad="$fz_bad $t"; tail -5 "$BUILD/fuzz-replay-$t.log"
    fi
done
if [ -z "$fz_bad" ]; then
    echo "fuzz replay ($RB): $fz_n saved inputs, no crash or sanitizer report"; passed=$((passed + 1))
else
    echo "FAIL fuzz replay:$fz_bad"; failed=$((failed + 1))
fi

if bash tools/check_layers.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
