/* tests/kernels/test_dnnl_conv.c — the oneDNN convolution tactics (kernels/dnnl/conv.c) against
 * the reference Conv / FusedConv (+ residual and activation) on random shapes: channels off the
 * 16-lane block (3, 17), odd sizes, strides 1/2, asymmetric pads, dilation 2, groups (1, 2,
 * depthwise), batch 1 and 3, NCHW and NHWC, packed and plain weights, 1 and 2 threads; bf16 rows
 * within the bf16 rounding bound; a damaged packed header refused with a clear error. */
#include <math.h>
#include <string.h>

#include "kernels/fast.h"
#include "op_harness.h"
#include "test.h"

static strata_tensor *rnd_tensor(int rank, const int64_t *dims, uint64_t *s)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(STRATA_DTYPE_F32, rank, dims, &t) != STRATA_OK) return NULL;
    float *d = t->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        d[i] = (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
    return t;
}

static strata_tensor *abs_copy(const strata_tensor *t)
{
    strata_tensor *a = NULL;
    if (strata_tensor_create(STRATA_DTYPE_F32, t->rank, t->dims, &a) != STRATA_OK) return NULL;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) ((float *)a->data)[i] = fabsf(((const float *)t->data)[i]);
    return a;
}

/* The reference op of node n (Conv at opset 17, or com.strata FusedConv) on ins into *out. */
static strata_status ref_run(const op_node *n, strata_tensor **ins, strata_tensor **out)
{
    const op_def *d = ref_op_find(n->domain, n->op_type, n->domain[0] ? 1 : 17);
    if (!d) return error_set(STRATA_INTERNAL, "no reference %s", n->op_type);
    *out = mem_calloc(1, sizeof **out);
    if (!*out) return STRATA_OUT_OF_MEMORY;
    strata_status st = d->infer(n, (const strata_tensor *const *)ins, out);
    if (st == STRATA_OK) st = tensor_alloc_data(*out);
    if (st == STRATA_OK) st = d->compute(n, (const strata_tensor *const *)ins, out);
    return st;
}

typedef struct conv_case {
    int64_t N, C, H, W, M, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, group;
} conv_case;

