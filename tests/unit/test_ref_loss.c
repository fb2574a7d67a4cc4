/* tests/unit/test_ref_loss.c — the loss family's reference ops run directly (ref_op_find, infer,
 * compute) on small hand-computed cases: NegativeLogLikelihoodLoss (reductions, weights,
 * ignore_index) and SoftmaxCrossEntropyLoss (log_prob output); plus bad targets. */
#include "../test.h"
#include "kernels/kernels.h"

#define MAX_IO 2

static strata_tensor *mk(strata_dtype dt, int rank, const int64_t *dims, const double *vals)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(dt, rank, dims, &t) != STRATA_OK) return NULL;
    int64_t n = shape_numel(rank, dims);
    for (int64_t i = 0; i < n && vals; i++) tensor_set_f64(t, i, vals[i]);
    return t;
}

static strata_status run(const char *op, const attr *attrs, size_t n_attrs, strata_tensor **ins,
                         size_t n_in, strata_tensor **outs, size_t n_out)
{
    const op_def *d = ref_op_find("", op, 13);
    if (!d) return error_set(STRATA_UNSUPPORTED, "no op %s", op);
    op_node n = {"t", op, "", 13, attrs, n_attrs, n_in, n_out};
    strata_tensor *o[MAX_IO] = {0};
    for (size_t j = 0; j < n_out; j++) {
        outs[j] = NULL;
        o[j] = mem_calloc(1, sizeof(strata_tensor));
    }
    strata_status st = d->infer(&n, (const strata_tensor *const *)ins, o);
    for (size_t j = 0; st == STRATA_OK && j < n_out; j++) st = tensor_alloc_data(o[j]);
    if (st == STRATA_OK) st = d->compute(&n, (const strata_tensor *const *)ins, o);
    for (size_t j = 0; j < n_out; j++) {
        if (st == STRATA_OK) outs[j] = o[j];
        else strata_tensor_destroy(o[j]);
    }
    return st;
}

static attr str_attr(const char *name, const char *s)
{
    attr a = {0};
    a.name = (char *)name;
    a.type = ATTR_STRING;
    a.s = (char *)s;
    a.s_len = strlen(s);
    return a;
}

static attr int_attr(const char *name, int64_t v)
{
    attr a = {0};
    a.name = (char *)name;
    a.type = ATTR_INT;
    a.i = v;
    return a;
}

TEST(ref_loss_nll_reductions_weights_ignore)
{
    int64_t xd[2] = {2, 2}, td[1] = {2}, wd[1] = {2};
    double xv[4] = {-1, -2, -3, -4}, tv[2] = {1, 0}, wv[2] = {1, 3};
    strata_tensor *in[3] = {mk(STRATA_DTYPE_F32, 2, xd, xv), mk(STRATA_DTYPE_I64, 1, td, tv),
                            mk(STRATA_DTYPE_F32, 1, wd, wv)},
                  *y;
    attr none = str_attr("reduction", "none");
    EXPECT_OK(run("NegativeLogLikelihoodLoss", &none, 1, in, 2, &y, 1));
    EXPECT_EQ(y->rank, 1);
    EXPECT_NEAR(tensor_get_f64(y, 0), 2, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 1), 3, 1e-6);
    strata_tensor_destroy(y);
    EXPECT_OK(run("NegativeLogLikelihoodLoss", NULL, 0, in, 2, &y, 1)); /* mean */
    EXPECT_EQ(y->rank, 0);
    EXPECT_NEAR(tensor_get_f64(y, 0), 2.5, 1e-6);
    strata_tensor_destroy(y);
    EXPECT_OK(run("NegativeLogLikelihoodLoss", NULL, 0, in, 3, &y, 1)); /* weighted mean */
    EXPECT_NEAR(tensor_get_f64(y, 0), (2 * 3 + 3 * 1) / 4.0, 1e-6);
    strata_tensor_destroy(y);
    tensor_set_i64(in[1], 1, -1);
    attr ii = int_attr("ignore_index", -1);
    EXPECT_OK(run("NegativeLogLikelihoodLoss", &ii, 1, in, 3, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), 2, 1e-6); /* only the first element counts */
    strata_tensor_destroy(y);
    /* a target that is not a class and not ignored */
    tensor_set_i64(in[1], 1, 5);
    EXPECT_STATUS(run("NegativeLogLikelihoodLoss", NULL, 0, in, 2, &y, 1),
                  STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "target[1] = 5");
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
}

TEST(ref_loss_softmax_cross_entropy_log_prob)
{
    int64_t xd[2] = {1, 2}, td[1] = {1};
    double xv[2] = {0, 0}, tv[1] = {0};
    strata_tensor *in[2] = {mk(STRATA_DTYPE_F32, 2, xd, xv), mk(STRATA_DTYPE_I32, 1, td, tv)},
                  *out[2];
    EXPECT_OK(run("SoftmaxCrossEntropyLoss", NULL, 0, in, 2, out, 2));
    EXPECT_NEAR(tensor_get_f64(out[0], 0), log(2.0), 1e-6);
    EXPECT_EQ(out[1]->rank, 2);
    EXPECT_NEAR(tensor_get_f64(out[1], 1), -log(2.0), 1e-6);
    strata_tensor_destroy(out[0]);
    strata_tensor_destroy(out[1]);
    /* labels whose shape does not fit the scores */
    int64_t bad[1] = {3};
    strata_tensor *lb = mk(STRATA_DTYPE_I64, 1, bad, NULL), *in2[2] = {in[0], lb};
    EXPECT_STATUS(run("SoftmaxCrossEntropyLoss", NULL, 0, in2, 2, out, 1),
                  STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "labels");
    strata_tensor_destroy(lb);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}
