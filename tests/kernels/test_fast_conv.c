/* tests/kernels/test_fast_conv.c — the CNN fast kernels against their reference ops on random
 * shapes and values (tails below a vector, sizes off the GEMM tile, strides, padding, dilation,
 * groups, batch): every conv_f32_gemm / conv_f32_dw / pool_f32 row this CPU runs (scalar, AVX2,
 * AVX-512), with and without the compile-time packed weights, 1 and 2 threads, fused bias,
 * residual and relu/clip; plus the packed-A GEMM with a caller's B producer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "op_harness.h"
#include "test.h"

static double rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0;
}

static strata_tensor *rnd_tensor(int rank, const int64_t *dims, uint64_t *s)
{
    int64_t n = shape_numel(rank, dims);
    double *v = mem_alloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (int64_t i = 0; i < n; i++) v[i] = rnd(s);
    strata_tensor *t = op_tensor(STRATA_DTYPE_F32, rank, dims, v);
    mem_free(v);
    return t;
}

typedef struct conv_case {
    int64_t N, C, H, W, M, kh, kw, sh, sw, ph, pw, dh, dw, group;
} conv_case;

/* Max |got - want| over all elements, or INFINITY on a shape mismatch. */
static double max_diff(const strata_tensor *a, const strata_tensor *b)
{
    if (!a || !b || strata_tensor_numel(a) != strata_tensor_numel(b)) return INFINITY;
    double m = 0;
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < strata_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (!(d <= m)) m = d; /* NaN -> NaN */
    }
    return m;
}

/* When set, conv_check runs rows with a residual in place: the output tensor holds the
 * residual and is passed as input 3 too, as the memory plan arranges where the row's
 * residual_in_place says so. */
static bool g_in_place;

/* Runs fast row `name` on a Conv/FusedConv node (act "", "Relu" or "Clip"; residual z) and
 * compares with the reference Conv followed by the same residual and activation. Returns 1
 * when it matched or the row cannot run here. */
