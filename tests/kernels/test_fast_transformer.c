/* tests/kernels/test_fast_transformer.c — the transformer tactics (fast_transformer.c) against
 * their reference ops on random shapes and values, tails smaller than a vector and sizes that
 * are not multiples of the tiles included, at every ISA this CPU runs (every row is run
 * directly, whatever STRATA_ISA says), on one thread and on a pool of 3; plus the error bounds of
 * the vector exp and Gelu against double-precision libm. */
#include <stdint.h>
#include <stdlib.h>

#include "core/core.h"
#include "kernels/fast_internal.h"
#include "kernels/fast_transformer.h"
#include "test.h"

static float rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static strata_tensor *make(strata_dtype dt, int rank, const int64_t *dims, uint64_t *s, float amp)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(dt, rank, dims, &t) != STRATA_OK) return NULL;
    if (dt == STRATA_DTYPE_F32)
        for (int64_t i = 0; i < strata_tensor_numel(t); i++) ((float *)t->data)[i] = amp * rnd(s);
    return t;
}

static attr int_attr(const char *name, int64_t v)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = ATTR_INT;
    a.i = v;
    return a;
}

static attr float_attr(const char *name, float v)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = ATTR_FLOAT;
    a.f = v;
    return a;
}

/* Runs the reference op and every fast row of this op that the CPU has on the inputs; each
 * output element must satisfy |fast - ref| <= atol + rtol |ref| (NaN where the reference has
 * NaN). Returns the rows compared. */
static int compare_rows(const char *op, const char *domain, int opset, const attr *attrs, size_t n_attrs,
                        strata_tensor *const *ins, size_t n_in, size_t n_out, double atol, double rtol)
{
    op_node n = {"test_node", op, domain, opset, attrs, n_attrs, n_in, n_out};
    const op_def *d = ref_op_find(domain, op, opset);
    EXPECT(d != NULL);
    if (!d) return 0;
    strata_tensor ref[3], got[3];
    strata_tensor *rp[3] = {NULL, NULL, NULL}, *gp[3] = {NULL, NULL, NULL};
    memset(ref, 0, sizeof ref);
    for (size_t j = 0; j < n_out; j++) rp[j] = &ref[j];
    const strata_tensor *const *in = (const strata_tensor *const *)ins;
    EXPECT_OK(d->infer(&n, in, rp));
    for (size_t j = 0; j < n_out; j++) EXPECT_OK(tensor_alloc_data(&ref[j]));
    EXPECT_OK(d->compute(&n, in, rp));
    thread_pool *pool = NULL;
    EXPECT_OK(thread_pool_create(3, &pool));
    int rows = 0;
    uint32_t have = cpu_features_native();
    for (size_t r = 0; r < fast_transformer_count; r++) {
        const fast_kernel *k = &fast_transformer_kernels[r];
        if (strcmp(k->op_type, op) != 0 || strcmp(k->domain, domain) != 0 || (k->isa & ~have)) continue;
        EXPECT(k->supports(&n, in));
        for (int threads = 1; threads <= 3; threads += 2) {
            memset(got, 0, sizeof got);
            for (size_t j = 0; j < n_out; j++) {
                gp[j] = &got[j];
                tensor_set_shape(&got[j], ref[j].dtype, ref[j].rank, ref[j].dims);
                EXPECT_OK(tensor_alloc_data(&got[j]));
                for (int64_t i = 0; i < strata_tensor_numel(&got[j]) && got[j].dtype == STRATA_DTYPE_F32; i++)
                    ((float *)got[j].data)[i] = NAN; /* catch elements the kernel does not write */
            }
            kernel_ctx ctx = {threads > 1 ? pool : NULL, threads};
            strata_status st = k->run(k, &n, in, gp, &ctx);
            if (st != STRATA_OK) test_fail(__FILE__, __LINE__, "%s: %s", k->name, strata_last_error());
            for (size_t j = 0; j < n_out && st == STRATA_OK; j++) {
                int bad = 0;
                for (int64_t i = 0; i < strata_tensor_numel(&ref[j]) && bad < 3; i++) {
                    double a = tensor_get_f64(&got[j], i), b = tensor_get_f64(&ref[j], i);
                    bool ok = isnan(b) ? isnan(a) : (a == b || fabs(a - b) <= atol + rtol * fabs(b));
                    if (!ok) {
                        char sh[128];
                        test_fail(__FILE__, __LINE__, "%s (%d threads) %s output %zu element %lld: %.9g, reference %.9g",
                                  k->name, threads, tensor_describe(ins[0], sh, sizeof sh), j, (long long)i, a, b);
                        bad++;
                    }
                }
            }
            for (size_t j = 0; j < n_out; j++) tensor_release_data(&got[j]);
        }
        rows++;
    }
    thread_pool_destroy(pool);
    for (size_t j = 0; j < n_out; j++) tensor_release_data(&ref[j]);
    return rows;
}