/* N C H W M kh kw sh sw pt pl pb pr dh dw group */
static const conv_case cases[] = {
    {1, 3, 9, 11, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},       /* 1x1, 3 channels */
    {3, 17, 7, 9, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      /* batch 3, 17 channels */
    {1, 17, 13, 10, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},    /* stride 2, odd sizes */
    {1, 3, 23, 19, 16, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1},     /* conv1-like 7x7 s2 p3 */
    {1, 34, 11, 11, 18, 3, 3, 1, 1, 0, 1, 2, 1, 1, 1, 2},    /* asymmetric pads, 2 groups */
    {1, 6, 10, 12, 8, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2},      /* dilation 2, 2 groups */
    {3, 17, 9, 7, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 17},     /* depthwise, stride 2, batch 3 */
    {1, 32, 15, 15, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32},   /* depthwise 32 */
    {1, 64, 7, 7, 40, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},      /* 1x1 stride 2 */
    {2, 48, 5, 6, 20, 3, 2, 1, 3, 0, 1, 0, 1, 1, 1, 1},      /* uneven kernel and strides */
};

typedef struct variant {
    const char *act;
    bool residual, packed, nhwc;
    int threads;
} variant;

/* When set, a residual shares the output's memory (the output tensor is input 3 too), as the
 * memory plan arranges where the row's residual_in_place allows it. */
static bool g_in_place;

/* Runs row `name` on case c with variant v and compares with the reference: f32 within
 * 3e-6 * (taps + 4); bf16 within 2^-7 * sum|w||x| per output (x1.2 for the activation's slope)
 * and a cosine of at least 0.9999. Returns 1 when it matched or the row cannot run here. */
static int check(const char *name, const conv_case *c, const variant *v, uint64_t seed)
{
    bool fused = v->act[0] || v->residual || v->nhwc;
    const char *op = fused ? "FusedConv" : "Conv", *dom = fused ? "com.strata" : "";
    const fast_kernel *k = fast_kernel_find(name, op, dom);
    if (!k) {
        test_fail(__FILE__, __LINE__, "no row %s for %s", name, op);
        return 0;
    }
    if (k->isa & ~cpu_features()) return 1;
    bool bf16 = fast_kernel_is_bf16(k);
    uint64_t s = seed;
    int64_t xd[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->M, c->C / c->group, c->kh, c->kw}, bd[1] = {c->M};
    if (v->nhwc) xd[1] = c->H, xd[2] = c->W, xd[3] = c->C;
    strata_tensor *ins[6] = {rnd_tensor(4, xd, &s), rnd_tensor(4, wd, &s), rnd_tensor(1, bd, &s), NULL, NULL, NULL};
    strata_tensor *ref = NULL, *bound = NULL, *y = NULL, *pk = NULL, *xa = NULL, *wa = NULL;
    int64_t ks[2] = {c->kh, c->kw}, st2[2] = {c->sh, c->sw}, pads[4] = {c->pt, c->pl, c->pb, c->pr}, dil[2] = {c->dh, c->dw};
    attr at[12];
    size_t na = 0;
    at[na++] = attr_ints_of("kernel_shape", ks, 2);
    at[na++] = attr_ints_of("strides", st2, 2);
    at[na++] = attr_ints_of("pads", pads, 4);
    at[na++] = attr_ints_of("dilations", dil, 2);
    at[na++] = attr_int_of("group", c->group);
    if (v->nhwc) at[na++] = attr_string_of("layout", "NHWC");
    size_t na_geom = na;
    if (v->act[0]) at[na++] = attr_string_of("activation", v->act);
    if (!strcmp(v->act, "Clip")) {
        at[na++] = attr_float_of("activation_min", -0.5f);
        at[na++] = attr_float_of("activation_max", 0.75f);
    }
    if (!strcmp(v->act, "LeakyRelu")) at[na++] = attr_float_of("activation_alpha", 0.2f);
    op_node n = {"conv_under_test", op, dom, fused ? 1 : 17, at, na, 3, 1};
    thread_pool *pool = NULL;
    int ok = 0;
    char what[240];
    snprintf(what, sizeof what, "%s %s N%lld C%lld H%lld W%lld M%lld k%lldx%lld s%lldx%lld p%lld,%lld,%lld,%lld d%lldx%lld g%lld act'%s' res%d packed%d threads%d",
             name, op, (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->M, (long long)c->kh,
             (long long)c->kw, (long long)c->sh, (long long)c->sw, (long long)c->pt, (long long)c->pl, (long long)c->pb,
             (long long)c->pr, (long long)c->dh, (long long)c->dw, (long long)c->group, v->act, v->residual, v->packed, v->threads);
    strata_status st;
    if (v->residual) {
        strata_tensor *shape = NULL;
        if (ref_run(&n, ins, &shape) == STRATA_OK) ins[3] = rnd_tensor(4, shape->dims, &s);
        strata_tensor_destroy(shape);
        n.n_inputs = 4;
    }
    if ((st = ref_run(&n, ins, &ref)) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s: reference: %s", what, strata_last_error());
        goto done;
    }
    if (bf16) { /* sum |w||x| per output: the same conv on absolute values, no bias/residual/act */
        xa = abs_copy(ins[0]), wa = abs_copy(ins[1]);
        strata_tensor *abs_in[3] = {xa, wa, NULL};
        op_node an = n;
        an.n_attrs = na_geom;
        an.n_inputs = 2;
        if ((st = ref_run(&an, abs_in, &bound)) != STRATA_OK) {
            test_fail(__FILE__, __LINE__, "%s: bound: %s", what, strata_last_error());
            goto done;
        }
    }
    if (!k->supports(&n, (const strata_tensor *const *)ins)) {
        test_fail(__FILE__, __LINE__, "%s: not supported", what);
        goto done;
    }
    if (v->packed) {
        size_t bytes = k->packed_size(k, &n, (const strata_tensor *const *)ins);
        if (!bytes) {
            test_fail(__FILE__, __LINE__, "%s: nothing to pack", what);
            goto done;
        }
        int64_t pd[1] = {(int64_t)bytes};
        if ((st = strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk)) == STRATA_OK) st = k->pack(k, &n, (const strata_tensor *const *)ins, pk->data);
        if (st != STRATA_OK) {
            test_fail(__FILE__, __LINE__, "%s: pack: %s", what, strata_last_error());
            goto done;
        }
        ins[4] = pk; /* after an absent Z, as lower.c does */
        at[na++] = attr_int_of("packed_input", 4);
        n.n_attrs = na;
        n.n_inputs = 5;
    }
    if ((st = strata_tensor_create(STRATA_DTYPE_F32, ref->rank, ref->dims, &y)) != STRATA_OK) goto done;
    for (int64_t i = 0; i < strata_tensor_numel(y); i++) ((float *)y->data)[i] = NAN; /* every element must be written */
    if (v->threads > 1 && thread_pool_create(v->threads, &pool) != STRATA_OK) goto done;
    kernel_ctx ctx = {pool, thread_pool_size(pool)};
    strata_tensor *z = ins[3];
    if (g_in_place && z) {
        if (!k->residual_in_place || !k->residual_in_place(&n)) {
            test_fail(__FILE__, __LINE__, "%s: no in-place residual", what);
            goto done;
        }
        memcpy(y->data, z->data, y->n_bytes);
        ins[3] = y;
    }
    if (v->packed) { /* the plan drops the plain weights: the row must read only their dims */
        strata_tensor shape_only = *ins[1];
        shape_only.data = NULL;
        strata_tensor *keep = ins[1];
        ins[1] = &shape_only;
        st = k->run(k, &n, (const strata_tensor *const *)ins, &y, &ctx);
        ins[1] = keep;
    } else {
        st = k->run(k, &n, (const strata_tensor *const *)ins, &y, &ctx);
    }
    ins[3] = z;
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", what, strata_last_error());
        goto done;
    }
    const float *got = y->data, *want = ref->data;
    double taps = (double)(c->C / c->group * c->kh * c->kw), dot = 0, g2 = 0, w2 = 0;
    for (int64_t i = 0; i < strata_tensor_numel(y); i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double tol = bf16 ? 1.2 * ldexp(((const float *)bound->data)[i], -7) + 1e-5 : 3e-6 * (taps + 4);
        if (!(d <= tol)) {
            test_fail(__FILE__, __LINE__, "%s: element %lld got %g want %g (tolerance %g)", what, (long long)i, got[i], want[i], tol);
            goto done;
        }
        dot += (double)got[i] * want[i], g2 += (double)got[i] * got[i], w2 += (double)want[i] * want[i];
    }
    if (bf16 && w2 > 0 && !(dot / sqrt(g2 * w2) >= 0.9999)) {
        test_fail(__FILE__, __LINE__, "%s: cosine %.6f < 0.9999", what, dot / sqrt(g2 * w2));
        goto done;
    }
    ok = 1;
done:
    thread_pool_destroy(pool);
    for (int i = 0; i < 4; i++) strata_tensor_destroy(ins[i]);
    strata_tensor_destroy(ref), strata_tensor_destroy(bound), strata_tensor_destroy(y), strata_tensor_destroy(pk);
    strata_tensor_destroy(xa), strata_tensor_destroy(wa);
    return ok;
}