static int conv_check(const char *name, const conv_case *c, const char *act, bool residual,
                      bool packed, int threads, uint64_t seed)
{
    const char *op = act[0] || residual ? "FusedConv" : "Conv", *dom = act[0] || residual ? "com.strata" : "";
    const fast_kernel *k = fast_kernel_find(name, op, dom);
    if (!k) {
        test_fail(__FILE__, __LINE__, "no row %s for %s", name, op);
        return 0;
    }
    if (k->isa & ~cpu_features()) return 1;
    uint64_t s = seed;
    int64_t xd[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->M, c->C / c->group, c->kh, c->kw}, bd[1] = {c->M};
    strata_tensor *x = rnd_tensor(4, xd, &s), *w = rnd_tensor(4, wd, &s), *b = rnd_tensor(1, bd, &s);
    int64_t ks[2] = {c->kh, c->kw}, st2[2] = {c->sh, c->sw}, pads[4] = {c->ph, c->pw, c->ph, c->pw},
            dil[2] = {c->dh, c->dw};
    attr at[12];
    size_t na = 0;
    at[na++] = attr_ints_of("kernel_shape", ks, 2);
    at[na++] = attr_ints_of("strides", st2, 2);
    at[na++] = attr_ints_of("pads", pads, 4);
    at[na++] = attr_ints_of("dilations", dil, 2);
    at[na++] = attr_int_of("group", c->group);
    strata_tensor *ins[5] = {x, w, b, NULL, NULL}, *ref = NULL, *z = NULL, *y = NULL, *pk = NULL;
    thread_pool *pool = NULL;
    int ok = 0;
    strata_status st = op_run("Conv", 17, at, na, ins, 3, &ref, 1);
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "reference conv: %s", strata_last_error());
        goto done;
    }
    float *r = ref->data;
    int64_t n = strata_tensor_numel(ref);
    if (residual) {
        z = rnd_tensor(ref->rank, ref->dims, &s);
        for (int64_t i = 0; i < n; i++) r[i] += ((const float *)z->data)[i];
    }
    if (!strcmp(act, "Relu"))
        for (int64_t i = 0; i < n; i++) r[i] = r[i] > 0 ? r[i] : 0;
    if (!strcmp(act, "Clip")) {
        for (int64_t i = 0; i < n; i++) r[i] = r[i] < -0.5f ? -0.5f : r[i] > 0.75f ? 0.75f : r[i];
        at[na++] = attr_float_of("activation_min", -0.5f);
        at[na++] = attr_float_of("activation_max", 0.75f);
    }
    if (act[0]) at[na++] = attr_string_of("activation", act);
    ins[3] = z;
    size_t n_in = residual ? 4 : 3;
    op_node node = {"conv_under_test", op, dom, 17, at, na, n_in, 1};
    if (!k->supports(&node, (const strata_tensor *const *)ins)) {
        test_fail(__FILE__, __LINE__, "%s does not support the case", name);
        goto done;
    }
    if (packed && k->packed_size) {
        size_t bytes = k->packed_size(k, &node, (const strata_tensor *const *)ins);
        if (bytes) {
            int64_t pd[1] = {(int64_t)bytes};
            if ((st = strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk)) == STRATA_OK)
                st = k->pack(k, &node, (const strata_tensor *const *)ins, pk->data);
            if (st != STRATA_OK) {
                test_fail(__FILE__, __LINE__, "%s pack: %s", name, strata_last_error());
                goto done;
            }
            ins[4] = pk;
            at[na++] = attr_int_of("packed_input", 4);
            node.n_attrs = na;
            node.n_inputs = 5;
        }
    }
    if ((st = strata_tensor_create(STRATA_DTYPE_F32, ref->rank, ref->dims, &y)) != STRATA_OK) goto done;
    float *yd = y->data;
    for (int64_t i = 0; i < n; i++) yd[i] = NAN; /* the kernel must write every element */
    if (threads > 1 && thread_pool_create(threads, &pool) != STRATA_OK) goto done;
    kernel_ctx ctx = {pool, thread_pool_size(pool)};
    if (g_in_place && z) {
        if (!k->residual_in_place || !k->residual_in_place(&node)) {
            test_fail(__FILE__, __LINE__, "%s: no in-place residual with act '%s'", name, act);
            goto done;
        }
        memcpy(y->data, z->data, y->n_bytes);
        ins[3] = y;
    }
    st = k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx);
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", name, strata_last_error());
        goto done;
    }
    double tol = 2e-6 * (double)(c->C / c->group * c->kh * c->kw + 4);
    double d = max_diff(y, ref);
    if (!(d <= tol)) {
        test_fail(__FILE__, __LINE__,
                  "%s N=%lld C=%lld H=%lld W=%lld M=%lld k=%lldx%lld s=%lldx%lld p=%lldx%lld "
                  "d=%lldx%lld g=%lld act='%s' res=%d packed=%d threads=%d: max diff %g > %g",
                  name, (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W,
                  (long long)c->M, (long long)c->kh, (long long)c->kw, (long long)c->sh,
                  (long long)c->sw, (long long)c->ph, (long long)c->pw, (long long)c->dh,
                  (long long)c->dw, (long long)c->group, act, residual, packed, threads, d, tol);
        goto done;
    }
    ok = 1;
done:
    thread_pool_destroy(pool);
    strata_tensor_destroy(x), strata_tensor_destroy(w), strata_tensor_destroy(b);
    strata_tensor_destroy(ref), strata_tensor_destroy(z), strata_tensor_destroy(y), strata_tensor_destroy(pk);
    return ok;
}

