/* tests/fuzz/fuzz_npy.c — a .npy file, untrusted (the CLI's and tests' input format): read it;
 * what reads must have as many bytes as its shape says, all readable, and write back.
 * Seeds: the shipped digits_test_x.npy / digits_test_y.npy and scripts/fuzz.sh's small files. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_tensor *t = NULL;
    if (strata_npy_read(fuzz_scratch_file(data, size, ".npy"), &t) != STRATA_OK) return 0;
    size_t n = strata_tensor_bytes(t);
    if (n != (size_t)strata_tensor_numel(t) * strata_dtype_size(strata_tensor_dtype(t)))
        fuzz_fail("tensor bytes do not match its shape");
    volatile uint8_t sum = 0; /* every byte must be readable (ASan checks) */
    const uint8_t *b = strata_tensor_data(t);
    for (size_t k = 0; k < n; k++) sum ^= b[k];
    (void)sum;
    static char out[256];
    snprintf(out, sizeof out, "/tmp/strata-fuzz-%ld-out.npy", (long)getpid());
    if (strata_npy_write(out, t) != STRATA_OK) fuzz_fail("a tensor that reads does not write");
    strata_tensor_destroy(t);
    return 0;
}
