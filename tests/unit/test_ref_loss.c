/* tests/unit/test_ref_loss.c — the loss family's reference ops run directly (ref_op_find, infer,
 * compute) on small hand-computed cases: NegativeLogLikelihoodLoss (reductions, weights,
 * ignore_index) and SoftmaxCrossEntropyLoss (log_prob output); plus bad targets. */
#include "op_harness.h"

#define MAX_IO 2

TEST(ref_loss_nll_reductions_weights_ignore)
{
    int64_t xd[2] = {2, 2}, td[1] = {2}, wd[1] = {2};
    double xv[4] = {-1, -2, -3, -4}, tv[2] = {1, 0}, wv[2] = {1, 3};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 2, xd, xv), op_tensor(STRATA_DTYPE_I64, 1, td, tv),
                            op_tensor(STRATA_DTYPE_F32, 1, wd, wv)},
                  *y;
    attr none = attr_string_of("reduction", "none");
    EXPECT_OK(op_run("NegativeLogLikelihoodLoss", 13, &none, 1, in, 2, &y, 1));
    EXPECT_EQ(y->rank, 1);
    EXPECT_NEAR(tensor_get_f64(y, 0), 2, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 1), 3, 1e-6);
    strata_tensor_destroy(y);
    EXPECT_OK(op_run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, &y, 1)); /* mean */
    EXPECT_EQ(y->rank, 0);
    EXPECT_NEAR(tensor_get_f64(y, 0), 2.5, 1e-6);
    strata_tensor_destroy(y);
    EXPECT_OK(op_run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 3, &y, 1)); /* weighted mean */
    EXPECT_NEAR(tensor_get_f64(y, 0), (2 * 3 + 3 * 1) / 4.0, 1e-6);
    strata_tensor_destroy(y);
    tensor_set_i64(in[1], 1, -1);
    attr ii = attr_int_of("ignore_index", -1);
    EXPECT_OK(op_run("NegativeLogLikelihoodLoss", 13, &ii, 1, in, 3, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), 2, 1e-6); /* only the first element counts */
    strata_tensor_destroy(y);
    /* a target that is not a class and not ignored */
    tensor_set_i64(in[1], 1, 5);
    EXPECT_STATUS(op_run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, &y, 1),
                  STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "target[1] = 5");
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
}

TEST(ref_loss_softmax_cross_entropy_log_prob)
{
    int64_t xd[2] = {1, 2}, td[1] = {1};
    double xv[2] = {0, 0}, tv[1] = {0};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 2, xd, xv), op_tensor(STRATA_DTYPE_I32, 1, td, tv)},
                  *out[2];
    EXPECT_OK(op_run("SoftmaxCrossEntropyLoss", 13, NULL, 0, in, 2, out, 2));
    EXPECT_NEAR(tensor_get_f64(out[0], 0), log(2.0), 1e-6);
    EXPECT_EQ(out[1]->rank, 2);
    EXPECT_NEAR(tensor_get_f64(out[1], 1), -log(2.0), 1e-6);
    strata_tensor_destroy(out[0]);
    strata_tensor_destroy(out[1]);
    /* labels whose shape does not fit the scores */
    int64_t bad[1] = {3};
    strata_tensor *lb = op_tensor(STRATA_DTYPE_I64, 1, bad, NULL), *in2[2] = {in[0], lb};
    EXPECT_STATUS(op_run("SoftmaxCrossEntropyLoss", 13, NULL, 0, in2, 2, out, 1),
                  STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "labels");
    strata_tensor_destroy(lb);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}