/* N C H W M kh kw sh sw ph pw dh dw group */
static const conv_case gemm_cases[] = {
    {1, 3, 9, 11, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1},     /* 1x1 direct, tails everywhere */
    {2, 16, 7, 7, 33, 1, 1, 1, 1, 0, 0, 1, 1, 1},    /* batch, N = 49, M off the tile */
    {1, 8, 14, 14, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* 3x3 pad 1, N = 196 */
    {1, 5, 13, 10, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1},    /* stride 2, odd sizes */
    {1, 3, 23, 19, 16, 7, 7, 2, 2, 3, 3, 1, 1, 1},   /* conv1-like 7x7 s2 p3 */
    {1, 12, 9, 9, 15, 1, 1, 2, 2, 0, 0, 1, 1, 1},    /* 1x1 stride 2 (downsample) */
    {1, 6, 10, 12, 8, 3, 3, 1, 1, 2, 2, 2, 2, 2},    /* dilation 2, 2 groups */
    {1, 4, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},      /* 1 x 1 image */
    {1, 70, 6, 45, 40, 3, 2, 1, 3, 0, 1, 1, 1, 1},   /* K past a K block, uneven kernel/stride */
    {1, 300, 5, 5, 20, 1, 1, 1, 1, 0, 0, 1, 1, 1},   /* K = 300 > 256 on the direct path */
    {3, 5, 9, 8, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* batch 3, im2col: one GEMM per task */
    {4, 8, 6, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2},      /* batch 4, 2 groups, stride 2 */
};

static void gemm_sweep(const char *name)
{
    int fails = 0;
    for (size_t i = 0; i < ARRAY_LEN(gemm_cases) && fails < 3; i++)
        for (int v = 0; v < 8 && fails < 3; v++) {
            const char *act = v % 3 == 0 ? "" : v % 3 == 1 ? "Relu" : "Clip";
            fails += !conv_check(name, &gemm_cases[i], act, (v & 2) != 0, (v & 1) == 0, v & 4 ? 2 : 1,
                                 100 + i * 13 + (uint64_t)v);
        }
}

/* In place: every case with a residual, its memory shared with the output (K past a K block
 * included: later blocks accumulate into C, which must not start from the residual twice). */
static void gemm_sweep_in_place(const char *name)
{
    int fails = 0;
    g_in_place = true;
    for (size_t i = 0; i < ARRAY_LEN(gemm_cases) && fails < 3; i++)
        for (int v = 0; v < 6 && fails < 3; v++) {
            const char *act = v % 3 == 0 ? "" : v % 3 == 1 ? "Relu" : "Clip";
            fails += !conv_check(name, &gemm_cases[i], act, true, v < 3, v & 1 ? 2 : 1, 900 + i * 11 + (uint64_t)v);
        }
    g_in_place = false;
}

/* conv_f32_pw: 1x1 stride-1 unpadded convs, the input rows read in place (H*W tails below a
 * vector and between one and two, K past a K block, groups, batch). */
static const conv_case pw_cases[] = {
    {1, 3, 9, 11, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1},     /* H*W = 99: tails */
    {2, 16, 7, 7, 33, 1, 1, 1, 1, 0, 0, 1, 1, 1},    /* 49 pixels, batch, M off the tile */
    {1, 300, 5, 5, 20, 1, 1, 1, 1, 0, 0, 1, 1, 1},   /* K = 300 > 256 */
    {1, 64, 14, 14, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1},  /* 196 pixels */
    {3, 8, 4, 5, 12, 1, 1, 1, 1, 0, 0, 1, 1, 2},     /* 2 groups, batch 3, 20 pixels */
    {1, 40, 1, 9, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1},     /* 9 pixels */
    {1, 24, 40, 33, 70, 1, 1, 1, 1, 0, 0, 1, 1, 1},  /* 1320 pixels: past one column block */
};

static void pw_sweep(bool in_place)
{
    int fails = 0;
    g_in_place = in_place;
    for (size_t i = 0; i < ARRAY_LEN(pw_cases) && fails < 3; i++)
        for (int v = 0; v < 8 && fails < 3; v++) {
            const char *act = v % 3 == 0 ? "" : v % 3 == 1 ? "Relu" : "Clip";
            fails += !conv_check("conv_f32_pw__avx512", &pw_cases[i], act, in_place || (v & 2) != 0, (v & 1) == 0,
                                 v & 4 ? 2 : 1, 1300 + i * 17 + (uint64_t)v);
        }
    g_in_place = false;
}

TEST(test_fast_conv_pw_avx512)
{
    pw_sweep(false);
    pw_sweep(true);
}

/* conv_f32_pwt: unpadded 1x1 convs on small maps computed transposed (pixels as the GEMM's
 * rows: tails of a 14-row panel, channels off the 32-column tile, strides, K past a K block,
 * batch), then written back as NCHW with the residual and activation. */
static const conv_case pwt_cases[] = {
    {1, 16, 7, 7, 33, 1, 1, 1, 1, 0, 0, 1, 1, 1},    /* 49 pixels, M off the tile */
    {2, 300, 5, 5, 20, 1, 1, 1, 1, 0, 0, 1, 1, 1},   /* K = 300 > 256, batch */
    {1, 24, 14, 14, 70, 1, 1, 2, 2, 0, 0, 1, 1, 1},  /* stride 2 (downsample): 7x7 out */
    {1, 5, 3, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},      /* 3 pixels, 3 channels */
    {3, 9, 9, 11, 17, 1, 1, 3, 2, 0, 0, 1, 1, 1},    /* uneven strides, batch 3 */
    {1, 40, 16, 16, 48, 1, 1, 1, 1, 0, 0, 1, 1, 1},  /* 256 pixels, the most it takes */
};

static void pwt_sweep(const char *name, bool in_place)
{
    int fails = 0;
    g_in_place = in_place;
    for (size_t i = 0; i < ARRAY_LEN(pwt_cases) && fails < 3; i++)
        for (int v = 0; v < 8 && fails < 3; v++) {
            const char *act = v % 3 == 0 ? "" : v % 3 == 1 ? "Relu" : "Clip";
            fails += !conv_check(name, &pwt_cases[i], act, in_place || (v & 2) != 0, (v & 1) == 0, v & 4 ? 2 : 1,
                                 1700 + i * 19 + (uint64_t)v);
        }
    g_in_place = false;
}

TEST(test_fast_conv_pwt)
{
    pwt_sweep("conv_f32_pwt__avx2", false);
    pwt_sweep("conv_f32_pwt__avx2", true);
    pwt_sweep("conv_f32_pwt__avx512", false);
    pwt_sweep("conv_f32_pwt__avx512", true);
}

/* What conv_f32_pwt takes: unpadded 1x1 group-1 convs up to 256 output pixels. */
TEST(test_fast_conv_pwt_supports)
{
    const fast_kernel *k = fast_kernel_find("conv_f32_pwt__avx2", "Conv", "");
    EXPECT(k != NULL);
    if (!k) return;
    int64_t ks[2] = {1, 1}, k3[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
    struct {
        int64_t x[4], w[4];
        int bad_kernel, padded, groups;
        bool want;
    } cases[] = {
        {{1, 8, 16, 16}, {4, 8, 1, 1}, 0, 0, 1, true},   /* 256 pixels */
        {{1, 8, 17, 16}, {4, 8, 1, 1}, 0, 0, 1, false},  /* 272 */
        {{1, 8, 7, 7}, {4, 8, 3, 3}, 1, 0, 1, false},    /* 3x3 */
        {{1, 8, 7, 7}, {4, 8, 1, 1}, 0, 1, 1, false},    /* padded */
        {{1, 8, 7, 7}, {4, 4, 1, 1}, 0, 0, 2, false},    /* 2 groups */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        strata_tensor *x = NULL, *w = NULL;
        EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 4, cases[i].x, &x));
        EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 4, cases[i].w, &w));
        attr at[3];
        size_t na = 0;
        at[na++] = attr_ints_of("kernel_shape", cases[i].bad_kernel ? k3 : ks, 2);
        at[na++] = attr_int_of("group", cases[i].groups);
        if (cases[i].padded) at[na++] = attr_ints_of("pads", pads, 4);
        op_node node = {"pwt", "Conv", "", 17, at, na, 2, 1};
        const strata_tensor *ins[2] = {x, w};
        EXPECT(k->supports(&node, ins) == cases[i].want);
        strata_tensor_destroy(x), strata_tensor_destroy(w);
    }
}

