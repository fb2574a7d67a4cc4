/* tests/kernels/test_fast_conv_dwpw.c — the FusedDwPw rows (fast_conv_dwpw.c: AVX-512, AVX2,
 * portable C) against the reference op on random shapes: channels and outputs off the vector
 * width, 1- to 17-wide images, stride 1 and 2, padding, residual, relu / clip or none, with and
 * without the 1x1 expand in front (input channels off the vector width too) or a stem conv in
 * its place (3x3 and 5x5 windows of 1-4 channels, stride 1-2, padding), batch 1 and 3, 1 and 2
 * threads, packed weights (input 1's values gone) and unpacked; and the reference op itself
 * against a naive double-precision loop. */
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

typedef struct dwpw_case {
    int64_t N, H, W, C, M, stride, pt, pl, pb, pr;
    const char *dw_act, *pw_act; /* "", "Relu", "Clip" */
    bool residual;
    int64_t Cin;                 /* > 0: an expand from Cin channels in front */
    const char *ex_act;
    int64_t ek, es, ep;          /* ek > 1: the expand is a stem, ek x ek, stride es, pads ep; H, W are X's */
} dwpw_case;

/* The depthwise input's extent: X's, or the stem's output. */
static int64_t dw_extent(const dwpw_case *c, int64_t x_extent)
{
    return c->Cin && c->ek > 1 ? (x_extent + 2 * c->ep - c->ek) / c->es + 1 : x_extent;
}

/* The node's inputs and attributes (borrowing c and the arrays in it). */
typedef struct dwpw_node {
    int64_t strides[2], pads[4], ex_strides[2], ex_pads[4], ex_ks[2];
    attr at[20];
    size_t na;
    strata_tensor *x, *wd, *bd, *wp, *bp, *z, *we, *be;
} dwpw_node;

static size_t n_inputs_of(const dwpw_case *c)
{
    return c->Cin ? 8 : c->residual ? 6 : 5;
}

static void node_make(dwpw_node *d, const dwpw_case *c, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    uint64_t s = seed;
    int64_t Hd = dw_extent(c, c->H), Wd = dw_extent(c, c->W), ek = c->ek > 1 ? c->ek : 1;
    int64_t Ho = (Hd + c->pt + c->pb - 3) / c->stride + 1, Wo = (Wd + c->pl + c->pr - 3) / c->stride + 1;
    int64_t xd[4] = {c->N, c->H, c->W, c->Cin ? c->Cin : c->C}, wdd[4] = {c->C, 1, 3, 3}, bdd[1] = {c->C},
            wpd[4] = {c->M, c->C, 1, 1}, bpd[1] = {c->M}, zd[4] = {c->N, Ho, Wo, c->M}, wed[4] = {c->C, c->Cin, ek, ek};
    d->x = rnd_tensor(4, xd, &s), d->wd = rnd_tensor(4, wdd, &s), d->bd = rnd_tensor(1, bdd, &s);
    d->wp = rnd_tensor(4, wpd, &s), d->bp = rnd_tensor(1, bpd, &s);
    d->z = c->residual ? rnd_tensor(4, zd, &s) : NULL;
    d->we = c->Cin ? rnd_tensor(4, wed, &s) : NULL;
    d->be = c->Cin ? rnd_tensor(1, bdd, &s) : NULL;
    if (c->Cin && c->ex_act[0]) d->at[d->na++] = attr_string_of("ex_activation", c->ex_act);
    if (c->Cin && !strcmp(c->ex_act, "Clip")) {
        d->at[d->na++] = attr_float_of("ex_activation_min", 0.0f);
        d->at[d->na++] = attr_float_of("ex_activation_max", 2.0f);
    }
    if (c->Cin && ek > 1) {
        d->ex_strides[0] = d->ex_strides[1] = c->es;
        d->ex_pads[0] = d->ex_pads[1] = d->ex_pads[2] = d->ex_pads[3] = c->ep;
        d->ex_ks[0] = d->ex_ks[1] = ek;
        d->at[d->na++] = attr_ints_of("ex_strides", d->ex_strides, 2);
        d->at[d->na++] = attr_ints_of("ex_pads", d->ex_pads, 4);
        d->at[d->na++] = attr_ints_of("ex_kernel_shape", d->ex_ks, 2);
    }
    d->strides[0] = d->strides[1] = c->stride;
    d->pads[0] = c->pt, d->pads[1] = c->pl, d->pads[2] = c->pb, d->pads[3] = c->pr;
    d->at[d->na++] = attr_ints_of("dw_strides", d->strides, 2);
    d->at[d->na++] = attr_ints_of("dw_pads", d->pads, 4);
    d->at[d->na++] = attr_string_of("layout", "NHWC");
    if (c->dw_act[0]) d->at[d->na++] = attr_string_of("dw_activation", c->dw_act);
    if (!strcmp(c->dw_act, "Clip")) {
        d->at[d->na++] = attr_float_of("dw_activation_min", 0.0f);
        d->at[d->na++] = attr_float_of("dw_activation_max", 1.5f);
    }
    if (c->pw_act[0]) d->at[d->na++] = attr_string_of("pw_activation", c->pw_act);
    if (!strcmp(c->pw_act, "Clip")) {
        d->at[d->na++] = attr_float_of("pw_activation_min", -0.5f);
        d->at[d->na++] = attr_float_of("pw_activation_max", 0.75f);
    }
}

