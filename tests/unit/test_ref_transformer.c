/* tests/unit/test_ref_transformer.c — the transformer family's reference ops run directly
 * (ref_op_find, infer, compute) on small hand-computed cases: Attention (softmax weights,
 * causal, fully masked rows, qk output modes, GQA, past/present), RMSNormalization,
 * RotaryEmbedding, LinearAttention, CausalConvWithState; plus bad inputs that must fail. */
#include "../test.h"
#include "kernels/kernels.h"

#define MAX_IO 4

/* A test tensor over a copy of vals (converted to dtype). */
static strata_tensor *mk(strata_dtype dt, int rank, const int64_t *dims, const double *vals)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(dt, rank, dims, &t) != STRATA_OK) return NULL;
    int64_t n = shape_numel(rank, dims);
    for (int64_t i = 0; i < n && vals; i++) tensor_set_f64(t, i, vals[i]);
    return t;
}

/* Runs op (opset) on ins (NULL entries are missing inputs); outs are created (caller destroys). */
static strata_status run(const char *op, int opset, const attr *attrs, size_t n_attrs,
                         strata_tensor **ins, size_t n_in, strata_tensor **outs, size_t n_out)
{
    const op_def *d = ref_op_find("", op, opset);
    if (!d) return error_set(STRATA_UNSUPPORTED, "no op %s", op);
    op_node n = {"t", op, "", opset, attrs, n_attrs, n_in, n_out};
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

static attr int_attr(const char *name, int64_t v)
{
    attr a = {0};
    a.name = (char *)name;
    a.type = ATTR_INT;
    a.i = v;
    return a;
}

static attr string_attr(const char *name, const char *s)
{
    attr a = {0};
    a.name = (char *)name;
    a.type = ATTR_STRING;
    a.s = (char *)s;
    a.s_len = strlen(s);
    return a;
}

static void expect_values(const strata_tensor *t, const double *want, int64_t n, double tol)
{
    EXPECT_EQ(shape_numel(t->rank, t->dims), n);
    for (int64_t i = 0; i < n; i++) EXPECT_NEAR(tensor_get_f64(t, i), want[i], tol);
}

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
        strata_tensor *in[3] = {mk(types[t], 4, qd, qv), mk(types[t], 4, kd, kv),
                                mk(types[t], 4, kd, vv)},
                      *out[4];
        EXPECT_OK(run("Attention", 23, NULL, 0, in, 3, out, 4));
        double p1 = exp(1.0) / (1 + exp(1.0));
        double want[1] = {2 * (1 - p1) + 4 * p1};
        EXPECT_EQ(out[0]->dtype, types[t]);
        expect_values(out[0], want, 1, 2e-3);
        expect_values(out[1], kv, 2, 1e-6); /* present_key is K without a past */
        double raw[2] = {0, 1};
        expect_values(out[3], raw, 2, 1e-3); /* mode 0: the scaled QK product */
        destroy_all(out, 4);
        destroy_all(in, 3);
    }
}

TEST(ref_transformer_attention_causal_mask_and_modes)
{
    int64_t d[4] = {1, 1, 2, 1};
    double qv[2] = {1, 1}, kv[2] = {1, 1}, vv[2] = {10, 20};
    strata_tensor *in[3] = {mk(STRATA_DTYPE_F32, 4, d, qv), mk(STRATA_DTYPE_F32, 4, d, kv),
                            mk(STRATA_DTYPE_F32, 4, d, vv)},
                  *out[4];
    attr a[2] = {int_attr("is_causal", 1), int_attr("qk_matmul_output_mode", 3)};
    EXPECT_OK(run("Attention", 23, a, 2, in, 3, out, 4));
    double y[2] = {10, 15}, p[4] = {1, 0, 0.5, 0.5};
    expect_values(out[0], y, 2, 1e-5);
    expect_values(out[3], p, 4, 1e-6);
    destroy_all(out, 4);
    /* a boolean mask that hides every key of row 0: that row's output is 0, not NaN */
    int64_t md[2] = {2, 2};
    double mv[4] = {0, 0, 1, 0};
    strata_tensor *in4[4] = {in[0], in[1], in[2], mk(STRATA_DTYPE_BOOL, 2, md, mv)};
    EXPECT_OK(run("Attention", 23, NULL, 0, in4, 4, out, 1));
    double y2[2] = {0, 10};
    expect_values(out[0], y2, 2, 1e-6);
    strata_tensor_destroy(out[0]);
    strata_tensor_destroy(in4[3]);
    destroy_all(in, 3);
}