TEST(test_fast_conv_gemm_in_place)
{
    gemm_sweep_in_place("conv_f32_gemm__scalar");
    gemm_sweep_in_place("conv_f32_gemm__avx2");
    gemm_sweep_in_place("conv_f32_gemm__avx512");
}

/* A post-pass activation (LeakyRelu) cannot take its residual in place: the row says so, and
 * refuses such a call with an error rather than adding the output to itself. */
TEST(test_fast_conv_gemm_in_place_refused_for_post_activation)
{
    const fast_kernel *k = fast_kernel_find("conv_f32_gemm__scalar", "FusedConv", "com.strata");
    EXPECT(k && k->residual_in_place);
    if (!k || !k->residual_in_place) return;
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {6, 4, 1, 1}, yd[4] = {1, 6, 5, 5};
    uint64_t s = 7;
    strata_tensor *x = rnd_tensor(4, xd, &s), *w = rnd_tensor(4, wd, &s), *y = rnd_tensor(4, yd, &s);
    int64_t ks[2] = {1, 1};
    attr at[2] = {attr_ints_of("kernel_shape", ks, 2), attr_string_of("activation", "LeakyRelu")};
    op_node node = {"leaky", "FusedConv", "com.strata", 17, at, 2, 4, 1};
    EXPECT(!k->residual_in_place(&node));
    strata_tensor *ins[4] = {x, w, NULL, y};
    kernel_ctx ctx = {NULL, 1};
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx), STRATA_INTERNAL);
    EXPECT_STR_CONTAINS(strata_last_error(), "residual shares the output's memory");
    strata_tensor_destroy(x), strata_tensor_destroy(w), strata_tensor_destroy(y);
}

