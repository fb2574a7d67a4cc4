/* tests/fuzz/fuzz_onnx.c — an ONNX ModelProto, untrusted: read (verify, shape inference), write
 * back and read again (what reads must round-trip), optimize, lower to a plan, open and run it.
 * Seeds: the ONNX backend test models and the shipped models (scripts/fuzz.sh). */
#include <stdbool.h>

#include "compile/compile.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ir_model *m = NULL;
    if (onnx_read_model_bytes(data, size, "fuzz.onnx", &m) != STRATA_OK) return 0;

    uint8_t *bytes = NULL;
    size_t n_bytes = 0;
    if (onnx_write_model_bytes(m, &bytes, &n_bytes) != STRATA_OK) fuzz_fail("a model that reads does not write");
    ir_model *again = NULL;
    if (onnx_read_model_bytes(bytes, n_bytes, "fuzz-roundtrip.onnx", &again) != STRATA_OK)
        fuzz_fail("a model that reads does not read back after writing");
    ir_model_destroy(again);
    mem_free(bytes);

    compile_options o = {.tactics = TACTICS_HEURISTIC, .n_threads = 1};
    if (compile_optimize(m, &o) == STRATA_OK) {
        const char *plan = fuzz_scratch_file(NULL, 0, ".plan");
        if (compile_write_plan(m, &o, plan) == STRATA_OK) fuzz_open_and_run_plan(plan, data, size);
    }
    ir_model_destroy(m);
    return 0;
}