static void node_free(dwpw_node *d)
{
    strata_tensor_destroy(d->x), strata_tensor_destroy(d->wd), strata_tensor_destroy(d->bd);
    strata_tensor_destroy(d->wp), strata_tensor_destroy(d->bp), strata_tensor_destroy(d->z);
    strata_tensor_destroy(d->we), strata_tensor_destroy(d->be);
}

/* The reference op's output (caller destroys), or NULL. */
static strata_tensor *reference(const dwpw_node *d, const dwpw_case *c)
{
    const op_def *def = ref_op_find("com.strata", "FusedDwPw", 1);
    if (!def) {
        test_fail(__FILE__, __LINE__, "no reference FusedDwPw");
        return NULL;
    }
    const strata_tensor *ins[8] = {d->x, d->wd, d->bd, d->wp, d->bp, d->z, d->we, d->be};
    op_node node = {"dwpw_ref", "FusedDwPw", "com.strata", 1, d->at, d->na, n_inputs_of(c), 1};
    strata_tensor shape, *sp = &shape, *y = NULL;
    memset(&shape, 0, sizeof shape);
    strata_status st = def->infer(&node, ins, &sp);
    if (st == STRATA_OK) st = strata_tensor_create(shape.dtype, shape.rank, shape.dims, &y);
    if (st == STRATA_OK) st = def->compute(&node, ins, &y);
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "reference FusedDwPw: %s", strata_last_error());
        strata_tensor_destroy(y);
        return NULL;
    }
    return y;
}

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

static const char *describe(const dwpw_case *c, char *buf, size_t n)
{
    snprintf(buf, n,
             "N=%lld H=%lld W=%lld C=%lld M=%lld s=%lld pads=%lld,%lld,%lld,%lld dw_act='%s' pw_act='%s' res=%d Cin=%lld "
             "ex_act='%s' stem k%lld s%lld p%lld",
             (long long)c->N, (long long)c->H, (long long)c->W, (long long)c->C, (long long)c->M, (long long)c->stride,
             (long long)c->pt, (long long)c->pl, (long long)c->pb, (long long)c->pr, c->dw_act, c->pw_act, c->residual,
             (long long)c->Cin, c->Cin ? c->ex_act : "", (long long)c->ek, (long long)c->es, (long long)c->ep);
    return buf;
}

/* Runs row `name` on case c (packed: input 1 keeps only its dims, the blob at packed_at) and
 * compares with the reference. Returns 1 when it matched or the row cannot run here. */