TEST(test_fast_conv_gemm_scalar) { gemm_sweep("conv_f32_gemm__scalar"); }
TEST(test_fast_conv_gemm_avx2) { gemm_sweep("conv_f32_gemm__avx2"); }
TEST(test_fast_conv_gemm_avx512) { gemm_sweep("conv_f32_gemm__avx512"); }

static const conv_case dw_cases[] = {
    {1, 3, 9, 11, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3},     /* 3x3 s1 p1, tail < 16 */
    {2, 5, 12, 37, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5},    /* 3x3 s2 p1, batch, tail */
    {1, 4, 17, 16, 4, 5, 5, 2, 2, 2, 2, 1, 1, 4},    /* 5x5 s2 p2 */
    {1, 2, 8, 40, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2},     /* dilation 2 */
    {1, 3, 6, 1, 3, 3, 1, 1, 1, 1, 0, 1, 1, 3},      /* 1 column */
    {1, 2, 7, 33, 2, 3, 3, 3, 3, 0, 1, 1, 1, 2},     /* stride 3, uneven pads */
    {1, 6, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1, 6},      /* 1x1 depthwise */
};

static void dw_sweep(const char *name)
{
    int fails = 0;
    for (size_t i = 0; i < ARRAY_LEN(dw_cases) && fails < 3; i++)
        for (int v = 0; v < 6 && fails < 3; v++) {
            const char *act = v % 3 == 0 ? "" : v % 3 == 1 ? "Relu" : "Clip";
            fails += !conv_check(name, &dw_cases[i], act, v >= 3, false, v & 1 ? 2 : 1,
                                 500 + i * 7 + (uint64_t)v);
        }
}

TEST(test_fast_conv_dw_scalar) { dw_sweep("conv_f32_dw__scalar"); }
TEST(test_fast_conv_dw_avx2) { dw_sweep("conv_f32_dw__avx2"); }
TEST(test_fast_conv_dw_avx512) { dw_sweep("conv_f32_dw__avx512"); }

/* The packed weights are checked against the node: too few bytes is an error, not a crash. */
TEST(test_fast_conv_rejects_short_packed_weights)
{
    const fast_kernel *k = fast_kernel_find("conv_f32_gemm__scalar", "Conv", "");
    EXPECT(k != NULL);
    uint64_t s = 3;
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {6, 4, 3, 3}, yd[4] = {1, 6, 3, 3}, pd[1] = {64};
    strata_tensor *x = rnd_tensor(4, xd, &s), *w = rnd_tensor(4, wd, &s), *y = NULL, *pk = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 4, yd, &y));
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk));
    int64_t ks[2] = {3, 3};
    attr at[2] = {attr_ints_of("kernel_shape", ks, 2), attr_int_of("packed_input", 4)};
    strata_tensor *ins[5] = {x, w, NULL, NULL, pk};
    op_node node = {"short", "Conv", "", 17, at, 2, 5, 1};
    kernel_ctx ctx = {NULL, 1};
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "short");
    EXPECT_STR_CONTAINS(strata_last_error(), "packed weights");
    strata_tensor_destroy(x), strata_tensor_destroy(w), strata_tensor_destroy(y), strata_tensor_destroy(pk);
}

/* ---- pooling ---------------------------------------------------------------------------------- */

