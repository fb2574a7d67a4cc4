/* tests/unit/test_ref_math.c — the math family's reference ops run directly (ref_op_find, infer,
 * compute) on small hand-computed cases, plus bad inputs that must fail with a message. */
#include "op_harness.h"

TEST(ref_math_unary_activations)
{
    int64_t d[1] = {4};
    double xs[4] = {-2, -0.5, 0, 3};
    strata_tensor *x = op_tensor(STRATA_DTYPE_F32, 1, d, xs), *y;
    EXPECT_OK(op_run("Relu", 14, NULL, 0, &x, 1, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), 0, 0);
    EXPECT_NEAR(tensor_get_f64(y, 3), 3, 0);
    strata_tensor_destroy(y);
    EXPECT_OK(op_run("Sigmoid", 13, NULL, 0, &x, 1, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 2), 0.5, 1e-7);
    EXPECT_NEAR(tensor_get_f64(y, 0), 1 / (1 + exp(2.0)), 1e-7);
    strata_tensor_destroy(y);
    attr a = {0};
    a.name = "alpha";
    a.type = ATTR_FLOAT;
    a.f = 0.1f;
    EXPECT_OK(op_run("LeakyRelu", 16, &a, 1, &x, 1, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), -0.2, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 3), 3, 0);
    strata_tensor_destroy(y);
    EXPECT_OK(op_run("Round", 11, NULL, 0, &x, 1, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 1), 0, 0); /* -0.5 rounds half to even */
    strata_tensor_destroy(y);
    strata_tensor_destroy(x);
}

TEST(ref_math_unary_rejects_int_exp)
{
    int64_t d[1] = {2};
    double xs[2] = {1, 2};
    strata_tensor *x = op_tensor(STRATA_DTYPE_I32, 1, d, xs), *y;
    EXPECT_STATUS(op_run("Exp", 13, NULL, 0, &x, 1, &y, 1), STRATA_UNSUPPORTED);
    EXPECT_STR_CONTAINS(strata_last_error(), "node 't' (Exp)");
    EXPECT_STR_CONTAINS(strata_last_error(), "int32");
    strata_tensor_destroy(x);
}