static int dwpw_check(const char *name, const dwpw_case *c, bool packed, int threads, uint64_t seed)
{
    const fast_kernel *k = fast_kernel_find(name, "FusedDwPw", "com.strata");
    if (!k) {
        test_fail(__FILE__, __LINE__, "no row %s", name);
        return 0;
    }
    if (k->isa & ~cpu_features()) return 1;
    dwpw_node d;
    node_make(&d, c, seed);
    strata_tensor *ref = reference(&d, c), *y = NULL, *pk = NULL;
    thread_pool *pool = NULL;
    int ok = 0;
    char desc[256];
    if (!ref) goto done;
    strata_tensor wd_dims = *d.wd;
    const strata_tensor *ins[9] = {d.x, d.wd, d.bd, d.wp, d.bp, d.z, d.we, d.be, NULL};
    op_node node = {"dwpw_under_test", "FusedDwPw", "com.strata", 1, d.at, d.na, n_inputs_of(c), 1};
    if (!k->supports(&node, ins)) {
        test_fail(__FILE__, __LINE__, "%s does not support %s", name, describe(c, desc, sizeof desc));
        goto done;
    }
    if (packed) {
        size_t bytes = k->packed_size(k, &node, ins);
        int64_t pd[1] = {(int64_t)bytes};
        strata_status st = bytes ? strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk) : STRATA_INTERNAL;
        if (st == STRATA_OK) st = k->pack(k, &node, ins, pk->data);
        if (st != STRATA_OK) {
            test_fail(__FILE__, __LINE__, "%s pack: %s", name, strata_last_error());
            goto done;
        }
        /* the compiler drops input 1's values; without a residual the blob may sit at slot 5 */
        wd_dims.data = NULL;
        wd_dims.free_fn = NULL;
        ins[1] = &wd_dims;
        size_t at = c->Cin ? 8 : c->residual || (seed & 1) ? 6 : 5;
        ins[at] = pk;
        d.at[d.na++] = attr_int_of("packed_input", (int64_t)at);
        node.n_attrs = d.na;
        node.n_inputs = at + 1;
    }
    if (strata_tensor_create(STRATA_DTYPE_F32, ref->rank, ref->dims, &y) != STRATA_OK) goto done;
    float *yd = y->data;
    for (int64_t i = 0; i < strata_tensor_numel(y); i++) yd[i] = NAN; /* the kernel must write every element */
    if (threads > 1 && thread_pool_create(threads, &pool) != STRATA_OK) goto done;
    kernel_ctx ctx = {pool, thread_pool_size(pool)};
    if (k->run(k, &node, ins, &y, &ctx) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s %s: %s", name, describe(c, desc, sizeof desc), strata_last_error());
        goto done;
    }
    /* without an expand the inputs are in [-1, 1]; with one the depthwise input grows with Cin
     * (unclipped): the bound scales with the output's size (an indexing error is of that size) */
    double tol = 4e-6 * (double)(9 * c->C + 8), diff = max_diff(y, ref);
    if (c->Cin) {
        double big = 0;
        for (int64_t i = 0; i < strata_tensor_numel(ref); i++) big = fmax(big, fabs(((const float *)ref->data)[i]));
        tol = 2e-6 * (double)(9 * c->C + c->Cin * (c->ek > 1 ? c->ek * c->ek : 1) + 8) * (1.0 + big);
    }
    if (!(diff <= tol)) {
        test_fail(__FILE__, __LINE__, "%s %s packed=%d threads=%d: max diff %g > %g", name, describe(c, desc, sizeof desc),
                  packed, threads, diff, tol);
        goto done;
    }
    ok = 1;
done:
    thread_pool_destroy(pool);
    node_free(&d);
    strata_tensor_destroy(ref), strata_tensor_destroy(y), strata_tensor_destroy(pk);
    return ok;
}

static const char *const rows[] = {"conv_nhwc_f32_dwpw__avx512", "conv_nhwc_f32_dwpw__avx2", "conv_nhwc_f32_dwpw__scalar"};

/* Case i of a sweep that cycles every listed value (coprime list lengths mix them). */
static dwpw_case sweep_case(int i, uint64_t *s)
{
    static const int64_t Cs[] = {8, 17, 96, 144}, Ms[] = {16, 24, 33}, HWs[] = {1, 5, 14, 17}, Ns[] = {1, 3};
    static const char *const dw_acts[] = {"Clip", "", "Relu"}, *const pw_acts[] = {"", "Clip", "", "Relu", ""};
    static const char *const ex_acts[] = {"Clip", "Relu", "Clip", ""};
    static const int64_t Cins[] = {0, 5, 0, 16, 33};
    dwpw_case c;
    c.C = Cs[i % 4];
    c.M = Ms[i % 3];
    c.H = HWs[(i / 4) % 4];
    c.W = HWs[(int)((uint64_t)(rnd(s) * 1e6 + 1e6) % 4)];
    c.N = Ns[(i / 3) % 2];
    c.stride = 1 + (i / 2) % 2;
    int64_t p = (i / 5) % 3 == 2 ? 0 : 1; /* mostly MobileNet's pad 1; some unpadded, some asymmetric */
    c.pt = c.pl = c.pb = c.pr = p;
    if ((i / 5) % 3 == 1) c.pb = 0, c.pl = 2;
    if (c.H + c.pt + c.pb < 3) c.pb = 3 - c.H - c.pt; /* the window must fit */
    if (c.W + c.pl + c.pr < 3) c.pr = 3 - c.W - c.pl;
    c.dw_act = dw_acts[i % 3];
    c.pw_act = pw_acts[i % 5];
    c.residual = (i / 7) % 2 == 0;
    c.Cin = Cins[i % 5];
    c.ex_act = ex_acts[(i / 5) % 4];
    return c;
}

