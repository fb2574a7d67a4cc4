/* tests/kernels/test_fast_conv_winograd.c — the Winograd F(4x4,3x3) rows (conv_f32_winograd
 * scalar / AVX2 / AVX-512) against the reference Conv on random shapes and values in [-1, 1]:
 * channels 1, 3, 17, 64, extents 1 to 17 (tile tails), pads 0 to 2 and asymmetric, batch 1 and
 * 3, fused bias, residual (exact and broadcast) and relu / clip / sigmoid, with and without the
 * compile-time packed weights, 1 and 2 threads; plus which nodes the rows take.
 *
 * Tolerance, per output element: |err| <= 1e-5 * sum|w||x| + 1e-5, where sum|w||x| is the
 * reference Conv of |x| and |w| at that element. The transforms' rounding error measured on
 * these data stays below 5e-6 * (sum|w||x| + 1) (test_fast_conv_winograd_error_bound checks that;
 * 3.5e-6 at C = 256, about 30x the direct GEMM's). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fast_internal.h"
#include "kernels/kernels.h"
#include "op_harness.h"
#include "test.h"

static double rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0;
}

static strata_tensor *rnd_tensor(int rank, const int64_t *dims, uint64_t *s, bool absolute)
{
    int64_t n = shape_numel(rank, dims);
    double *v = mem_alloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (int64_t i = 0; i < n; i++) v[i] = absolute ? fabs(rnd(s)) : rnd(s);
    strata_tensor *t = op_tensor(STRATA_DTYPE_F32, rank, dims, v);
    mem_free(v);
    return t;
}

static strata_tensor *abs_copy(const strata_tensor *t)
{
    strata_tensor *a = NULL;
    if (strata_tensor_create(STRATA_DTYPE_F32, t->rank, t->dims, &a) != STRATA_OK) return NULL;
    const float *s = t->data;
    float *d = a->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) d[i] = fabsf(s[i]);
    return a;
}

typedef struct wcase {
    int64_t N, C, H, W, M;
    int64_t pads[4]; /* top, left, bottom, right */
} wcase;

/* Largest err / (sum|w||x| + 1) seen by wino_check (the error bound test reads it). */
static double worst_ratio;

/* When set, an exact residual shares the output's memory (the output tensor is input 3 too),
 * as the memory plan arranges where the row's residual_in_place allows it. */
static bool g_in_place;

/* Runs row `name` on one case (act "", "Relu", "Clip" or "Sigmoid"; residual 0 none, 1 exact,
 * 2 broadcast over channels [1, M, 1, 1]) against the reference. Returns 1 when it matched or
 * the row cannot run on this CPU. */