static void sweep(const char *name, bool nhwc)
{
    int fails = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases) && fails < 3; i++)
        for (int vi = 0; vi < 8 && fails < 3; vi++) {
            variant v = {vi % 3 == 0 ? "" : vi % 3 == 1 ? "Relu" : "Clip", (vi & 2) != 0, (vi & 1) == 0, nhwc, vi & 4 ? 2 : 1};
            fails += !check(name, &cases[i], &v, 300 + i * 17 + (uint64_t)vi);
        }
}

/* Residuals in the output's memory: NCHW (blocked copies; image slices and, on 2 threads,
 * bands of rows) and NHWC (the copy into dst skipped). */
TEST(test_dnnl_conv_f32_in_place)
{
    int fails = 0;
    g_in_place = true;
    for (size_t i = 0; i < ARRAY_LEN(cases) && fails < 3; i++)
        for (int vi = 0; vi < 4 && fails < 3; vi++) {
            variant v = {vi % 2 ? "Relu" : "", true, vi < 2, false, 1 + (int)(i % 2)};
            fails += !check("conv_f32__dnnl", &cases[i], &v, 700 + i * 5 + (uint64_t)vi);
            v.nhwc = true;
            fails += !check("conv_nhwc_f32__dnnl", &cases[i], &v, 800 + i * 5 + (uint64_t)vi);
        }
    g_in_place = false;
}