TEST(test_fast_dwpw_rows_match_reference)
{
    uint64_t s = 7;
    int failures = 0;
    for (int i = 0; i < 90 && failures < 5; i++) {
        dwpw_case c = sweep_case(i, &s);
        for (size_t r = 0; r < ARRAY_LEN(rows); r++)
            for (int packed = 0; packed <= 1; packed++) {
                int threads = 1 + (int)((i + r + (size_t)packed) % 2);
                failures += !dwpw_check(rows[r], &c, packed, threads, 100 + (uint64_t)i);
            }
    }
}

/* A stem conv as the expand: windows of few channels, strides 1-2, padding, odd extents down to
 * a single row (tails of the pixel tiles and of the channel vectors). */
TEST(test_fast_dwpw_stem_rows_match_reference)
{
    static const int64_t Cins[] = {3, 1, 4, 2}, eks[] = {3, 5, 3}, Cs[] = {8, 17, 32}, Ms[] = {16, 24, 33, 5};
    static const int64_t HWs[] = {2, 7, 16, 23, 5};
    static const char *const acts[] = {"Clip", "", "Relu"};
    int failures = 0;
    for (int i = 0; i < 40 && failures < 5; i++) {
        dwpw_case c = {1 + (i % 3 == 2) * 2, HWs[i % 5], HWs[(i / 5 + i) % 5], Cs[i % 3], Ms[i % 4], 1 + (i / 3) % 2, 1, 1,
                       1, 1, acts[i % 3], acts[(i / 2) % 3], (i / 4) % 2 == 0, Cins[i % 4], acts[(i / 3) % 3],
                       eks[i % 3], 1 + (i / 2) % 2, 0};
        c.ep = (i / 6) % c.ek; /* 0 .. ek-1 */
        if (c.Cin * c.ek > 32) c.Cin = 32 / c.ek;
        /* windows must fit: the stem's in X, the depthwise one in the stem's output */
        if (c.H + 2 * c.ep < c.ek) c.H = c.ek;
        if (c.W + 2 * c.ep < c.ek) c.W = c.ek;
        if (dw_extent(&c, c.H) + c.pt + c.pb < 3) c.pb = 3 - dw_extent(&c, c.H) - c.pt;
        if (dw_extent(&c, c.W) + c.pl + c.pr < 3) c.pr = 3 - dw_extent(&c, c.W) - c.pl;
        for (size_t r = 0; r < ARRAY_LEN(rows); r++)
            for (int packed = 0; packed <= 1; packed++) {
                int threads = 1 + (int)((i + r + (size_t)packed) % 2);
                failures += !dwpw_check(rows[r], &c, packed, threads, 500 + (uint64_t)i);
            }
    }
}

