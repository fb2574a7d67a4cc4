#!/usr/bin/env bash
# Model-load benchmark (issue 2): Strata's load (`strata inspect MODEL`) against ONNX Runtime's
# session creation (bench/peers/ort_load.js) on the same file, alternating A B A B, with the peak
# RSS of each process from /usr/bin/time -v. Prints the per-round figures and a summary table.
#
# usage: bench/load_bench.sh [MODEL.onnx]        (default bench/models/resnet50.onnx)
# env:   STRATA=path/to/strata (default build/strata)   ROUNDS=5   ORT_THREADS=1   NODE=node
#        ORT_ONLY=1 skips Strata (its columns then say "pending")
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${1:-$ROOT/bench/models/resnet50.onnx}
STRATA=${STRATA:-$ROOT/build/strata}
ROUNDS=${ROUNDS:-5}
ORT_THREADS=${ORT_THREADS:-1}
NODE=${NODE:-node}
ORT_ONLY=${ORT_ONLY:-0}
TIME=/usr/bin/time
PEERS=$ROOT/bench/peers

die() { echo "load_bench: $*" >&2; exit 1; }

[ -x "$TIME" ] || die "$TIME not found (apt-get install time, or scripts/install-deps.sh)"
[ -f "$MODEL" ] || die "$MODEL not found (make it with scripts/make-bench-models.sh)"
command -v "$NODE" >/dev/null || die "node not found (scripts/install-deps.sh --bench)"
[ -d "$PEERS/node_modules/onnxruntime-node" ] ||
    die "$PEERS/node_modules/onnxruntime-node missing (scripts/install-deps.sh --bench)"
case $ROUNDS in ''|*[!0-9]*|0) die "ROUNDS must be a positive integer, not '$ROUNDS'" ;; esac

if [ "$ORT_ONLY" != 1 ]; then
    if [ ! -x "$STRATA" ]; then
        echo "load_bench: $STRATA not found or not executable: Strata columns pending" >&2
        echo "            (build it: make BUILD=build -j2, or set STRATA=...)" >&2
        ORT_ONLY=1
    fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/load_bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

BYTES=$(stat -c %s "$MODEL")
now_ns() { date +%s%N; }
# peak RSS in KiB from a /usr/bin/time -v report
rss_kib() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# Warm the page cache so neither side pays for the first read from disk.
cat "$MODEL" > /dev/null

echo "model:  $MODEL ($BYTES bytes)"
echo "strata: $([ "$ORT_ONLY" = 1 ] && echo pending || echo "$STRATA inspect MODEL")"
echo "ort:    $NODE bench/peers/ort_load.js MODEL --runs 1 --threads $ORT_THREADS (graphOptimizationLevel all)"
echo "rounds: $ROUNDS, alternating strata / ort / node-baseline; RSS from $TIME -v; MB = 1e6 bytes"
echo
printf '%-5s %12s %12s %14s %12s %14s\n' round strata_ms strata_rssMB ort_create_ms ort_rssMB node_base_rssMB