TEST(test_dnnl_conv_f32_nchw) { sweep("conv_f32__dnnl", false); }
TEST(test_dnnl_conv_f32_nhwc) { sweep("conv_nhwc_f32__dnnl", true); }
TEST(test_dnnl_conv_bf16_nchw) { sweep("conv_bf16__dnnl", false); }
TEST(test_dnnl_conv_bf16_nhwc) { sweep("conv_nhwc_bf16__dnnl", true); }

/* Every activation the fused ops name, as a oneDNN eltwise post-op, with and without residual. */
TEST(test_dnnl_conv_activations)
{
    static const char *const acts[] = {"Relu", "Clip", "Sigmoid", "LeakyRelu", "Tanh", "Gelu", "Silu"};
    static const char *const rows[][2] = {{"conv_f32__dnnl", "conv_nhwc_f32__dnnl"}, {"conv_bf16__dnnl", "conv_nhwc_bf16__dnnl"}};
    for (size_t a = 0; a < ARRAY_LEN(acts); a++)
        for (int r = 0; r < 2; r++)
            for (int layout = 0; layout < 2; layout++) {
                variant v = {acts[a], (a & 1) != 0, (a & 2) != 0, layout == 1, 1 + (int)(a & 1)};
                check(rows[r][layout], &cases[2], &v, 900 + a);
            }
}

/* A residual that broadcasts ([1, M, 1, 1] over [N, M, Ho, Wo]) is added after the primitive. */
TEST(test_dnnl_conv_broadcast_residual)
{
    const char *const names[] = {"conv_f32__dnnl", "conv_bf16__dnnl"};
    for (int r = 0; r < 2; r++) {
        const fast_kernel *k = fast_kernel_find(names[r], "FusedConv", "com.strata");
        EXPECT(k != NULL);
        if (!k || (k->isa & ~cpu_features())) continue;
        uint64_t s = 41;
        int64_t xd[4] = {2, 5, 6, 7}, wd[4] = {4, 5, 3, 3}, zd[4] = {1, 4, 1, 1}, ks[2] = {3, 3};
        strata_tensor *ins[4] = {rnd_tensor(4, xd, &s), rnd_tensor(4, wd, &s), NULL, rnd_tensor(4, zd, &s)};
        attr at[2] = {attr_ints_of("kernel_shape", ks, 2), attr_string_of("activation", "Relu")};
        op_node n = {"bcast", "FusedConv", "com.strata", 1, at, 2, 4, 1};
        strata_tensor *ref = NULL, *y = NULL;
        EXPECT_OK(ref_run(&n, ins, &ref));
        EXPECT(k->supports(&n, (const strata_tensor *const *)ins));
        EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 4, ref->dims, &y));
        kernel_ctx ctx = {NULL, 1};
        EXPECT_OK(k->run(k, &n, (const strata_tensor *const *)ins, &y, &ctx));
        double worst = 0;
        for (int64_t i = 0; i < strata_tensor_numel(y); i++)
            worst = fmax(worst, fabs((double)((float *)y->data)[i] - (double)((float *)ref->data)[i]));
        EXPECT(worst <= (r ? 0.1 : 1e-4));
        for (int i = 0; i < 4; i++) strata_tensor_destroy(ins[i]);
        strata_tensor_destroy(ref), strata_tensor_destroy(y);
    }
}