TEST(ref_math_add_broadcast)
{
    int64_t da[2] = {2, 3}, db[1] = {3};
    double as[6] = {1, 2, 3, 4, 5, 6}, bs[3] = {10, 20, 30};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 2, da, as), op_tensor(STRATA_DTYPE_F32, 1, db, bs)};
    strata_tensor *y;
    EXPECT_OK(op_run("Add", 14, NULL, 0, in, 2, &y, 1));
    EXPECT_EQ(y->rank, 2);
    EXPECT_EQ(y->dims[1], 3);
    EXPECT_NEAR(tensor_get_f64(y, 0), 11, 0);
    EXPECT_NEAR(tensor_get_f64(y, 5), 36, 0);
    strata_tensor_destroy(y);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_math_int_div_truncates_and_mod_sign)
{
    int64_t d[1] = {4};
    double as[4] = {7, -7, 7, -7}, bs[4] = {2, 2, -2, -2};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_I32, 1, d, as), op_tensor(STRATA_DTYPE_I32, 1, d, bs)};
    strata_tensor *y;
    EXPECT_OK(op_run("Div", 14, NULL, 0, in, 2, &y, 1));
    EXPECT_EQ(tensor_get_i64(y, 0), 3);
    EXPECT_EQ(tensor_get_i64(y, 1), -3);
    strata_tensor_destroy(y);
    EXPECT_OK(op_run("Mod", 13, NULL, 0, in, 2, &y, 1));
    EXPECT_EQ(tensor_get_i64(y, 1), 1);  /* -7 mod 2 = 1 (sign of divisor) */
    EXPECT_EQ(tensor_get_i64(y, 2), -1); /* 7 mod -2 = -1 */
    strata_tensor_destroy(y);
    attr f = attr_int_of("fmod", 1);
    EXPECT_OK(op_run("Mod", 13, &f, 1, in, 2, &y, 1));
    EXPECT_EQ(tensor_get_i64(y, 1), -1); /* fmod: sign of dividend */
    strata_tensor_destroy(y);
    tensor_set_i64(in[1], 0, 0);
    EXPECT_STATUS(op_run("Div", 14, NULL, 0, in, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "division by zero");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_math_add_bad_broadcast)
{
    int64_t da[1] = {3}, db[1] = {4};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 1, da, NULL), op_tensor(STRATA_DTYPE_F32, 1, db, NULL)};
    strata_tensor *y;
    EXPECT_STATUS(op_run("Add", 14, NULL, 0, in, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "(Add)");
    EXPECT_STR_CONTAINS(strata_last_error(), "broadcast");
    strata_tensor_destroy(in[1]);
    in[1] = op_tensor(STRATA_DTYPE_I64, 1, da, NULL);
    EXPECT_STATUS(op_run("Mul", 14, NULL, 0, in, 2, &y, 1), STRATA_INVALID_MODEL);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_math_reduce_sum_axes_input)
{
    int64_t d[2] = {2, 3}, da[1] = {1};
    double xs[6] = {1, 2, 3, 4, 5, 6}, ax[1] = {-1};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 2, d, xs), op_tensor(STRATA_DTYPE_I64, 1, da, ax)};
    strata_tensor *y;
    attr k = attr_int_of("keepdims", 0);
    EXPECT_OK(op_run("ReduceSum", 13, &k, 1, in, 2, &y, 1));
    EXPECT_EQ(y->rank, 1);
    EXPECT_EQ(y->dims[0], 2);
    EXPECT_NEAR(tensor_get_f64(y, 0), 6, 0);
    EXPECT_NEAR(tensor_get_f64(y, 1), 15, 0);
    strata_tensor_destroy(y);
    EXPECT_OK(op_run("ReduceMax", 18, NULL, 0, in, 2, &y, 1)); /* keepdims default 1 */
    EXPECT_EQ(y->rank, 2);
    EXPECT_EQ(y->dims[1], 1);
    EXPECT_NEAR(tensor_get_f64(y, 1), 6, 0);
    strata_tensor_destroy(y);
    EXPECT_OK(op_run("ReduceLogSumExp", 18, NULL, 0, in, 1, &y, 1)); /* all axes */
    double lse = 0;
    for (int i = 1; i <= 6; i++) lse += exp((double)i);
    EXPECT_NEAR(tensor_get_f64(y, 0), log(lse), 1e-5);
    strata_tensor_destroy(y);
    tensor_set_i64(in[1], 0, 5);
    EXPECT_STATUS(op_run("ReduceSum", 13, NULL, 0, in, 2, &y, 1), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "axis 5 out of range");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_math_softmax_and_argmax)
{
    int64_t d[2] = {2, 2};
    double xs[4] = {0, 0, 1, 3};
    strata_tensor *x = op_tensor(STRATA_DTYPE_F32, 2, d, xs), *y;
    EXPECT_OK(op_run("Softmax", 13, NULL, 0, &x, 1, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), 0.5, 1e-7);
    EXPECT_NEAR(tensor_get_f64(y, 3), exp(3.) / (exp(1.) + exp(3.)), 1e-6);
    strata_tensor_destroy(y);
    attr a = attr_int_of("axis", 1);
    EXPECT_OK(op_run("ArgMax", 13, &a, 1, &x, 1, &y, 1));
    EXPECT_EQ(y->dtype, STRATA_DTYPE_I64);
    EXPECT_EQ(tensor_get_i64(y, 0), 0);
    EXPECT_EQ(tensor_get_i64(y, 1), 1);
    strata_tensor_destroy(y);
    strata_tensor_destroy(x);
}