for r in $(seq 1 "$ROUNDS"); do
    s_ms=pending; s_rss=pending
    if [ "$ORT_ONLY" != 1 ]; then
        t0=$(now_ns)
        if ! "$TIME" -v -o "$TMP/s.$r.time" "$STRATA" inspect "$MODEL" > "$TMP/s.$r.out" 2>&1; then
            echo "load_bench: round $r: $STRATA inspect $MODEL failed:" >&2
            tail -n 5 "$TMP/s.$r.out" >&2
            exit 1
        fi
        t1=$(now_ns)
        s_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b-a)/1e6}')
        s_kib=$(rss_kib "$TMP/s.$r.time")
        s_rss=$(awk -v k="$s_kib" 'BEGIN {printf "%.1f", k*1024/1e6}')
        echo "$s_ms" >> "$TMP/s_ms"; echo "$s_kib" >> "$TMP/s_kib"
        # the CLI's own "(loaded in N ms)", if it prints one: the in-process figure like ORT's
        s_self=$(sed -n 's/.*(loaded in \([0-9.]*\) ms).*/\1/p' "$TMP/s.$r.out" | head -n 1)
        [ -z "$s_self" ] || echo "$s_self" >> "$TMP/s_self"
    fi

    if ! "$TIME" -v -o "$TMP/o.$r.time" "$NODE" "$PEERS/ort_load.js" "$MODEL" --runs 1 \
            --threads "$ORT_THREADS" > "$TMP/o.$r.out" 2> "$TMP/o.$r.err"; then
        echo "load_bench: round $r: ort_load.js failed:" >&2
        tail -n 5 "$TMP/o.$r.err" "$TMP/o.$r.out" >&2
        exit 1
    fi
    o_ms=$(sed -n 's/.*"median_ms":\([0-9.eE+-]*\).*/\1/p' "$TMP/o.$r.out")
    [ -n "$o_ms" ] || die "round $r: no median_ms in ort_load.js output: $(cat "$TMP/o.$r.out")"
    o_kib=$(rss_kib "$TMP/o.$r.time")
    echo "$o_ms" >> "$TMP/o_ms"; echo "$o_kib" >> "$TMP/o_kib"

    "$TIME" -v -o "$TMP/b.$r.time" "$NODE" "$PEERS/ort_load.js" --require-only > /dev/null 2>&1 ||
        die "round $r: ort_load.js --require-only failed"
    b_kib=$(rss_kib "$TMP/b.$r.time")
    echo "$b_kib" >> "$TMP/b_kib"

    printf '%-5s %12s %12s %14.1f %12.1f %14.1f\n' "$r" "$s_ms" "$s_rss" "$o_ms" \
        "$(awk -v k="$o_kib" 'BEGIN {print k*1024/1e6}')" "$(awk -v k="$b_kib" 'BEGIN {print k*1024/1e6}')"
done

o_ms=$(median < "$TMP/o_ms"); o_kib=$(median < "$TMP/o_kib"); b_kib=$(median < "$TMP/b_kib")
if [ "$ORT_ONLY" != 1 ]; then
    s_ms=$(median < "$TMP/s_ms"); s_kib=$(median < "$TMP/s_kib")
    s_self=
    if [ -s "$TMP/s_self" ]; then s_self=$(median < "$TMP/s_self"); fi
else
    s_ms=; s_kib=; s_self=
fi

echo
echo "medians over $ROUNDS rounds (ratio = peak RSS / file size):"
echo
awk -v bytes="$BYTES" -v s_ms="$s_ms" -v s_kib="$s_kib" -v o_ms="$o_ms" -v o_kib="$o_kib" \
    -v b_kib="$b_kib" 'BEGIN {
    mb = bytes / 1e6
    o_rss = o_kib * 1024 / 1e6; b_rss = b_kib * 1024 / 1e6
    if (s_ms == "") { sm = "pending"; sr = "pending"; sx = "pending"; tr = "pending" }
    else {
        s_rss = s_kib * 1024 / 1e6
        sm = sprintf("%.1f", s_ms); sr = sprintf("%.1f", s_rss)
        sx = sprintf("%.2f", s_rss / mb); tr = sprintf("%.2f", s_ms / o_ms)
    }
    print "| file MB | Strata load ms | Strata peak RSS MB | Strata RSS/file | ORT create ms | ORT peak RSS MB | ORT RSS/file | node+ORT baseline RSS MB | ORT (RSS-baseline)/file | Strata/ORT time |"
    print "|---|---|---|---|---|---|---|---|---|---|"
    printf "| %.1f | %s | %s | %s | %.1f | %.1f | %.2f | %.1f | %.2f | %s |\n", mb, sm, sr, sx, \
        o_ms, o_rss, o_rss / mb, b_rss, (o_rss - b_rss) / mb, tr
    if (s_ms != "")
        printf "\nissue bar (Strata peak RSS < 1.3 x file size): %s (%.2f)\n", \
            (s_rss < 1.3 * mb) ? "PASS" : "FAIL", s_rss / mb
}'
echo
[ -z "$s_self" ] || echo "Strata's own 'loaded in' figure (in process, like ORT's): median $s_self ms, Strata/ORT $(awk -v a="$s_self" -v b="$o_ms" 'BEGIN {printf "%.2f", a/b}')"
echo "Strata load ms = wall time of the whole 'strata inspect' process (start, load, summary, exit);"
echo "ORT create ms = InferenceSession.create() timed inside node, first session of a fresh process."