/* Rows take only their layout: NCHW rows refuse NHWC nodes and the reverse. */
TEST(test_dnnl_conv_layout_rows)
{
    uint64_t s = 5;
    int64_t xd[4] = {1, 8, 5, 5}, xhd[4] = {1, 5, 5, 8}, wd[4] = {4, 8, 1, 1};
    strata_tensor *ins[2] = {rnd_tensor(4, xd, &s), rnd_tensor(4, wd, &s)};
    strata_tensor *hins[2] = {rnd_tensor(4, xhd, &s), ins[1]};
    attr nhwc[1] = {attr_string_of("layout", "NHWC")};
    op_node plain = {"plain", "FusedConv", "com.strata", 1, NULL, 0, 2, 1};
    op_node channels_last = {"nhwc", "FusedConv", "com.strata", 1, nhwc, 1, 2, 1};
    const fast_kernel *f = fast_kernel_find("conv_f32__dnnl", "FusedConv", "com.strata");
    const fast_kernel *h = fast_kernel_find("conv_nhwc_f32__dnnl", "FusedConv", "com.strata");
    EXPECT(f && h);
    if (f && h) {
        EXPECT(f->supports(&plain, (const strata_tensor *const *)ins));
        EXPECT(!f->supports(&channels_last, (const strata_tensor *const *)hins));
        EXPECT(!h->supports(&plain, (const strata_tensor *const *)ins));
        EXPECT(h->supports(&channels_last, (const strata_tensor *const *)hins));
        EXPECT(fast_kernel_is_bf16(fast_kernel_find("conv_bf16__dnnl", "Conv", "")));
        EXPECT(!fast_kernel_is_bf16(f));
    }
    strata_tensor_destroy(ins[0]), strata_tensor_destroy(ins[1]), strata_tensor_destroy(hins[0]);
}

/* A damaged or short packed blob is refused with an error that says to recompile, not run. */
TEST(test_dnnl_conv_rejects_damaged_packed_header)
{
    const fast_kernel *k = fast_kernel_find("conv_f32__dnnl", "Conv", "");
    EXPECT(k != NULL);
    if (!k) return;
    uint64_t s = 3;
    int64_t xd[4] = {1, 16, 5, 5}, wd[4] = {32, 16, 3, 3}, yd[4] = {1, 32, 3, 3}, ks[2] = {3, 3};
    strata_tensor *x = rnd_tensor(4, xd, &s), *w = rnd_tensor(4, wd, &s), *y = NULL, *pk = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 4, yd, &y));
    attr at[2] = {attr_ints_of("kernel_shape", ks, 2), attr_int_of("packed_input", 4)};
    strata_tensor *ins[5] = {x, w, NULL, NULL, NULL};
    op_node node = {"damaged", "Conv", "", 17, at, 1, 2, 1};
    size_t bytes = k->packed_size(k, &node, (const strata_tensor *const *)ins);
    EXPECT(bytes > 0);
    int64_t pd[1] = {(int64_t)bytes};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk));
    EXPECT_OK(k->pack(k, &node, (const strata_tensor *const *)ins, pk->data));
    ins[4] = pk;
    node.n_attrs = 2, node.n_inputs = 5;
    kernel_ctx ctx = {NULL, 1};
    EXPECT_OK(k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx)); /* intact: runs */
    ((uint8_t *)pk->data)[20] ^= 0x40;                                         /* a header byte */
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "damaged");
    EXPECT_STR_CONTAINS(strata_last_error(), "recompile the plan");
    ((uint8_t *)pk->data)[20] ^= 0x40;
    pk->dims[0] = 100; /* truncated */
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)ins, &y, &ctx), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "recompile the plan");
    pk->dims[0] = pd[0];
    wd[0] = 16; /* weights of another node */
    strata_tensor *w2 = rnd_tensor(4, wd, &s);
    int64_t yd2[4] = {1, 16, 3, 3};
    strata_tensor *y2 = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 4, yd2, &y2));
    ins[1] = w2;
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)ins, &y2, &ctx), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "do not describe");
    strata_tensor_destroy(x), strata_tensor_destroy(w), strata_tensor_destroy(w2), strata_tensor_destroy(y),
        strata_tensor_destroy(y2), strata_tensor_destroy(pk);
}
