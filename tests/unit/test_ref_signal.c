/* tests/unit/test_ref_signal.c — the signal family's reference ops run directly (ref_op_find,
 * infer, compute) on small hand-computed cases: DFT (forward, onesided, inverse round trip, both
 * axis forms), STFT, Hann/Hamming windows; plus bad axes and sizes. */
#include "../test.h"
#include "kernels/kernels.h"

static strata_tensor *mk(strata_dtype dt, int rank, const int64_t *dims, const double *vals)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(dt, rank, dims, &t) != STRATA_OK) return NULL;
    int64_t n = shape_numel(rank, dims);
    for (int64_t i = 0; i < n && vals; i++) tensor_set_f64(t, i, vals[i]);
    return t;
}

static strata_status run(const char *op, int opset, const attr *attrs, size_t n_attrs,
                         strata_tensor **ins, size_t n_in, strata_tensor **out)
{
    const op_def *d = ref_op_find("", op, opset);
    if (!d) return error_set(STRATA_UNSUPPORTED, "no op %s", op);
    op_node n = {"t", op, "", opset, attrs, n_attrs, n_in, 1};
    strata_tensor *o = mem_calloc(1, sizeof(strata_tensor));
    *out = NULL;
    strata_status st = d->infer(&n, (const strata_tensor *const *)ins, &o);
    if (st == STRATA_OK) st = tensor_alloc_data(o);
    if (st == STRATA_OK) st = d->compute(&n, (const strata_tensor *const *)ins, &o);
    if (st == STRATA_OK) *out = o;
    else strata_tensor_destroy(o);
    return st;
}

static attr int_attr(const char *name, int64_t v)
{
    attr a = {0};
    a.name = (char *)name;
    a.type = ATTR_INT;
    a.i = v;
    return a;
}

TEST(ref_signal_dft_forward_onesided_inverse)
{
    /* the DFT of [0, 1, 0, 0] is e^{-2 pi i k / 4} = 1, -i, -1, i */
    int64_t xd[3] = {1, 4, 1}, sd[1] = {0};
    double xv[4] = {0, 1, 0, 0}, axv[1] = {1};
    strata_tensor *ax = mk(STRATA_DTYPE_I64, 0, sd, axv);
    strata_tensor *in[3] = {mk(STRATA_DTYPE_F32, 3, xd, xv), NULL, ax}, *y, *z;
    EXPECT_OK(run("DFT", 20, NULL, 0, in, 3, &y));
    EXPECT_EQ(y->dims[2], 2);
    double want[8] = {1, 0, 0, -1, -1, 0, 0, 1};
    for (int i = 0; i < 8; i++) EXPECT_NEAR(tensor_get_f64(y, i), want[i], 1e-6);
    /* inverse of that gives the signal back (as complex) */
    attr inv = int_attr("inverse", 1);
    strata_tensor *in2[3] = {y, NULL, ax};
    EXPECT_OK(run("DFT", 20, &inv, 1, in2, 3, &z));
    for (int i = 0; i < 4; i++) EXPECT_NEAR(tensor_get_f64(z, 2 * i), xv[i], 1e-6);
    strata_tensor_destroy(z);
    strata_tensor_destroy(y);
    /* opset 17 form: axis attribute, onesided keeps 4/2+1 bins */
    attr a[2] = {int_attr("axis", 1), int_attr("onesided", 1)};
    EXPECT_OK(run("DFT", 17, a, 2, in, 1, &y));
    EXPECT_EQ(y->dims[1], 3);
    EXPECT_NEAR(tensor_get_f64(y, 3), -1, 1e-6);
    strata_tensor_destroy(y);
    /* the last dim is real/imaginary, never the signal axis */
    tensor_set_i64(ax, 0, 2);
    EXPECT_STATUS(run("DFT", 20, NULL, 0, in, 3, &y), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "axis 2");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(ax);
}

TEST(ref_signal_stft_and_windows)
{
    /* frames of 2 with step 2 over [1, 1, 2, 2]: DC bins 2 and 4, Nyquist bins 0 */
    int64_t xd[3] = {1, 4, 1}, sd[1] = {0};
    double xv[4] = {1, 1, 2, 2}, two[1] = {2};
    strata_tensor *in[4] = {mk(STRATA_DTYPE_F32, 3, xd, xv), mk(STRATA_DTYPE_I64, 0, sd, two),
                            NULL, mk(STRATA_DTYPE_I64, 0, sd, two)},
                  *y;
    EXPECT_OK(run("STFT", 17, NULL, 0, in, 4, &y));
    EXPECT_EQ(y->rank, 4);
    EXPECT_EQ(y->dims[1], 2);
    EXPECT_EQ(y->dims[2], 2);
    EXPECT_NEAR(tensor_get_f64(y, 0), 2, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 4), 4, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 2), 0, 1e-6);
    strata_tensor_destroy(y);
    for (int i = 0; i < 4; i++) strata_tensor_destroy(in[i]);

    double four[1] = {4}, three[1] = {3};
    strata_tensor *n4 = mk(STRATA_DTYPE_I32, 0, sd, four), *n3 = mk(STRATA_DTYPE_I32, 0, sd, three);
    EXPECT_OK(run("HannWindow", 17, NULL, 0, &n4, 1, &y));
    double hann[4] = {0, 0.5, 1, 0.5};
    for (int i = 0; i < 4; i++) EXPECT_NEAR(tensor_get_f64(y, i), hann[i], 1e-6);
    strata_tensor_destroy(y);
    attr sym = int_attr("periodic", 0);
    EXPECT_OK(run("HammingWindow", 17, &sym, 1, &n3, 1, &y));
    EXPECT_NEAR(tensor_get_f64(y, 0), 4.0 / 46.0, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 1), 1, 1e-6);
    strata_tensor_destroy(y);
    tensor_set_i64(n4, 0, -3);
    EXPECT_STATUS(run("BlackmanWindow", 17, NULL, 0, &n4, 1, &y), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "negative");
    strata_tensor_destroy(n4);
    strata_tensor_destroy(n3);
}
