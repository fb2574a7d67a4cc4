# bench/peer_lib.sh — shared by the benchmarks that run Strata beside ONNX Runtime (sourced, with
# ROOT, STRATA, PEERS and BENCH_NAME set): checks, a temporary folder, median, a JSON field, and
# where a model of a given name lives.
die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
[ -x "$STRATA" ] || die "$STRATA not built (make -j2)"
[ -d "$PEERS/node_modules/onnxruntime-node" ] || die "onnxruntime-node missing (scripts/install-deps.sh --bench)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/$BENCH_NAME.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
json() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

model_path() {
    for d in "$ROOT/bench/models" "$ROOT/../shared/models" "$ROOT/models"; do
        [ -f "$d/$1.onnx" ] && { echo "$d/$1.onnx"; return; }
    done
}
