/* tests/unit/test_ref_transformer.c — the transformer family's reference ops run directly
 * (ref_op_find, infer, compute) on small hand-computed cases: Attention (softmax weights,
 * causal, fully masked rows, qk output modes, GQA, past/present), RMSNormalization,
 * RotaryEmbedding, LinearAttention, CausalConvWithState; plus bad inputs that must fail. */
#include "op_harness.h"

static void destroy_all(strata_tensor **t, size_t n)
{
    for (size_t i = 0; i < n; i++) strata_tensor_destroy(t[i]);
}

TEST(ref_transformer_attention_softmax_weights)
{
    /* one head, one query, two keys, head size 1: scores 0 and 1 (scale 1) */
    int64_t qd[4] = {1, 1, 1, 1}, kd[4] = {1, 1, 2, 1};
    double qv[1] = {1}, kv[2] = {0, 1}, vv[2] = {2, 4};
    strata_dtype types[3] = {STRATA_DTYPE_F32, STRATA_DTYPE_F64, STRATA_DTYPE_F16};
    for (int t = 0; t < 3; t++) {
        strata_tensor *in[3] = {op_tensor(types[t], 4, qd, qv), op_tensor(types[t], 4, kd, kv),
                                op_tensor(types[t], 4, kd, vv)},
                      *out[4];
        EXPECT_OK(op_run("Attention", 23, NULL, 0, in, 3, out, 4));
        double p1 = exp(1.0) / (1 + exp(1.0));
        double want[1] = {2 * (1 - p1) + 4 * p1};
        EXPECT_EQ(out[0]->dtype, types[t]);
        EXPECT_VALUES(out[0], want, 1, 2e-3);
        EXPECT_VALUES(out[1], kv, 2, 1e-6); /* present_key is K without a past */
        double raw[2] = {0, 1};
        EXPECT_VALUES(out[3], raw, 2, 1e-3); /* mode 0: the scaled QK product */
        destroy_all(out, 4);
        destroy_all(in, 3);
    }
}

TEST(ref_transformer_attention_causal_mask_and_modes)
{
    int64_t d[4] = {1, 1, 2, 1};
    double qv[2] = {1, 1}, kv[2] = {1, 1}, vv[2] = {10, 20};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 4, d, qv), op_tensor(STRATA_DTYPE_F32, 4, d, kv),
                            op_tensor(STRATA_DTYPE_F32, 4, d, vv)},
                  *out[4];
    attr a[2] = {attr_int_of("is_causal", 1), attr_int_of("qk_matmul_output_mode", 3)};
    EXPECT_OK(op_run("Attention", 23, a, 2, in, 3, out, 4));
    double y[2] = {10, 15}, p[4] = {1, 0, 0.5, 0.5};
    EXPECT_VALUES(out[0], y, 2, 1e-5);
    EXPECT_VALUES(out[3], p, 4, 1e-6);
    destroy_all(out, 4);
    /* a boolean mask that hides every key of row 0: that row's output is 0, not NaN */
    int64_t md[2] = {2, 2};
    double mv[4] = {0, 0, 1, 0};
    strata_tensor *in4[4] = {in[0], in[1], in[2], op_tensor(STRATA_DTYPE_BOOL, 2, md, mv)};
    EXPECT_OK(op_run("Attention", 23, NULL, 0, in4, 4, out, 1));
    double y2[2] = {0, 10};
    EXPECT_VALUES(out[0], y2, 2, 1e-6);
    strata_tensor_destroy(out[0]);
    strata_tensor_destroy(in4[3]);
    destroy_all(in, 3);
}

TEST(ref_transformer_attention_3d_gqa_with_past)
{
    /* 3-D: 2 query heads share 1 kv head of size 1; one past position */
    int64_t qd[3] = {1, 1, 2}, kd[3] = {1, 1, 1}, pd[4] = {1, 1, 1, 1};
    double qv[2] = {0, 0}, kv[1] = {5}, vv[1] = {3}, pk[1] = {7}, pv[1] = {1};
    strata_tensor *in[6] = {op_tensor(STRATA_DTYPE_F32, 3, qd, qv), op_tensor(STRATA_DTYPE_F32, 3, kd, kv),
                            op_tensor(STRATA_DTYPE_F32, 3, kd, vv), NULL,
                            op_tensor(STRATA_DTYPE_F32, 4, pd, pk), op_tensor(STRATA_DTYPE_F32, 4, pd, pv)},
                  *out[3];
    attr a[2] = {attr_int_of("q_num_heads", 2), attr_int_of("kv_num_heads", 1)};
    EXPECT_OK(op_run("Attention", 23, a, 2, in, 6, out, 3));
    EXPECT_EQ(out[0]->rank, 3);
    EXPECT_EQ(out[0]->dims[2], 2);
    double y[2] = {2, 2}, key[2] = {7, 5}; /* zero queries weigh both positions equally */
    EXPECT_VALUES(out[0], y, 2, 1e-6);
    EXPECT_VALUES(out[1], key, 2, 1e-6);
    destroy_all(out, 3);
    destroy_all(in, 6);
}

