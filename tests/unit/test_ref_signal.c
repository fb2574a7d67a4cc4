/* tests/unit/test_ref_signal.c — the signal family's reference ops run directly (ref_op_find,
 * infer, compute) on small hand-computed cases: DFT (forward, onesided, inverse round trip, both
 * axis forms), STFT, Hann/Hamming windows; plus bad axes and sizes. */
#include "op_harness.h"

TEST(ref_signal_dft_forward_onesided_inverse)
{
    /* the DFT of [0, 1, 0, 0] is e^{-2 pi i k / 4} = 1, -i, -1, i */
    int64_t xd[3] = {1, 4, 1}, sd[1] = {0};
    double xv[4] = {0, 1, 0, 0}, axv[1] = {1};
    strata_tensor *ax = op_tensor(STRATA_DTYPE_I64, 0, sd, axv);
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 3, xd, xv), NULL, ax}, *y, *z;
    EXPECT_OK(op_run("DFT", 20, NULL, 0, in, 3, &y, 1));
    EXPECT_EQ(y->dims[2], 2);
    double want[8] = {1, 0, 0, -1, -1, 0, 0, 1};
    for (int i = 0; i < 8; i++) EXPECT_NEAR(tensor_get_f64(y, i), want[i], 1e-6);
    /* inverse of that gives the signal back (as complex) */
    attr inv = attr_int_of("inverse", 1);
    strata_tensor *in2[3] = {y, NULL, ax};
    EXPECT_OK(op_run("DFT", 20, &inv, 1, in2, 3, &z, 1));
    for (int i = 0; i < 4; i++) EXPECT_NEAR(tensor_get_f64(z, 2 * i), xv[i], 1e-6);
    strata_tensor_destroy(z);
    strata_tensor_destroy(y);
    /* opset 17 form: axis attribute, onesided keeps 4/2+1 bins */
    attr a[2] = {attr_int_of("axis", 1), attr_int_of("onesided", 1)};
    EXPECT_OK(op_run("DFT", 17, a, 2, in, 1, &y, 1));
    EXPECT_EQ(y->dims[1], 3);
    EXPECT_NEAR(tensor_get_f64(y, 3), -1, 1e-6);
    strata_tensor_destroy(y);
    /* the last dim is real/imaginary, never the signal axis */
    tensor_set_i64(ax, 0, 2);
    EXPECT_STATUS(op_run("DFT", 20, NULL, 0, in, 3, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "axis 2");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(ax);
}

TEST(ref_signal_stft_and_windows)
{
    /* frames of 2 with step 2 over [1, 1, 2, 2]: DC bins 2 and 4, Nyquist bins 0 */
    int64_t xd[3] = {1, 4, 1}, sd[1] = {0};
    double xv[4] = {1, 1, 2, 2}, two[1] = {2};
    strata_tensor *in[4] = {op_tensor(STRATA_DTYPE_F32, 3, xd, xv), op_tensor(STRATA_DTYPE_I64, 0, sd, two),
                            NULL, op_tensor(STRATA_DTYPE_I64, 0, sd, two)},
                  *y;
    EXPECT_OK(op_run("STFT", 17, NULL, 0, in, 4, &y, 1));
    EXPECT_EQ(y->rank, 4);
    EXPECT_EQ(y->dims[1], 2);
    EXPECT_EQ(y->dims[2], 2);
    EXPECT_NEAR(tensor_get_f64(y, 0), 2, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 4), 4, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 2), 0, 1e-6);
    strata_tensor_destroy(y);
    for (int i = 0; i < 4; i++) strata_tensor_destroy(in[i]);

    double four[1] = {4}, three[1] = {3};
    strata_tensor *n4 = op_tensor(STRATA_DTYPE_I32, 0, sd, four), *n3 = op_tensor(STRATA_DTYPE_I32, 0, sd, three);
    EXPECT_OK(op_run("HannWindow", 17, NULL, 0, &n4, 1, &y, 1));
    double hann[4] = {0, 0.5, 1, 0.5};
    for (int i = 0; i < 4; i++) EXPECT_NEAR(tensor_get_f64(y, i), hann[i], 1e-6);
    strata_tensor_destroy(y);
    attr sym = attr_int_of("periodic", 0);
    EXPECT_OK(op_run("HammingWindow", 17, &sym, 1, &n3, 1, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), 4.0 / 46.0, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 1), 1, 1e-6);
    strata_tensor_destroy(y);
    tensor_set_i64(n4, 0, -3);
    EXPECT_STATUS(op_run("BlackmanWindow", 17, NULL, 0, &n4, 1, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "negative");
    strata_tensor_destroy(n4);
    strata_tensor_destroy(n3);
}