static int expected_rows(void)
{
    uint32_t have = cpu_features_native();
    return 1 + ((have & CPU_AVX2) != 0) + ((have & CPU_AVX512) != 0);
}

/* ---- the approximations ------------------------------------------------------------------- */

static const char *const isas[] = {"scalar", "avx2", "avx512"};
static const uint32_t isa_bits[] = {0, CPU_AVX2, CPU_AVX512};

TEST(test_fast_transformer_exp_error_bound)
{
    enum { N = 200001 };
    float *x = mem_alloc(N * sizeof *x), *y = mem_alloc(N * sizeof *y);
    EXPECT(x && y);
    if (!x || !y) return;
    for (int i = 0; i < N; i++) x[i] = -87.33f + (88.72f + 87.33f) * (float)i / (N - 1);
    for (size_t v = 0; v < ARRAY_LEN(isas); v++) {
        if (isa_bits[v] & ~cpu_features_native()) continue;
        const tf_ops *ops = fast_transformer_ops(isas[v]);
        ops->exp(x, y, N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double r = exp((double)x[i]), e = fabs(y[i] - r) / r;
            if (e > worst) worst = e;
        }
        EXPECT(worst <= 3e-7);
        if (worst > 3e-7 || getenv("STRATA_TEST_VERBOSE")) printf("  exp %s: max relative error %.3g\n", isas[v], worst);
        float sp[7] = {-INFINITY, -1000.0f, -87.5f, 0.0f, 88.8f, INFINITY, NAN}, so[7];
        ops->exp(sp, so, 7);
        EXPECT(so[0] == 0.0f && so[1] == 0.0f && so[2] == 0.0f);
        EXPECT(so[3] == 1.0f);
        EXPECT(isinf(so[4]) && isinf(so[5]));
        EXPECT(isnan(so[6]));
    }
    mem_free(x);
    mem_free(y);
}

TEST(test_fast_transformer_gelu_error_bound)
{
    enum { N = 200001 };
    float *x = mem_alloc(N * sizeof *x), *y = mem_alloc(N * sizeof *y);
    EXPECT(x && y);
    if (!x || !y) return;
    for (int i = 0; i < N; i++) x[i] = -20.0f + 40.0f * (float)i / (N - 1);
    for (size_t v = 0; v < ARRAY_LEN(isas); v++) {
        if (isa_bits[v] & ~cpu_features_native()) continue;
        const tf_ops *ops = fast_transformer_ops(isas[v]);
        ops->gelu(x, y, N);
        double worst_rel = 0, worst_abs = 0;
        for (int i = 0; i < N; i++) {
            double xd = x[i], r = 0.5 * xd * erfc(-xd / sqrt(2.0)), e = fabs(y[i] - r);
            if (fabs(r) >= 1e-30) {
                if (e / fabs(r) > worst_rel) worst_rel = e / fabs(r);
            } else if (e > worst_abs) {
                worst_abs = e;
            }
        }
        EXPECT(worst_rel <= 1e-6);
        EXPECT(worst_abs <= 1e-30);
        if (worst_rel > 1e-6 || getenv("STRATA_TEST_VERBOSE"))
            printf("  gelu %s: max relative error %.3g, absolute below 1e-30 %.3g\n", isas[v], worst_rel, worst_abs);
    }
    mem_free(x);
    mem_free(y);
}

/* ---- the rows against the reference ops --------------------------------------------------- */