static int wino_check(const char *name, const wcase *c, const char *act, int residual, bool packed,
                      int threads, uint64_t seed)
{
    bool fused = act[0] || residual;
    const char *op = fused ? "FusedConv" : "Conv", *dom = fused ? "com.strata" : "";
    const fast_kernel *k = fast_kernel_find(name, op, dom);
    if (!k) {
        test_fail(__FILE__, __LINE__, "no row %s for %s", name, op);
        return 0;
    }
    if (k->isa & ~cpu_features()) return 1;
    uint64_t s = seed;
    int64_t xd[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->M, c->C, 3, 3}, bd[1] = {c->M};
    strata_tensor *x = rnd_tensor(4, xd, &s, false), *w = rnd_tensor(4, wd, &s, false),
                  *b = rnd_tensor(1, bd, &s, false);
    strata_tensor *xa = abs_copy(x), *wa = abs_copy(w);
    int64_t ks[2] = {3, 3}, pads[4] = {c->pads[0], c->pads[1], c->pads[2], c->pads[3]};
    attr at[10];
    size_t na = 0;
    at[na++] = attr_ints_of("kernel_shape", ks, 2);
    at[na++] = attr_ints_of("pads", pads, 4);
    strata_tensor *ins[5] = {x, w, b, NULL, NULL}, *ains[2] = {xa, wa};
    strata_tensor *ref = NULL, *mag = NULL, *z = NULL, *y = NULL, *pk = NULL;
    thread_pool *pool = NULL;
    int ok = 0;
    if (op_run("Conv", 17, at, na, ins, 3, &ref, 1) != STRATA_OK ||
        op_run("Conv", 17, at, na, ains, 2, &mag, 1) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "reference conv: %s", strata_last_error());
        goto done;
    }
    float *r = ref->data;
    const float *zd = NULL;
    int64_t n = strata_tensor_numel(ref), plane = ref->dims[2] * ref->dims[3];
    if (residual == 1) z = rnd_tensor(ref->rank, ref->dims, &s, false);
    if (residual == 2) {
        int64_t zdims[4] = {1, c->M, 1, 1};
        z = rnd_tensor(4, zdims, &s, false);
    }
    if (z) zd = z->data;
    for (int64_t i = 0; i < n; i++) {
        if (residual == 1) r[i] += zd[i];
        if (residual == 2) r[i] += zd[i / plane % c->M];
        if (!strcmp(act, "Relu")) r[i] = r[i] > 0 ? r[i] : 0;
        if (!strcmp(act, "Clip")) r[i] = r[i] < -0.5f ? -0.5f : r[i] > 0.75f ? 0.75f : r[i];
        if (!strcmp(act, "Sigmoid")) r[i] = 1.0f / (1.0f + expf(-r[i]));
    }
    if (!strcmp(act, "Clip")) {
        at[na++] = attr_float_of("activation_min", -0.5f);
        at[na++] = attr_float_of("activation_max", 0.75f);
    }
    if (act[0]) at[na++] = attr_string_of("activation", act);
    ins[3] = z;
    op_node node = {"wino_under_test", op, dom, 17, at, na, residual ? 4 : 3, 1};
    if (packed) {
        size_t bytes = k->packed_size(k, &node, (const strata_tensor *const *)ins);
        int64_t pd[1] = {(int64_t)bytes};
        if (!bytes || strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk) != STRATA_OK ||
            k->pack(k, &node, (const strata_tensor *const *)ins, pk->data) != STRATA_OK) {
            test_fail(__FILE__, __LINE__, "%s pack (%zu bytes): %s", name, bytes, strata_last_error());
            goto done;
        }
        ins[4] = pk;
        at[na++] = attr_int_of("packed_input", 4);
        node.n_attrs = na;
        node.n_inputs = 5;
    }
    if (strata_tensor_create(STRATA_DTYPE_F32, ref->rank, ref->dims, &y) != STRATA_OK) goto done;
    float *yd = y->data;
    for (int64_t i = 0; i < n; i++) yd[i] = NAN; /* the kernel must write every element */
    if (threads > 1 && thread_pool_create(threads, &pool) != STRATA_OK) goto done;
    kernel_ctx ctx = {pool, thread_pool_size(pool)};
    if (g_in_place && residual == 1) {
        if (!k->residual_in_place || k->residual_in_place(&node) != (strcmp(act, "Sigmoid") != 0)) {
            test_fail(__FILE__, __LINE__, "%s: in-place residual allowed wrongly with act '%s'", name, act);
            goto done;
        }
        if (k->residual_in_place(&node)) {
            memcpy(y->data, z->data, y->n_bytes);
            ins[3] = y;
        }
    }
    if (k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", name, strata_last_error());
        goto done;
    }
    const float *mg = mag->data;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)yd[i] - (double)r[i]), tol = 1e-5 * mg[i] + 1e-5;
        double ratio = err / (mg[i] + 1.0);
        if (ratio > worst_ratio) worst_ratio = ratio;
        if (!(err <= tol)) {
            test_fail(__FILE__, __LINE__,
                      "%s N=%lld C=%lld H=%lld W=%lld M=%lld pads=%lld,%lld,%lld,%lld act='%s' res=%d "
                      "packed=%d threads=%d: y[%lld] = %g, expected %g (tol %g)",
                      name, (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W,
                      (long long)c->M, (long long)c->pads[0], (long long)c->pads[1], (long long)c->pads[2],
                      (long long)c->pads[3], act, residual, packed, threads, (long long)i, yd[i], r[i], tol);
            goto done;
        }
    }
    ok = 1;
done:
    thread_pool_destroy(pool);
    strata_tensor_destroy(x), strata_tensor_destroy(w), strata_tensor_destroy(b);
    strata_tensor_destroy(xa), strata_tensor_destroy(wa), strata_tensor_destroy(mag);
    strata_tensor_destroy(ref), strata_tensor_destroy(z), strata_tensor_destroy(y), strata_tensor_destroy(pk);
    return ok;
}

/* Random cases from the required sets; cases whose output would be empty are redrawn. */
static wcase draw(uint64_t *s)
{
    static const int64_t chans[] = {1, 3, 17, 64}, ext[] = {1, 2, 5, 7, 9, 14, 17};
    for (;;) {
        wcase c;
        c.N = rnd(s) > 0.5 ? 3 : 1;
        c.C = chans[(int)((rnd(s) + 1) * 2) % 4];
        c.M = chans[(int)((rnd(s) + 1) * 2) % 4];
        c.H = ext[(int)((rnd(s) + 1) * 3.5) % 7];
        c.W = ext[(int)((rnd(s) + 1) * 3.5) % 7];
        int sym = rnd(s) > -0.2; /* mostly symmetric pads */
        for (int i = 0; i < 4; i++) c.pads[i] = (int64_t)((rnd(s) + 1) * 1.5) % 3;
        if (sym) c.pads[2] = c.pads[0], c.pads[3] = c.pads[1];
        if (c.H + c.pads[0] + c.pads[2] >= 3 && c.W + c.pads[1] + c.pads[3] >= 3) return c;
    }
}