typedef struct pool_case {
    int64_t N, C, H, W, kh, kw, sh, sw, ph, pw, ceil;
} pool_case;

static int pool_check(const char *op, const pool_case *c, bool with_nan, int threads, uint64_t seed)
{
    const fast_kernel *k = fast_kernel_find("pool_f32__scalar", op, "");
    uint64_t s = seed;
    int64_t xd[4] = {c->N, c->C, c->H, c->W};
    strata_tensor *x = rnd_tensor(4, xd, &s), *ref = NULL, *y = NULL;
    if (with_nan) ((float *)x->data)[strata_tensor_numel(x) / 2] = NAN;
    int64_t ks[2] = {c->kh, c->kw}, st2[2] = {c->sh, c->sw}, pads[4] = {c->ph, c->pw, c->ph, c->pw};
    attr at[4] = {attr_ints_of("kernel_shape", ks, 2), attr_ints_of("strides", st2, 2),
                  attr_ints_of("pads", pads, 4), attr_int_of("ceil_mode", c->ceil)};
    strata_tensor *ins[1] = {x};
    thread_pool *pool = NULL;
    int ok = 0;
    if (op_run(op, 12, at, 4, ins, 1, &ref, 1) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "reference %s: %s", op, strata_last_error());
        goto done;
    }
    op_node node = {"pool_under_test", op, "", 12, at, 4, 1, 1};
    if (!k || !k->supports(&node, (const strata_tensor *const *)ins)) {
        test_fail(__FILE__, __LINE__, "pool row does not support %s", op);
        goto done;
    }
    if (strata_tensor_create(STRATA_DTYPE_F32, ref->rank, ref->dims, &y) != STRATA_OK) goto done;
    if (threads > 1 && thread_pool_create(threads, &pool) != STRATA_OK) goto done;
    kernel_ctx ctx = {pool, thread_pool_size(pool)};
    if (k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", op, strata_last_error());
        goto done;
    }
    const float *a = y->data, *b = ref->data;
    for (int64_t i = 0; i < strata_tensor_numel(ref); i++)
        if (!(fabsf(a[i] - b[i]) <= 1e-6f || (isnan(a[i]) && isnan(b[i])) || a[i] == b[i])) {
            test_fail(__FILE__, __LINE__, "%s %lldx%lldx%lldx%lld k=%lldx%lld s=%lldx%lld p=%lldx%lld "
                      "ceil=%lld nan=%d: y[%lld] = %g, expected %g", op, (long long)c->N,
                      (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->kh,
                      (long long)c->kw, (long long)c->sh, (long long)c->sw, (long long)c->ph,
                      (long long)c->pw, (long long)c->ceil, with_nan, (long long)i, a[i], b[i]);
            goto done;
        }
    ok = 1;
done:
    thread_pool_destroy(pool);
    strata_tensor_destroy(x), strata_tensor_destroy(ref), strata_tensor_destroy(y);
    return ok;
}

static const pool_case pool_cases[] = {
    {1, 3, 12, 12, 3, 3, 2, 2, 1, 1, 0}, /* ResNet's 3x3 s2 p1 */
    {2, 2, 9, 37, 3, 3, 2, 2, 1, 1, 1},  /* ceil mode, tail columns */
    {1, 2, 5, 112, 3, 3, 2, 2, 1, 1, 0}, /* the 16-wide k3 s2 row kernel with a tail */
    {1, 1, 3, 66, 3, 3, 2, 2, 0, 0, 0},  /* no pad: the last window ends on the row end */
    {1, 2, 7, 5, 2, 2, 1, 1, 0, 0, 0},   /* stride 1 */
    {1, 1, 5, 19, 3, 4, 3, 3, 1, 2, 1},  /* uneven kernel, big pads, ceil */
    {1, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0},   /* 1 x 1 */
    {2, 48, 8, 8, 2, 2, 2, 2, 0, 0, 0},  /* 2x2 s2 on small planes: many planes a task; NaN first in a window */
    {1, 1, 6, 6, 2, 2, 2, 2, 0, 0, 0},   /* 2x2 s2, NaN second-row in its window: passed over */
    {1, 2, 9, 11, 2, 2, 2, 2, 0, 0, 0},  /* 2x2 s2, odd sizes: the last row and column unused */
    {1, 2, 9, 11, 2, 2, 2, 2, 0, 0, 1},  /* ceil mode: clipped windows, the general path */
    {1, 3, 64, 66, 2, 2, 2, 2, 0, 0, 0}, /* 2x2 s2, a plane a task */
    {1, 3, 10, 26, 2, 2, 2, 2, 0, 0, 0}, /* 2x2 s2, 13 outputs a row: the vector tail's upper half */
    {1, 2, 4, 61, 2, 2, 2, 2, 0, 0, 0},  /* 2x2 s2, 30 outputs: a full vector and a 14-wide tail */
};

