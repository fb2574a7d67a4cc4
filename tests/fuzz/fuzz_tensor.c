/* tests/fuzz/fuzz_tensor.c — a serialized TensorProto (the backend tests' input_N.pb), untrusted:
 * read it; what reads must have as many bytes as its shape says, all readable.
 * Seeds: the ONNX backend tests' input and output files (scripts/fuzz.sh). */
#include "fuzz.h"
#include "serialize/serialize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_tensor *t = NULL;
    if (onnx_read_tensor_bytes(data, size, "fuzz.pb", &t) != STRATA_OK) return 0;
    size_t n = strata_tensor_bytes(t);
    if (t->dtype != STRATA_DTYPE_STRING) {
        if (n != (size_t)strata_tensor_numel(t) * strata_dtype_size(t->dtype))
            fuzz_fail("tensor bytes do not match its shape");
        volatile uint8_t sum = 0; /* every byte must be readable (ASan checks) */
        const uint8_t *b = strata_tensor_data(t);
        for (size_t k = 0; k < n; k++) sum ^= b[k];
        (void)sum;
    }
    strata_tensor_destroy(t);
    return 0;
}