TEST(ref_transformer_attention_3d_gqa_with_past)
{
    /* 3-D: 2 query heads share 1 kv head of size 1; one past position */
    int64_t qd[3] = {1, 1, 2}, kd[3] = {1, 1, 1}, pd[4] = {1, 1, 1, 1};
    double qv[2] = {0, 0}, kv[1] = {5}, vv[1] = {3}, pk[1] = {7}, pv[1] = {1};
    strata_tensor *in[6] = {mk(STRATA_DTYPE_F32, 3, qd, qv), mk(STRATA_DTYPE_F32, 3, kd, kv),
                            mk(STRATA_DTYPE_F32, 3, kd, vv), NULL,
                            mk(STRATA_DTYPE_F32, 4, pd, pk), mk(STRATA_DTYPE_F32, 4, pd, pv)},
                  *out[3];
    attr a[2] = {int_attr("q_num_heads", 2), int_attr("kv_num_heads", 1)};
    EXPECT_OK(run("Attention", 23, a, 2, in, 6, out, 3));
    EXPECT_EQ(out[0]->rank, 3);
    EXPECT_EQ(out[0]->dims[2], 2);
    double y[2] = {2, 2}, key[2] = {7, 5}; /* zero queries weigh both positions equally */
    expect_values(out[0], y, 2, 1e-6);
    expect_values(out[1], key, 2, 1e-6);
    destroy_all(out, 3);
    destroy_all(in, 6);
}