TEST(ref_transformer_attention_bad_inputs)
{
    int64_t d3[3] = {1, 2, 4}, d4q[4] = {1, 3, 1, 2}, d4k[4] = {1, 2, 1, 2};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 3, d3, NULL), op_tensor(STRATA_DTYPE_F32, 3, d3, NULL),
                            op_tensor(STRATA_DTYPE_F32, 3, d3, NULL)},
                  *out[1];
    EXPECT_STATUS(op_run("Attention", 23, NULL, 0, in, 3, out, 1), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "q_num_heads");
    EXPECT_STR_CONTAINS(strata_last_error(), "node 't'");
    destroy_all(in, 3);
    strata_tensor *in2[3] = {op_tensor(STRATA_DTYPE_F32, 4, d4q, NULL),
                             op_tensor(STRATA_DTYPE_F32, 4, d4k, NULL),
                             op_tensor(STRATA_DTYPE_F32, 4, d4k, NULL)};
    EXPECT_STATUS(op_run("Attention", 23, NULL, 0, in2, 3, out, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "not a multiple");
    destroy_all(in2, 3);
    int64_t qi[4] = {1, 1, 1, 1};
    strata_tensor *in3[3] = {op_tensor(STRATA_DTYPE_I32, 4, qi, NULL), op_tensor(STRATA_DTYPE_I32, 4, qi, NULL),
                             op_tensor(STRATA_DTYPE_I32, 4, qi, NULL)};
    EXPECT_STATUS(op_run("Attention", 23, NULL, 0, in3, 3, out, 1), STRATA_UNSUPPORTED);
    destroy_all(in3, 3);
}

TEST(ref_transformer_rms_normalization)
{
    int64_t xd[2] = {2, 2}, sd[1] = {2};
    double xv[4] = {3, 4, 0, 1}, sv[2] = {1, 2};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 2, xd, xv), op_tensor(STRATA_DTYPE_F32, 1, sd, sv)},
                  *y;
    attr e = {0};
    e.name = "epsilon";
    e.type = ATTR_FLOAT;
    e.f = 0.0f;
    EXPECT_OK(op_run("RMSNormalization", 23, &e, 1, in, 2, &y, 1));
    double r = sqrt(12.5), want[4] = {3 / r, 8 / r, 0, 2 / sqrt(0.5)};
    EXPECT_VALUES(y, want, 4, 1e-5);
    strata_tensor_destroy(y);
    /* a scale that does not broadcast */
    int64_t bad[1] = {3};
    strata_tensor *s3 = op_tensor(STRATA_DTYPE_F32, 1, bad, NULL), *in2[2] = {in[0], s3};
    EXPECT_STATUS(op_run("RMSNormalization", 23, NULL, 0, in2, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "scale");
    strata_tensor_destroy(s3);
    destroy_all(in, 2);
}

TEST(ref_transformer_rotary_embedding)
{
    /* angle 90 degrees: (x1, x2) = (1, 2) -> (-2, 1); split-half and interleaved agree at D=2 */
    int64_t xd[4] = {1, 1, 1, 2}, cd[2] = {1, 1}, pd[2] = {1, 1};
    double xv[2] = {1, 2}, cv[1] = {0}, sv[1] = {1}, pv[1] = {0};
    strata_tensor *in[4] = {op_tensor(STRATA_DTYPE_F32, 4, xd, xv), op_tensor(STRATA_DTYPE_F32, 2, cd, cv),
                            op_tensor(STRATA_DTYPE_F32, 2, cd, sv), op_tensor(STRATA_DTYPE_I64, 2, pd, pv)},
                  *y;
    EXPECT_OK(op_run("RotaryEmbedding", 23, NULL, 0, in, 4, &y, 1));
    double want[2] = {-2, 1};
    EXPECT_VALUES(y, want, 2, 1e-6);
    strata_tensor_destroy(y);
    /* a position outside the cache is an error, not a read past the end */
    tensor_set_i64(in[3], 0, 5);
    EXPECT_STATUS(op_run("RotaryEmbedding", 23, NULL, 0, in, 4, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "position_ids");
    destroy_all(in, 4);
}

TEST(ref_transformer_linear_attention_and_causal_conv)
{
    /* linear rule, one head of size 1, q = k = v = 1: the state counts steps */
    int64_t d[3] = {1, 2, 1};
    double ones[2] = {1, 1};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 3, d, ones), op_tensor(STRATA_DTYPE_F32, 3, d, ones),
                            op_tensor(STRATA_DTYPE_F32, 3, d, ones)},
                  *out[2];
    attr a[3] = {attr_int_of("q_num_heads", 1), attr_int_of("kv_num_heads", 1),
                 attr_string_of("update_rule", "linear")};
    EXPECT_OK(op_run("LinearAttention", 27, a, 3, in, 3, out, 2));
    double y[2] = {1, 2}, s[1] = {2};
    EXPECT_VALUES(out[0], y, 2, 1e-6);
    EXPECT_VALUES(out[1], s, 1, 1e-6);
    destroy_all(out, 2);
    a[2] = attr_string_of("update_rule", "quadratic");
    EXPECT_STATUS(op_run("LinearAttention", 27, a, 3, in, 3, out, 2), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "update_rule");
    destroy_all(in, 3);

    /* kernel [1, 1] over [1, 2, 3] with zero state: [1, 3, 5], new state [3] */
    int64_t xd[3] = {1, 1, 3}, wd[3] = {1, 1, 2};
    double xv[3] = {1, 2, 3};
    strata_tensor *cin[2] = {op_tensor(STRATA_DTYPE_F32, 3, xd, xv), op_tensor(STRATA_DTYPE_F32, 3, wd, ones)};
    EXPECT_OK(op_run("CausalConvWithState", 27, NULL, 0, cin, 2, out, 2));
    double cy[3] = {1, 3, 5}, cs[1] = {3};
    EXPECT_VALUES(out[0], cy, 3, 1e-6);
    EXPECT_VALUES(out[1], cs, 1, 1e-6);
    destroy_all(out, 2);
    destroy_all(cin, 2);
}
