/* tests/fuzz/fuzz_plan.c — a plan file, untrusted: open (header, sections, program, graph,
 * weights) and run. The harness first re-stamps the file size, the weights section's length
 * and the three checksums, so that mutations reach the sections behind them instead of all
 * stopping at "checksum mismatch" (those checks have their own unit tests).
 * Seeds: plans compiled from the shipped models (scripts/fuzz.sh). */
#include <string.h>

#include "core/core.h"
#include "fuzz.h"
#include "serialize/plan_format.h"

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void set_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b) fuzz_fail("out of memory");
    memcpy(b, data, size);
    if (size >= PLAN_HEADER_BYTES) {
        set_u64(b + PLAN_OFF_FILE_BYTES, size);
        uint64_t go = get_u64(b + PLAN_OFF_GRAPH), wo = get_u64(b + PLAN_OFF_WEIGHTS);
        if (wo <= size) {
            set_u64(b + PLAN_OFF_WEIGHTS + 8, size - wo);
            set_u64(b + PLAN_OFF_WEIGHTS_HASH, hash64_chunked(b + wo, size - wo, 0, 2));
            if (go <= wo) set_u64(b + PLAN_OFF_META_HASH, hash64(b + go, wo - go, 0));
        }
        set_u64(b + PLAN_OFF_HEADER_HASH, hash64(b, PLAN_OFF_HEADER_HASH, 0));
    }
    fuzz_open_and_run_plan(fuzz_scratch_file(b, size, ".plan"), data, size);
    free(b);
    return 0;
}
