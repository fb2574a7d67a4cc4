/* tests/fuzz/fuzz.h — what the fuzz targets share. Each target is one fuzz_<name>.c with
 * libFuzzer's entry point; `make fuzz` links it with -fsanitize=fuzzer (clang, ASan, UBSan),
 * and replay.c links it into a plain program that runs saved inputs (the regression files in
 * tests/fuzz/regress/<name>/, replayed by `make test`). Rules, as in onnx/fuzz: an input the
 * reader rejects with an error is fine (return 0); a crash, a sanitizer report, a hang or a
 * broken invariant (fuzz_fail) is a bug. */
#ifndef STRATA_FUZZ_H
#define STRATA_FUZZ_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/strata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: say which and stop (abort is how a harness reports to libFuzzer). */
static inline void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz invariant broken: %s (last error: %s)\n", what, strata_last_error());
    abort();
}

/* Readers that take a path get the input through a scratch file, one per process and suffix
 * (the suffix is the extension some readers look at). */
static inline const char *fuzz_scratch_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/strata-fuzz-%ld%s", (long)getpid(), suffix);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) fuzz_fail("cannot create the scratch file");
    for (size_t done = 0; done < size;) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0) fuzz_fail("cannot write the scratch file");
        done += (size_t)k;
    }
    close(fd);
    return path;
}

/* Fills t with small values from pattern (integers 0..15, floats -4..4): inputs that give
 * sizes (a window length, a Range limit) then ask for small outputs, as a real caller would. */
static inline void fuzz_fill(strata_tensor *t, const uint8_t *pattern, size_t n_pattern)
{
    void *d = strata_tensor_data(t);
    int64_t n = strata_tensor_numel(t);
    for (int64_t k = 0; k < n; k++) {
        uint8_t v = n_pattern ? pattern[(size_t)k % n_pattern] : 0;
        switch (strata_tensor_dtype(t)) {
        case STRATA_DTYPE_F32: ((float *)d)[k] = (float)((int)v - 128) / 32.0f; break;
        case STRATA_DTYPE_F64: ((double *)d)[k] = (double)((int)v - 128) / 32.0; break;
        case STRATA_DTYPE_I64: ((int64_t *)d)[k] = v % 16; break;
        case STRATA_DTYPE_I32: ((int32_t *)d)[k] = v % 16; break;
        case STRATA_DTYPE_I8: ((int8_t *)d)[k] = (int8_t)(v % 16); break;
        case STRATA_DTYPE_U8: ((uint8_t *)d)[k] = v % 16; break;
        case STRATA_DTYPE_BOOL: ((uint8_t *)d)[k] = v & 1; break;
        default: memset((uint8_t *)d + (size_t)k * strata_dtype_size(strata_tensor_dtype(t)), 0,
                        strata_dtype_size(strata_tensor_dtype(t)));
        }
    }
}

/* Opens the plan at path and, when it is small (arena and inputs), runs it once on inputs
 * of the model's declared shapes (symbolic dims as 1) filled from pattern: a plan that opens
 * must run or fail with an error. */
static inline void fuzz_open_and_run_plan(const char *path, const uint8_t *pattern, size_t n_pattern)
{
    strata_plan *p = NULL;
    if (strata_plan_open(path, &p) != STRATA_OK) return;
    const strata_model *m = strata_plan_model(p);
    size_t n_in = strata_model_input_count(m);
    enum { MAX_INPUTS = 8, MAX_ELEMS = 1 << 16 };
    const char *names[MAX_INPUTS];
    strata_tensor *xs[MAX_INPUTS] = {0};
    size_t made = 0;
    bool ok = n_in <= MAX_INPUTS && strata_plan_arena_bytes(p) <= (64u << 20);
    for (size_t i = 0; ok && i < n_in; i++) {
        strata_value_info vi;
        if (strata_model_input_info(m, i, &vi) != STRATA_OK || vi.rank < 0) { ok = false; break; }
        int64_t dims[STRATA_MAX_DIMS], numel = 1;
        for (int d = 0; d < vi.rank; d++) {
            dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
            if (dims[d] > MAX_ELEMS || (numel *= dims[d]) > MAX_ELEMS) { ok = false; break; }
        }
        if (!ok || strata_dtype_size(vi.dtype) == 0 || vi.dtype == STRATA_DTYPE_STRING ||
            strata_tensor_create(vi.dtype, vi.rank, dims, &xs[i]) != STRATA_OK) { ok = false; break; }
        made = i + 1;
        names[i] = vi.name;
        fuzz_fill(xs[i], pattern, n_pattern);
    }
    strata_session *s = NULL;
    strata_session_options so = {.n_threads = 1};
    if (ok && strata_session_create_plan(p, &so, &s) == STRATA_OK) {
        size_t n_out = strata_model_output_count(m);
        strata_tensor **ys = calloc(n_out ? n_out : 1, sizeof *ys);
        if (!ys) fuzz_fail("out of memory");
        if (strata_session_run(s, n_in, names, xs, 0, NULL, ys) == STRATA_OK)
            for (size_t k = 0; k < n_out; k++) if (!ys[k]) fuzz_fail("a run returned OK without an output");
        for (size_t k = 0; k < n_out; k++) strata_tensor_destroy(ys[k]);
        free(ys);
        strata_session_destroy(s);
    }
    for (size_t i = 0; i < made; i++) strata_tensor_destroy(xs[i]);
    strata_plan_close(p);
}

#endif