static void sweep(const char *name, int count)
{
    static const char *acts[] = {"", "Relu", "Clip", "Sigmoid"};
    static const wcase fixed[] = {
        {1, 64, 14, 14, 64, {1, 1, 1, 1}},  /* a ResNet-like layer: 16 tiles, exact */
        {3, 17, 17, 9, 3, {2, 0, 1, 2}},    /* asymmetric pads, tails in both directions */
        {1, 3, 1, 1, 17, {1, 1, 1, 1}},     /* 1 x 1 image */
        {2, 64, 28, 28, 33, {1, 1, 1, 1}},  /* several blocks of tiles, M off the tile */
    };
    uint64_t s = 1234;
    int fails = 0;
    for (int i = 0; i < count && fails < 3; i++) {
        wcase c = i < (int)ARRAY_LEN(fixed) ? fixed[i] : draw(&s);
        const char *act = acts[i % 4];
        int residual = i % 5 == 1 ? 1 : i % 5 == 3 ? 2 : 0;
        fails += !wino_check(name, &c, act, residual, (i & 1) == 0, (i / 2) % 2 ? 2 : 1, 77 + (uint64_t)i);
    }
}

/* Exact residuals in the output's memory: the output transform reads each residual element
 * just before it writes the same output element. */
TEST(test_fast_conv_winograd_in_place)
{
    static const char *rows[] = {"conv_f32_winograd__scalar", "conv_f32_winograd__avx2", "conv_f32_winograd__avx512",
                                 "conv_f32_winograd_f2__scalar", "conv_f32_winograd_f2__avx512"};
    static const char *acts[] = {"", "Relu", "Clip", "Sigmoid"};
    static const wcase cases[] = {
        {1, 64, 14, 14, 64, {1, 1, 1, 1}},
        {3, 17, 17, 9, 3, {2, 0, 1, 2}},
        {2, 64, 28, 28, 33, {1, 1, 1, 1}},
        {1, 5, 9, 23, 18, {0, 1, 1, 0}},
    };
    g_in_place = true;
    for (size_t r = 0; r < ARRAY_LEN(rows); r++)
        for (size_t i = 0; i < ARRAY_LEN(cases); i++)
            wino_check(rows[r], &cases[i], acts[i % 4], 1, (i & 1) == 0, i % 3 ? 1 : 2, 4242 + i);
    g_in_place = false;
}

TEST(test_fast_conv_winograd_f2)
{
    sweep("conv_f32_winograd_f2__scalar", 40);
    sweep("conv_f32_winograd_f2__avx2", 40);
    sweep("conv_f32_winograd_f2__avx512", 60);
}

TEST(test_fast_conv_winograd_scalar) { sweep("conv_f32_winograd__scalar", 40); }
TEST(test_fast_conv_winograd_avx2) { sweep("conv_f32_winograd__avx2", 60); }
TEST(test_fast_conv_winograd_avx512) { sweep("conv_f32_winograd__avx512", 60); }

/* The large-block path (64-128 tiles a block, or phased when there are fewer blocks than
 * threads), which by default only layers with 16 MiB or more of transformed weights take. */
TEST(test_fast_conv_winograd_large_blocks)
{
    size_t keep = fast_winograd_u_cached;
    fast_winograd_u_cached = 0;
    sweep("conv_f32_winograd__avx512", 16);
    sweep("conv_f32_winograd__avx2", 8);
    sweep("conv_f32_winograd_f2__avx512", 8);
    fast_winograd_u_cached = keep;
}

/* The measured error stays inside the stated bound: below 5e-6 * (sum|w||x| + 1). */
TEST(test_fast_conv_winograd_error_bound)
{
    static const wcase cases[] = {
        {1, 64, 17, 17, 64, {1, 1, 1, 1}},
        {1, 256, 14, 14, 16, {1, 1, 1, 1}},
        {3, 17, 9, 14, 17, {2, 2, 2, 2}},
    };
    worst_ratio = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        for (int v = 0; v < 2; v++) EXPECT(wino_check("conv_f32_winograd__scalar", &cases[i], "", 0, v, 1, 5 + i));
    EXPECT(worst_ratio < 5e-6); /* measured: 3.5e-6 (C = 256) */
    worst_ratio = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) EXPECT(wino_check("conv_f32_winograd_f2__scalar", &cases[i], "", 0, 1, 1, 9 + i));
    EXPECT(worst_ratio < 2e-6); /* F(2x2,3x3): smaller transforms, smaller error */
}