/* MobileNetV2's block shapes (batch 1, smaller images where the shape allows) on every row. */
TEST(test_fast_dwpw_mobilenet_shapes)
{
    static const dwpw_case cases[] = {
        {1, 28, 28, 32, 16, 1, 1, 1, 1, 1, "Clip", "", false, 0, "", 0, 0, 0},      /* features.1 (112 -> 28) */
        {1, 28, 28, 96, 24, 2, 1, 1, 1, 1, "Clip", "", false, 0, "", 0, 0, 0},      /* features.2 */
        {1, 14, 14, 144, 24, 1, 1, 1, 1, 1, "Clip", "", true, 0, "", 0, 0, 0},      /* features.3 */
        {1, 14, 14, 192, 32, 1, 1, 1, 1, 1, "Clip", "", true, 0, "", 0, 0, 0},      /* features.5 */
        {1, 14, 14, 384, 64, 1, 1, 1, 1, 1, "Clip", "", true, 0, "", 0, 0, 0},      /* features.8 */
        {1, 14, 14, 576, 96, 2, 1, 1, 1, 1, "Clip", "", false, 0, "", 0, 0, 0},     /* features.14 */
        {2, 7, 7, 960, 160, 1, 1, 1, 1, 1, "Clip", "", true, 0, "", 0, 0, 0},       /* features.15 */
        {1, 7, 7, 960, 320, 1, 1, 1, 1, 1, "Clip", "", false, 0, "", 0, 0, 0},      /* features.17 */
        {1, 28, 28, 96, 24, 2, 1, 1, 1, 1, "Clip", "", false, 16, "Clip", 0, 0, 0}, /* whole blocks: features.2 */
        {1, 14, 14, 144, 24, 1, 1, 1, 1, 1, "Clip", "", true, 24, "Clip", 0, 0, 0}, /* features.3 */
        {2, 14, 14, 144, 32, 2, 1, 1, 1, 1, "Clip", "", false, 24, "Clip", 0, 0, 0}, /* features.4 */
        {1, 14, 14, 576, 160, 2, 1, 1, 1, 1, "Clip", "", false, 96, "Clip", 0, 0, 0}, /* features.14 */
        {1, 56, 56, 32, 16, 1, 1, 1, 1, 1, "Clip", "", false, 3, "Clip", 3, 2, 1}, /* stem + features.1 */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        for (size_t r = 0; r < ARRAY_LEN(rows); r++)
            for (int t = 1; t <= 2; t++) dwpw_check(rows[r], &cases[i], t == 2, t, 300 + i);
}

/* The reference op against a naive loop in double (it is built from the FusedConv references). */
TEST(test_ref_dwpw_matches_naive_loop)
{
    static const dwpw_case cases[] = {
        {2, 5, 7, 3, 4, 1, 1, 1, 1, 1, "Clip", "Relu", true, 0, "", 0, 0, 0},
        {1, 6, 5, 17, 5, 2, 1, 0, 0, 1, "", "Clip", false, 0, "", 0, 0, 0},
        {2, 6, 5, 7, 5, 1, 1, 1, 1, 1, "Clip", "", true, 3, "Clip", 0, 0, 0},
        {1, 7, 6, 5, 4, 2, 1, 0, 1, 1, "", "Relu", false, 4, "", 0, 0, 0},
        {2, 11, 9, 6, 5, 1, 1, 1, 1, 1, "Clip", "", true, 3, "Clip", 3, 2, 1}, /* a stem in front */
        {1, 9, 10, 4, 3, 2, 1, 1, 0, 1, "", "Relu", false, 2, "", 5, 1, 2},
    };
    for (size_t ci = 0; ci < ARRAY_LEN(cases); ci++) {
        const dwpw_case *c = &cases[ci];
        dwpw_node d;
        node_make(&d, c, 11 + ci);
        strata_tensor *y = reference(&d, c);
        if (!y) {
            node_free(&d);
            continue;
        }
        int64_t Ho = y->dims[1], Wo = y->dims[2], C = c->C, M = c->M;
        const float *x = d.x->data, *wd = d.wd->data, *bd = d.bd->data, *wp = d.wp->data, *bp = d.bp->data;
        double worst = 0, *t = mem_alloc((size_t)C * sizeof *t);
        /* the depthwise input: X, or the expand of X (clip 0..2 or none) */
        int64_t H = dw_extent(c, c->H), W = dw_extent(c, c->W), ek = c->ek > 1 ? c->ek : 1;
        double *e = mem_alloc((size_t)(c->N * H * W * C) * sizeof *e);
        for (int64_t p = 0; p < c->N * H * W; p++)
            for (int64_t ch = 0; ch < C; ch++) {
                double v = c->Cin ? 0.0 : x[p * C + ch];
                int64_t n = p / (H * W), eh = p / W % H, ew = p % W;
                for (int64_t i = 0; c->Cin && i < ek; i++)
                    for (int64_t j = 0; j < ek; j++) {
                        int64_t ih = eh * (ek > 1 ? c->es : 1) - c->ep + i, iw = ew * (ek > 1 ? c->es : 1) - c->ep + j;
                        if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                        for (int64_t k = 0; k < c->Cin; k++)
                            v += (double)x[((n * c->H + ih) * c->W + iw) * c->Cin + k] *
                                 ((const float *)d.we->data)[((ch * c->Cin + k) * ek + i) * ek + j];
                    }
                if (c->Cin) {
                    v += ((const float *)d.be->data)[ch];
                    if (!strcmp(c->ex_act, "Clip")) v = v < 0 ? 0 : v > 2 ? 2 : v;
                }
                e[p * C + ch] = v;
            }
        for (int64_t n = 0; n < c->N; n++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    for (int64_t ch = 0; ch < C; ch++) {
                        double v = bd[ch];
                        for (int64_t i = 0; i < 3; i++)
                            for (int64_t j = 0; j < 3; j++) {
                                int64_t ih = oh * c->stride - c->pt + i, iw = ow * c->stride - c->pl + j;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    v += e[((n * H + ih) * W + iw) * C + ch] * wd[ch * 9 + i * 3 + j];
                            }
                        if (!strcmp(c->dw_act, "Clip")) v = v < 0 ? 0 : v > 1.5 ? 1.5 : v;
                        t[ch] = v;
                    }
                    for (int64_t m = 0; m < M; m++) {
                        double v = bp[m];
                        for (int64_t ch = 0; ch < C; ch++) v += t[ch] * wp[m * C + ch];
                        int64_t o = ((n * Ho + oh) * Wo + ow) * M + m;
                        if (d.z) v += ((const float *)d.z->data)[o];
                        if (!strcmp(c->pw_act, "Relu")) v = v > 0 ? v : 0;
                        if (!strcmp(c->pw_act, "Clip")) v = v < -0.5 ? -0.5 : v > 0.75 ? 0.75 : v;
                        double diff = fabs(v - ((const float *)y->data)[o]);
                        if (diff > worst) worst = diff;
                    }
                }
        EXPECT_NEAR(worst, 0.0, 1e-4);
        mem_free(t);
        mem_free(e);
        strata_tensor_destroy(y);
        node_free(&d);
    }
}

/* Bad input: a clear error, not a crash. */
TEST(test_fast_dwpw_refuses_damaged_packed_weights)
{
    const fast_kernel *k = fast_kernel_find("conv_nhwc_f32_dwpw__scalar", "FusedDwPw", "com.strata");
    EXPECT(k != NULL);
    if (!k) return;
    dwpw_case c = {1, 5, 5, 8, 16, 1, 1, 1, 1, 1, "", "", false, 0, "", 0, 0, 0};
    dwpw_node d;
    node_make(&d, &c, 5);
    int64_t pd[1] = {100};
    strata_tensor *pk = NULL, *y = NULL;
    strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk);
    int64_t yd[4] = {1, 5, 5, 16};
    strata_tensor_create(STRATA_DTYPE_F32, 4, yd, &y);
    const strata_tensor *ins[7] = {d.x, d.wd, d.bd, d.wp, d.bp, NULL, pk};
    d.at[d.na++] = attr_int_of("packed_input", 6);
    op_node node = {"dwpw_bad", "FusedDwPw", "com.strata", 1, d.at, d.na, 7, 1};
    kernel_ctx ctx = {NULL, 1};
    EXPECT_STATUS(k->run(k, &node, ins, &y, &ctx), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "packed weights");
    /* a blob packed for the whole block (with an expand) on a node without one */
    dwpw_case ce = c;
    ce.Cin = 4;
    ce.ex_act = "";
    dwpw_node de;
    node_make(&de, &ce, 6);
    const strata_tensor *ins_e[8] = {de.x, de.wd, de.bd, de.wp, de.bp, NULL, de.we, de.be};
    op_node node_e = {"dwpw_whole", "FusedDwPw", "com.strata", 1, de.at, de.na, 8, 1};
    int64_t eb[1] = {(int64_t)k->packed_size(k, &node_e, ins_e)};
    strata_tensor *pe = NULL;
    EXPECT(eb[0] > 0);
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_U8, 1, eb, &pe));
    if (pe) {
        EXPECT_OK(k->pack(k, &node_e, ins_e, pe->data));
        ins[6] = pe;
        EXPECT_STATUS(k->run(k, &node, ins, &y, &ctx), STRATA_INVALID_ARGUMENT);
        EXPECT_STR_CONTAINS(strata_last_error(), "Cin=0");
    }
    strata_tensor_destroy(pe);
    node_free(&de);
    strata_tensor_destroy(pk);
    strata_tensor_destroy(y);
    node_free(&d);
}