TEST(ref_math_cast_string_round_trip)
{
    int64_t d[1] = {3};
    double xs[3] = {0.1, 3, -1e-5};
    strata_tensor *x = op_tensor(STRATA_DTYPE_F32, 1, d, xs), *s, *y;
    attr to = attr_int_of("to", STRATA_DTYPE_STRING);
    EXPECT_OK(op_run("Cast", 19, &to, 1, &x, 1, &s, 1));
    EXPECT_STR_CONTAINS(((char **)s->data)[0], "0.1");
    EXPECT_EQ(strcmp(((char **)s->data)[1], "3.0"), 0);
    EXPECT_EQ(strcmp(((char **)s->data)[2], "-1e-05"), 0);
    attr back = attr_int_of("to", STRATA_DTYPE_F32);
    EXPECT_OK(op_run("Cast", 19, &back, 1, &s, 1, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), (float)0.1, 0);
    EXPECT_NEAR(tensor_get_f64(y, 2), (float)-1e-5, 0);
    strata_tensor_destroy(y);
    ((char **)s->data)[1][0] = 'x';
    EXPECT_STATUS(op_run("Cast", 19, &back, 1, &s, 1, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "not a number");
    strata_tensor_destroy(s);
    strata_tensor_destroy(x);
}

TEST(ref_math_where_and_det)
{
    int64_t d[1] = {2}, dm[2] = {2, 2};
    double cs[2] = {1, 0}, xs[2] = {1, 2}, zs[1] = {9}, ms[4] = {1, 2, 3, 4};
    int64_t d1[1] = {1};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_BOOL, 1, d, cs), op_tensor(STRATA_DTYPE_F32, 1, d, xs),
                            op_tensor(STRATA_DTYPE_F32, 1, d1, zs)};
    strata_tensor *y;
    EXPECT_OK(op_run("Where", 16, NULL, 0, in, 3, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 0), 1, 0);
    EXPECT_NEAR(tensor_get_f64(y, 1), 9, 0);
    strata_tensor_destroy(y);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
    strata_tensor *m = op_tensor(STRATA_DTYPE_F64, 2, dm, ms);
    EXPECT_OK(op_run("Det", 22, NULL, 0, &m, 1, &y, 1));
    EXPECT_EQ(y->rank, 0);
    EXPECT_NEAR(tensor_get_f64(y, 0), -2, 1e-12);
    strata_tensor_destroy(y);
    strata_tensor_destroy(m);
}

TEST(ref_math_clip_cumsum_legacy_broadcast)
{
    int64_t d[1] = {4}, d0[1] = {1};
    double xs[4] = {-5, 1, 2, 9}, lo[1] = {0}, hi[1] = {3};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_I32, 1, d, xs), op_tensor(STRATA_DTYPE_I32, 0, d0, lo),
                            op_tensor(STRATA_DTYPE_I32, 0, d0, hi)};
    strata_tensor *y;
    EXPECT_OK(op_run("Clip", 13, NULL, 0, in, 3, &y, 1));
    EXPECT_EQ(tensor_get_i64(y, 0), 0);
    EXPECT_EQ(tensor_get_i64(y, 3), 3);
    strata_tensor_destroy(y);
    /* CumSum, exclusive and reversed: [1+2+9, 2+9, 9, 0] of [-5,1,2,9] */
    strata_tensor *cs[2] = {in[0], op_tensor(STRATA_DTYPE_I64, 0, d0, lo)};
    attr at[2] = {attr_int_of("exclusive", 1), attr_int_of("reverse", 1)};
    EXPECT_OK(op_run("CumSum", 14, at, 2, cs, 2, &y, 1));
    EXPECT_EQ(tensor_get_i64(y, 0), 12);
    EXPECT_EQ(tensor_get_i64(y, 3), 0);
    strata_tensor_destroy(y);
    strata_tensor_destroy(cs[1]);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
    /* opset 6 Add: B [3] aligned to A [3,2] at axis 0 */
    int64_t da[2] = {3, 2}, db[1] = {3};
    double as[6] = {0, 0, 0, 0, 0, 0}, bs[3] = {1, 2, 3};
    strata_tensor *ab[2] = {op_tensor(STRATA_DTYPE_F32, 2, da, as), op_tensor(STRATA_DTYPE_F32, 1, db, bs)};
    attr lb[2] = {attr_int_of("broadcast", 1), attr_int_of("axis", 0)};
    EXPECT_OK(op_run("Add", 6, lb, 2, ab, 2, &y, 1));
    EXPECT_NEAR(tensor_get_f64(y, 1), 1, 0);
    EXPECT_NEAR(tensor_get_f64(y, 4), 3, 0);
    strata_tensor_destroy(y);
    EXPECT_STATUS(op_run("Add", 14, NULL, 0, ab, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    strata_tensor_destroy(ab[0]);
    strata_tensor_destroy(ab[1]);
}
