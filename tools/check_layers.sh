#!/usr/bin/env bash
# tools/check_layers.sh — the layer rule: a file in src/<layer>/ includes only its own folder's
# headers and the interface header of layers below it (core < kernels < ir < serialize <
# optimize < compile < runtime < server). Prints each violation; exits 1 if any.
set -u
cd "$(dirname "$0")/.." || exit 2
order=(core kernels ir serialize optimize compile runtime server)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }
bad=0
while IFS= read -r f; do
    layer=$(echo "$f" | cut -d/ -f2)
    lr=$(rank "$layer")
    while IFS= read -r inc; do
        target=$(echo "$inc" | sed -E 's/.*"([^"]+)".*/\1/')
        case "$target" in */*) ;; *) continue ;; esac   # same-folder header
        tl=${target%%/*}
        tr=$(rank "$tl")
        [ "$tr" -lt 0 ] && continue                      # not a layer path (e.g. strata/...)
        if [ "$tl" = "$layer" ]; then continue; fi
        hdr=$(basename "$target")
        if [ "$tr" -ge "$lr" ]; then
            echo "layer violation: $f includes $target ($tl is not below $layer)"; bad=1
        elif [ "$hdr" != "$tl.h" ] && [ "$hdr" != "core.h" ]; then
            echo "layer violation: $f includes $target (only $tl/$tl.h is $tl's interface)"; bad=1
        fi
    done < <(grep -E '^#include "' "$f")
done < <(find src -name '*.c' -o -name '*.h' | sort)
exit $bad