/* ResNet-50's 7x7 layers at batch 1: F(2x2) supports them (16 tiles), F(4x4) does not (4). */
TEST(test_fast_conv_winograd_f2_takes_small_maps)
{
    int64_t ks[2] = {3, 3}, p1[4] = {1, 1, 1, 1};
    attr at[2] = {attr_ints_of("kernel_shape", ks, 2), attr_ints_of("pads", p1, 4)};
    int64_t xd[4] = {1, 512, 7, 7}, wd[4] = {512, 512, 3, 3};
    strata_tensor x = {0}, w = {0};
    x.dtype = w.dtype = STRATA_DTYPE_F32;
    x.rank = w.rank = 4;
    memcpy(x.dims, xd, sizeof xd);
    memcpy(w.dims, wd, sizeof wd);
    const strata_tensor *ins[2] = {&x, &w};
    op_node node = {"layer4", "Conv", "", 17, at, 2, 2, 1};
    const fast_kernel *f2 = fast_kernel_find("conv_f32_winograd_f2__scalar", "Conv", ""),
                      *f4 = fast_kernel_find("conv_f32_winograd__scalar", "Conv", "");
    EXPECT(f2 && f4);
    if (!f2 || !f4) return;
    EXPECT(f2->supports(&node, ins));
    EXPECT(!f4->supports(&node, ins));
    x.dims[2] = x.dims[3] = 5; /* 9 tiles of 2x2: too few to pay */
    EXPECT(!f2->supports(&node, ins));
}

static bool takes(const char *op, const char *dom, int64_t C, int64_t HW, int64_t M, const attr *at, size_t na)
{
    const fast_kernel *k = fast_kernel_find("conv_f32_winograd__scalar", op, dom);
    int64_t xd[4] = {1, C, HW, HW}, wd[4] = {M, C, 3, 3};
    strata_tensor x = {0}, w = {0};
    x.dtype = w.dtype = STRATA_DTYPE_F32;
    x.rank = w.rank = 4;
    memcpy(x.dims, xd, sizeof xd);
    memcpy(w.dims, wd, sizeof wd);
    const strata_tensor *ins[2] = {&x, &w};
    op_node node = {"which", op, dom, 17, at, na, 2, 1};
    return k && k->supports(&node, ins);
}

TEST(test_fast_conv_winograd_supports)
{
    int64_t ks[2] = {3, 3}, p1[4] = {1, 1, 1, 1}, p3[4] = {3, 3, 3, 3}, s2[2] = {2, 2}, d2[2] = {2, 2};
    attr base[2] = {attr_ints_of("kernel_shape", ks, 2), attr_ints_of("pads", p1, 4)};
    EXPECT(takes("Conv", "", 64, 56, 64, base, 2));
    EXPECT(takes("FusedConv", "com.strata", 128, 28, 128, base, 2));
    attr stride[3] = {base[0], base[1], attr_ints_of("strides", s2, 2)};
    EXPECT(!takes("Conv", "", 64, 56, 64, stride, 3));
    attr dil[3] = {base[0], base[1], attr_ints_of("dilations", d2, 2)};
    EXPECT(!takes("Conv", "", 64, 56, 64, dil, 3));
    attr group[3] = {base[0], base[1], attr_int_of("group", 2)};
    EXPECT(!takes("Conv", "", 64, 56, 64, group, 3));
    attr big_pad[2] = {base[0], attr_ints_of("pads", p3, 4)};
    EXPECT(!takes("Conv", "", 64, 56, 64, big_pad, 2));
    attr nhwc[3] = {base[0], base[1], attr_string_of("layout", "NHWC")};
    EXPECT(!takes("FusedConv", "com.strata", 64, 56, 64, nhwc, 3));
    EXPECT(!takes("Conv", "", 3, 56, 64, base, 2)); /* too few channels to pay */
}

/* Too few packed bytes is an error that names the node, not a crash. */
TEST(test_fast_conv_winograd_rejects_short_packed_weights)
{
    const fast_kernel *k = fast_kernel_find("conv_f32_winograd__scalar", "Conv", "");
    EXPECT(k != NULL);
    uint64_t s = 3;
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {6, 4, 3, 3}, yd[4] = {1, 6, 3, 3}, pd[1] = {64};
    strata_tensor *x = rnd_tensor(4, xd, &s, false), *w = rnd_tensor(4, wd, &s, false), *y = NULL, *pk = NULL;
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