static const int64_t widths[] = {1, 3, 15, 16, 17, 33, 100, 768};

TEST(test_fast_transformer_layernorm_matches_reference)
{
    uint64_t s = 11;
    for (size_t w = 0; w < ARRAY_LEN(widths); w++)
        for (int rows = 1; rows <= 130; rows += 43) {
            int64_t xd[3] = {2, rows, widths[w]}, vd[1] = {widths[w]};
            strata_tensor *in[3] = {make(STRATA_DTYPE_F32, 3, xd, &s, 3.0f), make(STRATA_DTYPE_F32, 1, vd, &s, 1.0f),
                                    make(STRATA_DTYPE_F32, 1, vd, &s, 1.0f)};
            for (int64_t i = 0; i < strata_tensor_numel(in[0]); i++) ((float *)in[0]->data)[i] += 5.0f; /* offset mean */
            attr a[2] = {int_attr("axis", -1), float_attr("epsilon", 1e-5f)};
            bool bias = w % 2 == 0;
            size_t n_out = rows == 44 ? 3 : 1; /* Mean and InvStdDev too */
            EXPECT_EQ(compare_rows("LayerNormalization", "", 17, a, 2, in, bias ? 3 : 2, n_out, 2e-5, 2e-4),
                      expected_rows());
            EXPECT_EQ(compare_rows("LayerNormalization", "com.strata", 1, a, 2, in, 3, 1, 2e-5, 2e-4), expected_rows());
            for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
        }
}

TEST(test_fast_transformer_softmax_matches_reference)
{
    uint64_t s = 12;
    for (size_t w = 0; w < ARRAY_LEN(widths); w++)
        for (int rows = 1; rows <= 70; rows += 23) {
            int64_t xd[3] = {rows, 2, widths[w]};
            strata_tensor *x = make(STRATA_DTYPE_F32, 3, xd, &s, 20.0f);
            float *p = x->data;
            if (widths[w] > 2) p[1] = -INFINITY; /* a masked entry */
            attr a[1] = {int_attr("axis", -1)};
            EXPECT_EQ(compare_rows("Softmax", "", 13, a, 1, &x, 1, 1, 1e-7, 2e-6), expected_rows());
            attr legacy[1] = {int_attr("axis", 2)};
            EXPECT_EQ(compare_rows("Softmax", "", 11, legacy, 1, &x, 1, 1, 1e-7, 2e-6), expected_rows());
            strata_tensor_destroy(x);
        }
}

TEST(test_fast_transformer_gelu_matches_reference)
{
    uint64_t s = 13;
    const int64_t sizes[] = {1, 7, 16, 33, 1000, 70001};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        /* [-5, 5]: below, the reference's 1 + erf(x) cancels in double precision */
        strata_tensor *x = make(STRATA_DTYPE_F32, 1, &sizes[i], &s, 5.0f);
        EXPECT_EQ(compare_rows("Gelu", "com.strata", 1, NULL, 0, &x, 1, 1, 1e-12, 2e-6), expected_rows());
        strata_tensor_destroy(x);
    }
}

TEST(test_fast_transformer_binary_broadcast_matches_reference)
{
    uint64_t s = 14;
    static const struct {
        int ra, rb;
        int64_t a[4], b[4];
    } shapes[] = {
        {3, 1, {2, 3, 5}, {5}},          {3, 2, {2, 1, 5}, {3, 1}},       {0, 2, {0}, {4, 17}},
        {2, 2, {7, 1}, {1, 9}},          {3, 2, {1, 128, 768}, {128, 768}}, {3, 3, {4, 5, 6}, {4, 5, 6}},
        {4, 4, {2, 3, 1, 33}, {1, 3, 7, 1}}, {2, 0, {70, 300}, {0}},      {1, 1, {1}, {19}},
    };
    static const char *const ops[] = {"Add", "Sub", "Mul", "Div"};
    for (size_t c = 0; c < ARRAY_LEN(shapes); c++)
        for (size_t o = 0; o < ARRAY_LEN(ops); o++) {
            strata_tensor *in[2] = {make(STRATA_DTYPE_F32, shapes[c].ra, shapes[c].a, &s, 2.0f),
                                    make(STRATA_DTYPE_F32, shapes[c].rb, shapes[c].b, &s, 2.0f)};
            float *b = in[1]->data;
            for (int64_t i = 0; i < strata_tensor_numel(in[1]); i++) b[i] += b[i] < 0 ? -0.5f : 0.5f; /* no /0 */
            EXPECT_EQ(compare_rows(ops[o], "", 14, NULL, 0, in, 2, 1, 0, 1e-6), expected_rows());
            strata_tensor *sw[2] = {in[1], in[0]}; /* the broadcast operand first */
            EXPECT_EQ(compare_rows(ops[o], "", 14, NULL, 0, sw, 2, 1, 0, 1e-6), expected_rows());
            strata_tensor_destroy(in[0]);
            strata_tensor_destroy(in[1]);
        }
}