static void pool_sweep(void)
{
    int fails = 0;
    for (size_t i = 0; i < ARRAY_LEN(pool_cases) && fails < 3; i++)
        for (int v = 0; v < 4 && fails < 3; v++) {
            fails += !pool_check("MaxPool", &pool_cases[i], v & 1, v & 2 ? 2 : 1, 900 + i * 5 + (uint64_t)v);
            fails += !pool_check("AveragePool", &pool_cases[i], false, v & 2 ? 2 : 1, 950 + i);
        }
}

TEST(test_fast_pool_matches_ref) { pool_sweep(); }

/* Each test runs in a fresh child process: STRATA_ISA set here caps what the kernels see. */
TEST(test_fast_pool_matches_ref_avx2)
{
    setenv("STRATA_ISA", "avx2", 1);
    pool_sweep();
    unsetenv("STRATA_ISA");
}

TEST(test_fast_pool_matches_ref_scalar)
{
    setenv("STRATA_ISA", "scalar", 1);
    pool_sweep();
    unsetenv("STRATA_ISA");
}

/* ---- GEMM with packed A and a B producer (the convolution path) ---------------------------- */

typedef struct dense_b {
    const float *B;
    int64_t ldb;
} dense_b;

static void produce(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst)
{
    const dense_b *d = ctx;
    for (int64_t q = 0; q * nr < nc; q++)
        for (int64_t k = 0; k < kc; k++)
            for (int j = 0; j < nr; j++) {
                int64_t col = q * nr + j;
                dst[(q * kc + k) * nr + j] = col < nc ? d->B[(k0 + k) * d->ldb + j0 + col] : 0.0f;
            }
}

TEST(test_gemm_packed_a_with_producer)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {13, 31, 17}, {15, 33, 300}, {64, 49, 70},
                                        {29, 600, 20}, {40, 5, 0}, {3, 1000, 9}};
    static const gemm_isa isas[] = {GEMM_ISA_SCALAR, GEMM_ISA_AVX2, GEMM_ISA_AVX512};
    thread_pool *pool = NULL;
    EXPECT_OK(thread_pool_create(2, &pool));
    for (size_t ii = 0; ii < ARRAY_LEN(isas); ii++) {
        if (!gemm_isa_supported(isas[ii])) continue;
        for (size_t si = 0; si < ARRAY_LEN(shapes); si++)
            for (int v = 0; v < 4; v++) {
                int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                uint64_t s = 77 + si;
                float *A = mem_alloc((size_t)(M * K + 1) * sizeof(float)), *B = mem_alloc((size_t)(K * N + 1) * sizeof(float));
                float *C = mem_alloc((size_t)(M * N) * sizeof(float)), *R = mem_alloc((size_t)(M * N) * sizeof(float));
                float *bias = mem_alloc((size_t)M * sizeof(float));
                void *pa = mem_alloc_aligned(gemm_f32_packed_a_size(M, K, isas[ii]));
                for (int64_t i = 0; i < M * K; i++) A[i] = (float)rnd(&s);
                for (int64_t i = 0; i < K * N; i++) B[i] = (float)rnd(&s);
                for (int64_t i = 0; i < M; i++) bias[i] = (float)rnd(&s);
                EXPECT_OK(gemm_f32_pack_a(M, K, A, K, false, isas[ii], pa));
                dense_b db = {B, N};
                gemm_args g = gemm_args_make(M, N, K, A, B, C);
                g.isa = isas[ii];
                g.epi.bias_kind = GEMM_BIAS_ROW, g.epi.bias = bias;
                g.epi.act = v & 1 ? GEMM_ACT_RELU : GEMM_ACT_NONE;
                gemm_args gr = g;
                gr.C = R;
                EXPECT_OK(gemm_f32__ref(&gr));
                if (v & 2) g.pack_b = produce, g.pack_b_ctx = &db;
                EXPECT_OK(gemm_f32_with_packed_a(&g, pa, v & 1 ? pool : NULL));
                for (int64_t i = 0; i < M * N; i++)
                    if (!(fabs(C[i] - R[i]) <= 1e-5 * (double)(K + 4))) {
                        test_fail(__FILE__, __LINE__, "%s M=%lld N=%lld K=%lld v=%d: C[%lld] = %g, expected %g",
                                  gemm_isa_name(isas[ii]), (long long)M, (long long)N, (long long)K, v,
                                  (long long)i, C[i], R[i]);
                        break;
                    }
                mem_free(A), mem_free(B), mem_free(C), mem_free(R), mem_free(bias), mem_free_aligned(pa);
            }
    }
    /* header checks */
    float a[4] = {1, 2, 3, 4}, b[4] = {0}, c[4];
    void *pa = mem_alloc_aligned(gemm_f32_packed_a_size(2, 2, GEMM_ISA_SCALAR));
    EXPECT_OK(gemm_f32_pack_a(2, 2, a, 2, false, GEMM_ISA_SCALAR, pa));
    gemm_args g = gemm_args_make(3, 2, 2, NULL, b, c);
    EXPECT_STATUS(gemm_f32_with_packed_a(&g, pa, NULL), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "packed A is 2 x 2");
    memset(pa, 0, 4);
    g = gemm_args_make(2, 2, 2, NULL, b, c);
    EXPECT_STATUS(gemm_f32_with_packed_a(&g, pa, NULL), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "magic");
    mem_free_aligned(pa);
    thread_pool_destroy(pool);
}