TEST(ref_transformer_attention_bad_inputs)
{
    int64_t d3[3] = {1, 2, 4}, d4q[4] = {1, 3, 1, 2}, d4k[4] = {1, 2, 1, 2};
    strata_tensor *in[3] = {mk(STRATA_DTYPE_F32, 3, d3, NULL), mk(STRATA_DTYPE_F32, 3, d3, NULL),
                            mk(STRATA_DTYPE_F32, 3, d3, NULL)},
                  *out[1];
    EXPECT_STATUS(run("Attention", 23, NULL, 0, in, 3, out, 1), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "q_num_heads");
    EXPECT_STR_CONTAINS(strata_last_error(), "node 't'");
    destroy_all(in, 3);
    strata_tensor *in2[3] = {mk(STRATA_DTYPE_F32, 4, d4q, NULL),
                             mk(STRATA_DTYPE_F32, 4, d4k, NULL),
                             mk(STRATA_DTYPE_F32, 4, d4k, NULL)};
    EXPECT_STATUS(run("Attention", 23, NULL, 0, in2, 3, out, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "not a multiple");
    destroy_all(in2, 3);
    int64_t qi[4] = {1, 1, 1, 1};
    strata_tensor *in3[3] = {mk(STRATA_DTYPE_I32, 4, qi, NULL), mk(STRATA_DTYPE_I32, 4, qi, NULL),
                             mk(STRATA_DTYPE_I32, 4, qi, NULL)};
    EXPECT_STATUS(run("Attention", 23, NULL, 0, in3, 3, out, 1), STRATA_UNSUPPORTED);
    destroy_all(in3, 3);
}

TEST(ref_transformer_rms_normalization)
{
    int64_t xd[2] = {2, 2}, sd[1] = {2};
    double xv[4] = {3, 4, 0, 1}, sv[2] = {1, 2};
    strata_tensor *in[2] = {mk(STRATA_DTYPE_F32, 2, xd, xv), mk(STRATA_DTYPE_F32, 1, sd, sv)},
                  *y;
    attr e = {0};
    e.name = "epsilon";
    e.type = ATTR_FLOAT;
    e.f = 0.0f;
    EXPECT_OK(run("RMSNormalization", 23, &e, 1, in, 2, &y, 1));
    double r = sqrt(12.5), want[4] = {3 / r, 8 / r, 0, 2 / sqrt(0.5)};
    expect_values(y, want, 4, 1e-5);
    strata_tensor_destroy(y);
    /* a scale that does not broadcast */
    int64_t bad[1] = {3};
    strata_tensor *s3 = mk(STRATA_DTYPE_F32, 1, bad, NULL), *in2[2] = {in[0], s3};
    EXPECT_STATUS(run("RMSNormalization", 23, NULL, 0, in2, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "scale");
    strata_tensor_destroy(s3);
    destroy_all(in, 2);
}

TEST(ref_transformer_rotary_embedding)
{
    /* angle 90 degrees: (x1, x2) = (1, 2) -> (-2, 1); split-half and interleaved agree at D=2 */
    int64_t xd[4] = {1, 1, 1, 2}, cd[2] = {1, 1}, pd[2] = {1, 1};
    double xv[2] = {1, 2}, cv[1] = {0}, sv[1] = {1}, pv[1] = {0};
    strata_tensor *in[4] = {mk(STRATA_DTYPE_F32, 4, xd, xv), mk(STRATA_DTYPE_F32, 2, cd, cv),
                            mk(STRATA_DTYPE_F32, 2, cd, sv), mk(STRATA_DTYPE_I64, 2, pd, pv)},
                  *y;
    EXPECT_OK(run("RotaryEmbedding", 23, NULL, 0, in, 4, &y, 1));
    double want[2] = {-2, 1};
    expect_values(y, want, 2, 1e-6);
    strata_tensor_destroy(y);
    /* a position outside the cache is an error, not a read past the end */
    tensor_set_i64(in[3], 0, 5);
    EXPECT_STATUS(run("RotaryEmbedding", 23, NULL, 0, in, 4, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "position_ids");
    destroy_all(in, 4);
}

TEST(ref_transformer_linear_attention_and_causal_conv)
{
    /* linear rule, one head of size 1, q = k = v = 1: the state counts steps */
    int64_t d[3] = {1, 2, 1};
    double ones[2] = {1, 1};
    strata_tensor *in[3] = {mk(STRATA_DTYPE_F32, 3, d, ones), mk(STRATA_DTYPE_F32, 3, d, ones),
                            mk(STRATA_DTYPE_F32, 3, d, ones)},
                  *out[2];
    attr a[3] = {int_attr("q_num_heads", 1), int_attr("kv_num_heads", 1),
                 string_attr("update_rule", "linear")};
    EXPECT_OK(run("LinearAttention", 27, a, 3, in, 3, out, 2));
    double y[2] = {1, 2}, s[1] = {2};
    expect_values(out[0], y, 2, 1e-6);
    expect_values(out[1], s, 1, 1e-6);
    destroy_all(out, 2);
    a[2] = string_attr("update_rule", "quadratic");
    EXPECT_STATUS(run("LinearAttention", 27, a, 3, in, 3, out, 2), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "update_rule");
    destroy_all(in, 3);

    /* kernel [1, 1] over [1, 2, 3] with zero state: [1, 3, 5], new state [3] */
    int64_t xd[3] = {1, 1, 3}, wd[3] = {1, 1, 2};
    double xv[3] = {1, 2, 3};
    strata_tensor *cin[2] = {mk(STRATA_DTYPE_F32, 3, xd, xv), mk(STRATA_DTYPE_F32, 3, wd, ones)};
    EXPECT_OK(run("CausalConvWithState", 27, NULL, 0, cin, 2, out, 2));
    double cy[3] = {1, 3, 5}, cs[1] = {3};
    expect_values(out[0], cy, 3, 1e-6);
    expect_values(out[1], cs, 1, 1e-6);
    destroy_all(out, 2);
    destroy_all(cin, 2);
}