TEST(test_fast_transformer_transpose_matches_reference)
{
    uint64_t s = 15;
    int64_t d4[4] = {2, 3, 5, 7};
    for (int p = 0; p < 24; p++) { /* every perm of 4 dims */
        int64_t perm[4], left[4] = {0, 1, 2, 3};
        int code = p, n_left = 4;
        for (int i = 0; i < 4; i++) {
            int f = 1;
            for (int k = 1; k < n_left; k++) f *= k;
            int pick = code / f;
            code %= f;
            perm[i] = left[pick];
            for (int k = pick; k < n_left - 1; k++) left[k] = left[k + 1];
            n_left--;
        }
        strata_tensor *x = make(STRATA_DTYPE_F32, 4, d4, &s, 1.0f);
        attr a;
        memset(&a, 0, sizeof a);
        a.name = (char *)"perm";
        a.type = ATTR_INTS;
        a.n = 4;
        a.ints = perm;
        EXPECT_EQ(compare_rows("Transpose", "", 13, &a, 1, &x, 1, 1, 0, 0), 1);
        strata_tensor_destroy(x);
    }
    int64_t d3[3] = {1, 300, 65};
    strata_tensor *x = make(STRATA_DTYPE_F32, 3, d3, &s, 1.0f);
    EXPECT_EQ(compare_rows("Transpose", "", 13, NULL, 0, &x, 1, 1, 0, 0), 1); /* default: reversed */
    strata_tensor_destroy(x);
    /* the tiled 2-D form: NCHW -> NHWC with few channels, tile tails (mid not a multiple of 64) */
    const int64_t shapes[][4] = {{2, 3, 37, 29}, {1, 20, 7, 10}, {3, 63, 4, 4}, {1, 1, 5, 200},
                                 {1, 3, 4, 5}, {2, 3, 8, 9}, {1, 3, 16, 26}, {1, 3, 64, 1}}; /* 3 channels: interleave, its tails */
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
        int64_t perm[4] = {0, 2, 3, 1};
        strata_tensor *t = make(STRATA_DTYPE_F32, 4, shapes[i], &s, 1.0f);
        attr a;
        memset(&a, 0, sizeof a);
        a.name = (char *)"perm";
        a.type = ATTR_INTS;
        a.n = 4;
        a.ints = perm;
        EXPECT_EQ(compare_rows("Transpose", "", 13, &a, 1, &t, 1, 1, 0, 0), 1);
        strata_tensor_destroy(t);
    }
}

TEST(test_fast_transformer_gather_matches_reference)
{
    uint64_t s = 16;
    const int64_t cols[] = {1, 7, 16, 33, 768};
    for (size_t c = 0; c < ARRAY_LEN(cols); c++) {
        int64_t td[2] = {50, cols[c]}, id[2] = {3, 40};
        strata_tensor *in[2] = {make(STRATA_DTYPE_F32, 2, td, &s, 1.0f), make(STRATA_DTYPE_I64, 2, id, &s, 0)};
        int64_t *ix = in[1]->data;
        for (int64_t i = 0; i < 120; i++) ix[i] = (int64_t)(i * 37 % 100) - 50; /* -50..49 */
        EXPECT_EQ(compare_rows("Gather", "", 13, NULL, 0, in, 2, 1, 0, 0), 1);
        strata_tensor_destroy(in[0]);
        strata_tensor_destroy(in[1]);
    }
}