/* ---- global pools (NCHW) ---------------------------------------------------------------------- */

/* global_pool_f32 against the reference GlobalAveragePool / GlobalMaxPool: planes shorter than
 * the 8 partial sums, ResNet-50's 7x7, a plane count off the 32-plane tasks, a NaN in a max
 * pool's plane (the reference's max never takes it; the fast row propagated it before this
 * test), 1 and 2 threads. */
TEST(test_fast_global_pool_matches_reference)
{
    static const int64_t shapes[][4] = {{1, 5, 1, 3}, {2, 40, 7, 7}, {3, 33, 4, 9}, {1, 70, 1, 1}};
    const char *ops[2] = {"GlobalAveragePool", "GlobalMaxPool"};
    for (size_t si = 0; si < ARRAY_LEN(shapes); si++)
        for (int o = 0; o < 2; o++)
            for (int threads = 1; threads <= 2; threads++) {
                const fast_kernel *k = fast_kernel_find("global_pool_f32__scalar", ops[o], "");
                EXPECT(k != NULL);
                if (!k) return;
                uint64_t s = 60 + si * 7 + (uint64_t)o;
                strata_tensor *x = rnd_tensor(4, shapes[si], &s), *ref = NULL, *y = NULL;
                if (o == 1 && si == 1) ((float *)x->data)[49 * 3 + 5] = NAN; /* plane 3 holds a NaN */
                strata_tensor *ins[1] = {x};
                EXPECT_OK(op_run(ops[o], 1, NULL, 0, ins, 1, &ref, 1));
                thread_pool *pool = NULL;
                if (threads > 1) EXPECT_OK(thread_pool_create(threads, &pool));
                kernel_ctx ctx = {pool, thread_pool_size(pool)};
                op_node node = {"global", ops[o], "", 1, NULL, 0, 1, 1};
                if (ref) EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, ref->rank, ref->dims, &y));
                if (y) EXPECT_OK(k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx));
                for (int64_t i = 0; y && ref && i < strata_tensor_numel(ref); i++) {
                    double a = tensor_get_f64(y, i), b = tensor_get_f64(ref, i);
                    if (isnan(b)) EXPECT(isnan(a));
                    else EXPECT_NEAR(a, b, 1e-6);
                }
                thread_pool_destroy(pool);
                strata_tensor_destroy(x), strata_tensor_destroy(ref), strata_tensor_destroy(y);
            }
}
