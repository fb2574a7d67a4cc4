/* tests/unit/test_npy.c — .npy files: write → read round trips for several dtypes, reading the
 * shared reference input, big-endian input, and refused files (fortran order, short data, bad
 * headers) with the path in the message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "core/core.h"

static const char *tmp_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", test_tmpdir(), name);
    return p;
}

TEST(npy_round_trip)
{
    static const strata_dtype types[] = {STRATA_DTYPE_F32, STRATA_DTYPE_I64, STRATA_DTYPE_U8,
                                         STRATA_DTYPE_BOOL, STRATA_DTYPE_F16, STRATA_DTYPE_F64,
                                         STRATA_DTYPE_I8, STRATA_DTYPE_U16};
    for (size_t k = 0; k < ARRAY_LEN(types); k++) {
        int64_t dims[3] = {2, 3, 5};
        strata_tensor *t = NULL, *r = NULL;
        EXPECT_OK(strata_tensor_create(types[k], 3, dims, &t));
        if (!t) continue;
        for (int64_t i = 0; i < 30; i++) tensor_set_f64(t, i, (double)(i % 7));
        const char *p = tmp_path("rt.npy");
        EXPECT_OK(strata_npy_write(p, t));
        EXPECT_OK(strata_npy_read(p, &r));
        if (r) {
            EXPECT_EQ(r->dtype, types[k]);
            EXPECT_EQ(r->rank, 3);
            EXPECT_EQ(r->dims[2], 5);
            EXPECT(memcmp(r->data, t->data, t->n_bytes) == 0);
        }
        strata_tensor_destroy(t);
        strata_tensor_destroy(r);
    }
    /* scalar and 1-D */
    strata_tensor *s = NULL, *r = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 0, NULL, &s));
    EXPECT_OK(strata_npy_write(tmp_path("s.npy"), s));
    EXPECT_OK(strata_npy_read(tmp_path("s.npy"), &r));
    if (r) EXPECT_EQ(r->rank, 0);
    strata_tensor_destroy(r);
    strata_tensor_destroy(s);
    int64_t d1[1] = {7};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I32, 1, d1, &s));
    EXPECT_OK(strata_npy_write(tmp_path("v.npy"), s));
    EXPECT_OK(strata_npy_read(tmp_path("v.npy"), &r));
    if (r) EXPECT_EQ(r->dims[0], 7);
    strata_tensor_destroy(r);
    strata_tensor_destroy(s);
}

TEST(npy_read_numpy_files)
{
    char p[512];
    snprintf(p, sizeof p, "%s/models/ref/mlp_input.npy", test_shared_dir());
    if (access(p, R_OK) != 0) SKIP("mlp_input.npy missing");
    strata_tensor *t = NULL;
    EXPECT_OK(strata_npy_read(p, &t));
    if (!t) return;
    EXPECT_EQ(t->dtype, STRATA_DTYPE_F32);
    EXPECT_EQ(t->rank, 2);
    EXPECT_EQ(t->dims[0], 2);
    EXPECT_EQ(t->dims[1], 64);
    strata_tensor_destroy(t);
    /* numpy must read ours */
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) return;
    int64_t d[2] = {2, 3};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I16, 2, d, &t));
    if (!t) return;
    for (int i = 0; i < 6; i++) tensor_set_i64(t, i, i - 3);
    EXPECT_OK(strata_npy_write(tmp_path("np.npy"), t));
    strata_tensor_destroy(t);
    char cmd[800];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np,sys; a=np.load(sys.argv[1]); "
             "assert a.dtype==np.int16 and a.shape==(2,3) and a[0,0]==-3 and a[1,2]==2\" '%s'",
             tmp_path("np.npy"));
    EXPECT_EQ(system(cmd), 0);
}

static void write_raw(const char *path, const char *header, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    EXPECT(f != NULL);
    if (!f) return;
    size_t hl = strlen(header);
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)hl, (uint8_t)(hl >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(header, 1, hl, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

TEST(npy_read_big_endian)
{
    uint8_t be[8] = {0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0}; /* 1.0, -2.0 */
    write_raw(tmp_path("be.npy"), "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n",
              be, 8);
    strata_tensor *t = NULL;
    EXPECT_OK(strata_npy_read(tmp_path("be.npy"), &t));
    if (t) {
        EXPECT_NEAR(((float *)t->data)[0], 1.0, 0);
        EXPECT_NEAR(((float *)t->data)[1], -2.0, 0);
    }
    strata_tensor_destroy(t);
}

TEST(npy_bad_fortran_order)
{
    float v[4] = {0};
    write_raw(tmp_path("f.npy"), "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n",
              v, 16);
    strata_tensor *t = NULL;
    EXPECT_STATUS(strata_npy_read(tmp_path("f.npy"), &t), STRATA_UNSUPPORTED);
    EXPECT_STR_CONTAINS(strata_last_error(), "f.npy: fortran_order True");
}

TEST(npy_bad_data_size)
{
    float v[3] = {0};
    write_raw(tmp_path("short.npy"),
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n", v, 12);
    strata_tensor *t = NULL;
    EXPECT_STATUS(strata_npy_read(tmp_path("short.npy"), &t), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "short.npy@");
    EXPECT_STR_CONTAINS(strata_last_error(), "data has 12 bytes");
}

TEST(npy_bad_header)
{
    strata_tensor *t = NULL;
    write_raw(tmp_path("h1.npy"), "{'descr': '<f4', 'shape': (2,), }\n", NULL, 0);
    EXPECT_STATUS(strata_npy_read(tmp_path("h1.npy"), &t), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "h1.npy@");
    write_raw(tmp_path("h2.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (__import__('os'),), }\n", NULL, 0);
    EXPECT_STATUS(strata_npy_read(tmp_path("h2.npy"), &t), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "shape entry");
    write_raw(tmp_path("h3.npy"), "{'descr': '<U8', 'fortran_order': False, 'shape': (1,), }\n", "x", 1);
    EXPECT_STATUS(strata_npy_read(tmp_path("h3.npy"), &t), STRATA_UNSUPPORTED);
    EXPECT_STR_CONTAINS(strata_last_error(), "'<U8'");
    FILE *f = fopen(tmp_path("h4.npy"), "wb");
    if (f) {
        fwrite("\x93NUMPY\x01\x00\xff\xff{", 1, 11, f);
        fclose(f);
    }
    EXPECT_STATUS(strata_npy_read(tmp_path("h4.npy"), &t), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "past the end");
    EXPECT(t == NULL);
}