TEST(test_fast_transformer_gather_rejects_bad_index)
{
    uint64_t s = 17;
    int64_t td[2] = {4, 3}, id[1] = {2};
    strata_tensor *in[2] = {make(STRATA_DTYPE_F32, 2, td, &s, 1.0f), make(STRATA_DTYPE_I64, 1, id, &s, 0)};
    ((int64_t *)in[1]->data)[1] = 4;
    strata_tensor *out = NULL;
    int64_t od[2] = {2, 3};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, od, &out));
    op_node n = {"emb", "Gather", "", 13, NULL, 0, 2, 1};
    const fast_kernel *k = fast_kernel_find("gather_f32_rows__scalar", "Gather", "");
    EXPECT(k != NULL);
    if (k) {
        kernel_ctx ctx = {NULL, 1};
        EXPECT_STATUS(k->run(k, &n, (const strata_tensor *const *)in, &out, &ctx), STRATA_INVALID_ARGUMENT);
        EXPECT_STR_CONTAINS(strata_last_error(), "emb");
        EXPECT_STR_CONTAINS(strata_last_error(), "index 4");
    }
    strata_tensor_destroy(out);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

/* FusedAttention: both layouts, K given transposed, masks of several ranks with -inf entries,
 * sequence lengths around the key tile and query block, head sizes around the vector width. */
TEST(test_fast_transformer_attention_matches_reference)
{
    uint64_t s = 18;
    static const struct {
        int64_t B, H, Sq, Sk, D, Dv;
    } cases[] = {
        {1, 1, 1, 1, 1, 1},     {2, 3, 5, 7, 8, 8},     {1, 2, 64, 64, 64, 64},  {1, 2, 65, 129, 17, 33},
        {2, 1, 130, 65, 64, 5}, {1, 1, 3, 200, 16, 48}, {1, 12, 128, 128, 64, 64},
    };
    for (size_t c = 0; c < ARRAY_LEN(cases); c++)
        for (int variant = 0; variant < 4; variant++) {
            int64_t B = cases[c].B, H = cases[c].H, Sq = cases[c].Sq, Sk = cases[c].Sk, D = cases[c].D, Dv = cases[c].Dv;
            int layout = variant == 1 ? 1 : 0;
            bool kt = variant == 2;
            int64_t qd[4] = {B, H, Sq, D}, kd[4] = {B, H, Sk, D}, vd[4] = {B, H, Sk, Dv};
            if (layout == 1) {
                qd[1] = Sq, qd[2] = H;
                kd[1] = Sk, kd[2] = H;
                vd[1] = Sk, vd[2] = H;
            }
            if (kt) kd[2] = D, kd[3] = Sk;
            strata_tensor *in[4] = {make(STRATA_DTYPE_F32, 4, qd, &s, 2.0f), make(STRATA_DTYPE_F32, 4, kd, &s, 2.0f),
                                    make(STRATA_DTYPE_F32, 4, vd, &s, 1.0f), NULL};
            size_t n_in = 3;
            if (variant == 3) { /* [B,1,1,Sk] padding mask */
                int64_t md[4] = {B, 1, 1, Sk};
                in[3] = make(STRATA_DTYPE_F32, 4, md, &s, 1.0f);
                float *m = in[3]->data;
                for (int64_t i = 0; i < B * Sk; i++) m[i] = i % 5 == 4 ? -INFINITY : m[i];
                n_in = 4;
            } else if (variant == 2) { /* [Sq,Sk] mask */
                int64_t md[2] = {Sq, Sk};
                in[3] = make(STRATA_DTYPE_F32, 2, md, &s, 3.0f);
                n_in = 4;
            }
            attr a[3] = {float_attr("scale", 1.0f / sqrtf((float)D)), int_attr("layout", layout),
                         int_attr("k_transposed", kt)};
            EXPECT_EQ(compare_rows("FusedAttention", "com.strata", 1, a, 3, in, n_in, 1, 2e-6, 2e-5), expected_rows());
            for (int i = 0; i < 4; i++) strata_tensor_destroy(in[i]);
        }
}
