/* tests/kernels/test_fast_conv_nhwc.c — the NHWC fast kernels (fast_conv_nhwc.c) against the
 * NHWC reference forms (ref/fused.c, which transpose to NCHW and run the ONNX op) on random
 * shapes: channel tails, stride 2, padding, dilation, 1x1 direct, depthwise, the direct rows
 * (pointwise with few outputs, stems), residual, relu/clip, packed and unpacked weights, 1 and 2
 * threads (row bands), activations past 8 MiB (the prefetching paths), every row this CPU runs. */
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

/* The reference com.strata op on ins into a new tensor *out. */
static strata_status ref_run(const op_node *n, strata_tensor **ins, strata_tensor **out)
{
    const op_def *d = ref_op_find("com.strata", n->op_type, 1);
    if (!d) return error_set(STRATA_INTERNAL, "no reference %s", n->op_type);
    *out = mem_calloc(1, sizeof **out);
    if (!*out) return STRATA_OUT_OF_MEMORY;
    strata_status st = d->infer(n, (const strata_tensor *const *)ins, out);
    if (st == STRATA_OK) st = tensor_alloc_data(*out);
    if (st == STRATA_OK) st = d->compute(n, (const strata_tensor *const *)ins, out);
    return st;
}

static double max_diff(const strata_tensor *a, const strata_tensor *b)
{
    if (!a || !b || strata_tensor_numel(a) != strata_tensor_numel(b)) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < strata_tensor_numel(a); i++) {
        double d = fabs((double)((const float *)a->data)[i] - (double)((const float *)b->data)[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

/* When set, check_row runs the rows whose residual_in_place allows it with the residual in
 * the output's memory (the output tensor passed as input 3 too), as the memory plan does. */
static bool g_in_place;

/* Runs row k on node n (inputs ins, n->n_inputs of them, room for one more) against the
 * reference; packs the weights first when asked. */
static void check_row(const fast_kernel *k, op_node *n, attr *at, strata_tensor **ins, bool packed, int threads,
                      const char *what)
{
    if (k->isa & ~cpu_features()) return;
    strata_tensor *ref = NULL, *y = NULL, *pk = NULL;
    thread_pool *pool = NULL;
    size_t n_in = n->n_inputs, n_attrs = n->n_attrs;
    strata_status st = ref_run(n, ins, &ref);
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s: reference: %s", what, strata_last_error());
        goto done;
    }
    if (!k->supports(n, (const strata_tensor *const *)ins)) {
        test_fail(__FILE__, __LINE__, "%s: %s does not support the case", what, k->name);
        goto done;
    }
    if (packed && k->packed_size) {
        size_t bytes = k->packed_size(k, n, (const strata_tensor *const *)ins);
        if (bytes) {
            int64_t pd[1] = {(int64_t)bytes};
            if ((st = strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk)) == STRATA_OK)
                st = k->pack(k, n, (const strata_tensor *const *)ins, pk->data);
            if (st != STRATA_OK) {
                test_fail(__FILE__, __LINE__, "%s: pack: %s", what, strata_last_error());
                goto done;
            }
            size_t at_slot = n->n_inputs < 4 ? 4 : n->n_inputs; /* after an absent Z, as lower.c does */
            ins[at_slot] = pk;
            at[n->n_attrs++] = attr_int_of("packed_input", (int64_t)at_slot);
            n->n_inputs = at_slot + 1;
        }
    }
    if ((st = strata_tensor_create(STRATA_DTYPE_F32, ref->rank, ref->dims, &y)) != STRATA_OK) goto done;
    for (int64_t i = 0; i < strata_tensor_numel(y); i++) ((float *)y->data)[i] = NAN;
    if (threads > 1 && thread_pool_create(threads, &pool) != STRATA_OK) goto done;
    kernel_ctx ctx = {pool, thread_pool_size(pool)};
    strata_tensor *z = n_in >= 4 ? ins[3] : NULL;
    bool in_place = g_in_place && z && k->residual_in_place && k->residual_in_place(n);
    if (in_place) {
        memcpy(y->data, z->data, y->n_bytes);
        ins[3] = y;
    }
    st = k->run(k, n, (const strata_tensor *const *)ins, &y, &ctx);
    if (in_place) ins[3] = z;
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s: %s", what, k->name, strata_last_error());
        goto done;
    }
    double d = max_diff(y, ref);
    if (!(d <= 1e-4)) test_fail(__FILE__, __LINE__, "%s: %s packed=%d threads=%d: max diff %g", what, k->name, packed, threads, d);
done:
    for (size_t i = n_in; i < 6 && pk; i++) ins[i] = i == 3 ? ins[i] : NULL;
    n->n_inputs = n_in;
    n->n_attrs = n_attrs;
    strata_tensor_destroy(ref);
    strata_tensor_destroy(y);
    strata_tensor_destroy(pk);
    thread_pool_destroy(pool);
}

typedef struct nhwc_case {
    int64_t N, H, W, C, M, k, s, p, d, group;
    const char *act;
    bool residual;
} nhwc_case;

/* Runs every row of the case's kind on it; direct rows only when the case is meant for them
 * (direct), and then they must support it. */
static void conv_case_run_rows(const nhwc_case *c, uint64_t seed, bool direct)
{
    static const char *const rows[] = {"conv_nhwc_f32_gemm__avx512", "conv_nhwc_f32_gemm__avx2", "conv_nhwc_f32_gemm__scalar",
                                       "conv_nhwc_f32_dw__avx512", "conv_nhwc_f32_dw__avx2", "conv_nhwc_f32_dw__scalar",
                                       "conv_nhwc_f32_direct__avx512", "conv_nhwc_f32_direct__avx2"};
    uint64_t s = seed;
    int64_t xd[4] = {c->N, c->H, c->W, c->C}, wd[4] = {c->M, c->C / c->group, c->k, c->k}, bd[1] = {c->M};
    strata_tensor *ins[6] = {rnd_tensor(4, xd, &s), rnd_tensor(4, wd, &s), rnd_tensor(1, bd, &s), NULL, NULL, NULL};
    int64_t ks[2] = {c->k, c->k}, st2[2] = {c->s, c->s}, pads[4] = {c->p, c->p, c->p, c->p}, dil[2] = {c->d, c->d};
    attr at[12];
    size_t na = 0;
    at[na++] = attr_ints_of("kernel_shape", ks, 2);
    at[na++] = attr_ints_of("strides", st2, 2);
    at[na++] = attr_ints_of("pads", pads, 4);
    at[na++] = attr_ints_of("dilations", dil, 2);
    at[na++] = attr_int_of("group", c->group);
    at[na++] = attr_string_of("layout", "NHWC");
    if (c->act[0]) at[na++] = attr_string_of("activation", c->act);
    if (!strcmp(c->act, "Clip")) {
        at[na++] = attr_float_of("activation_min", -0.5f);
        at[na++] = attr_float_of("activation_max", 0.75f);
    }
    op_node n = {"conv_nhwc_under_test", "FusedConv", "com.strata", 1, at, na, 3, 1};
    if (c->residual) {
        strata_tensor *shape = NULL;
        if (ref_run(&n, ins, &shape) == STRATA_OK) ins[3] = rnd_tensor(4, shape->dims, &s);
        strata_tensor_destroy(shape);
        n.n_inputs = 4;
    }
    char what[200];
    snprintf(what, sizeof what, "N%lld H%lld W%lld C%lld M%lld k%lld s%lld p%lld d%lld g%lld act'%s' res%d", (long long)c->N,
             (long long)c->H, (long long)c->W, (long long)c->C, (long long)c->M, (long long)c->k, (long long)c->s,
             (long long)c->p, (long long)c->d, (long long)c->group, c->act, c->residual);
    bool dw = c->group > 1;
    for (size_t r = 0; r < ARRAY_LEN(rows); r++) {
        if ((strstr(rows[r], "_dw_") != NULL) != dw) continue;
        if ((strstr(rows[r], "_direct_") != NULL) != direct) continue;
        const fast_kernel *k = fast_kernel_find(rows[r], "FusedConv", "com.strata");
        EXPECT(k != NULL);
        if (!k) continue;
        check_row(k, &n, at, ins, false, 1, what);
        check_row(k, &n, at, ins, true, 2, what);
    }
    for (int i = 0; i < 6; i++) strata_tensor_destroy(ins[i]);
}

static void conv_case_run(const nhwc_case *c, uint64_t seed)
{
    conv_case_run_rows(c, seed, false);
}

TEST(fast_conv_nhwc_gemm_rows_match_reference)
{
    static const nhwc_case cases[] = {
        {1, 7, 7, 5, 3, 1, 1, 0, 1, 1, "", false},          /* 1x1 direct, tails */
        {2, 9, 8, 17, 33, 1, 1, 0, 1, 1, "Relu", true},     /* direct, batch, residual */
        {1, 9, 11, 6, 19, 1, 2, 0, 1, 1, "", false},        /* 1x1 stride 2 */
        {1, 10, 9, 3, 16, 3, 1, 1, 1, 1, "Clip", false},    /* 3x3 pad 1 */
        {2, 13, 12, 7, 21, 3, 2, 1, 1, 1, "Relu", true},    /* stride 2, residual */
        {1, 15, 15, 3, 8, 7, 2, 3, 1, 1, "Relu", false},    /* the ResNet stem */
        {1, 11, 10, 4, 5, 3, 1, 2, 2, 1, "", false},        /* dilation */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) conv_case_run(&cases[i], 77 + i);
}

TEST(fast_conv_nhwc_depthwise_rows_match_reference)
{
    static const nhwc_case cases[] = {
        {1, 8, 7, 5, 5, 3, 1, 1, 1, 5, "", false},
        {2, 9, 9, 19, 19, 3, 2, 1, 1, 19, "Clip", false},
        {1, 12, 11, 40, 40, 3, 1, 1, 1, 40, "Relu", true},
        {1, 10, 10, 33, 33, 5, 2, 2, 1, 33, "Relu", false},
        {1, 9, 8, 16, 16, 3, 1, 2, 2, 16, "", true},
        /* rows wide enough for the 8- and 4-pixel interior steps, stride 1 and 2, tails */
        {1, 7, 29, 33, 33, 3, 1, 1, 1, 33, "Clip", false},
        {2, 9, 26, 21, 21, 3, 2, 1, 1, 21, "Relu", true},
        {1, 6, 23, 16, 16, 3, 2, 0, 1, 16, "", false},
        {1, 5, 31, 8, 8, 3, 1, 0, 1, 8, "Clip", true},
        {1, 4, 40, 5, 5, 3, 1, 1, 1, 5, "", false},
        {1, 9, 35, 48, 48, 3, 2, 1, 1, 48, "Clip", false},
        /* many rows: bands of rows per task on 2 threads */
        {2, 40, 40, 48, 48, 3, 1, 1, 1, 48, "Clip", true},
        {3, 33, 37, 24, 24, 3, 2, 1, 1, 24, "Relu", false},
        /* activations past 8 MiB: the software-prefetch path, channel tails, stride 1 and 2 */
        {2, 66, 66, 300, 300, 3, 1, 1, 1, 300, "Clip", true},
        {2, 80, 79, 200, 200, 3, 2, 1, 1, 200, "Relu", false},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) conv_case_run(&cases[i], 191 + i);
}

TEST(fast_conv_nhwc_direct_rows_match_reference)
{
    static const nhwc_case cases[] = {
        {1, 7, 7, 5, 3, 1, 1, 0, 1, 1, "", false},           /* pointwise, tiny */
        {2, 9, 8, 17, 33, 1, 1, 0, 1, 1, "Relu", true},      /* batch, residual, 3 column vectors */
        {1, 13, 11, 32, 16, 1, 1, 0, 1, 1, "", false},       /* N = 16 */
        {1, 12, 13, 144, 24, 1, 1, 0, 1, 1, "Clip", true},   /* N = 24, residual */
        {1, 21, 19, 40, 32, 1, 1, 0, 1, 1, "Clip", false},   /* N = 32, many row tiles */
        {2, 9, 7, 9, 70, 1, 1, 0, 1, 1, "Relu", false},      /* two column blocks, tail */
        {1, 5, 6, 7, 100, 1, 1, 0, 1, 1, "", true},          /* column blocks of 64 + 36 (avx2: 16s + 4) */
        {1, 4, 5, 16, 200, 1, 1, 0, 1, 1, "Clip", false},    /* four column blocks */
        {1, 9, 11, 6, 19, 1, 2, 0, 1, 1, "", false},         /* 1x1 stride 2 (row path) */
        {1, 6, 7, 5, 9, 1, 1, 1, 1, 1, "Relu", false},       /* 1x1 padded: border pixels */
        {1, 15, 15, 3, 32, 3, 2, 1, 1, 1, "Clip", false},    /* the MobileNet stem */
        {2, 13, 12, 3, 21, 3, 2, 1, 1, 1, "Relu", true},     /* stem, tails, residual */
        {1, 10, 9, 3, 16, 3, 1, 1, 1, 1, "Clip", false},     /* 3x3 stride 1 */
        {1, 15, 15, 3, 8, 7, 2, 3, 1, 1, "Relu", false},     /* the ResNet stem */
        {1, 11, 30, 8, 40, 3, 1, 0, 1, 1, "", false},        /* no padding, wide rows */
        {1, 3, 4, 3, 5, 5, 1, 1, 1, 1, "", false},           /* window larger than the image */
        /* activations past 8 MiB: the software-prefetch path (tiles of the next pixels) */
        {2, 70, 70, 200, 40, 1, 1, 0, 1, 1, "", true},       /* projection-like, residual, tails */
        {1, 112, 111, 24, 150, 1, 1, 0, 1, 1, "Clip", false}, /* expansion-like */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) conv_case_run_rows(&cases[i], 311 + i, true);
}

/* The residual cases of the GEMM and direct rows again, the residual in the output's memory. */
TEST(fast_conv_nhwc_rows_in_place)
{
    static const nhwc_case gemm[] = {
        {2, 9, 8, 17, 33, 1, 1, 0, 1, 1, "Relu", true},      /* direct GEMM path, batch */
        {2, 13, 12, 7, 21, 3, 2, 1, 1, 1, "Relu", true},     /* im2col, stride 2 */
        {1, 6, 5, 300, 20, 1, 1, 0, 1, 1, "Clip", true},     /* K = 300 > one K block */
        {1, 7, 7, 9, 11, 3, 1, 1, 1, 1, "", true},           /* no activation */
    };
    static const nhwc_case direct[] = {
        {2, 9, 8, 17, 33, 1, 1, 0, 1, 1, "Relu", true},
        {1, 12, 13, 144, 24, 1, 1, 0, 1, 1, "Clip", true},
        {1, 5, 6, 7, 100, 1, 1, 0, 1, 1, "", true},
        {2, 13, 12, 3, 21, 3, 2, 1, 1, 1, "Relu", true},     /* stem rows, border pixels */
        {2, 70, 70, 200, 40, 1, 1, 0, 1, 1, "", true},       /* prefetching tiles */
    };
    g_in_place = true;
    for (size_t i = 0; i < ARRAY_LEN(gemm); i++) conv_case_run_rows(&gemm[i], 1311 + i, false);
    for (size_t i = 0; i < ARRAY_LEN(direct); i++) conv_case_run_rows(&direct[i], 1411 + i, true);
    g_in_place = false;
}

static void pool_case(const char *op, const char *row, int64_t N, int64_t H, int64_t W, int64_t C, int64_t k,
                      int64_t s, int64_t p, int64_t ceil_mode, int64_t include_pad, uint64_t seed)
{
    uint64_t sd = seed;
    int64_t xd[4] = {N, H, W, C};
    strata_tensor *ins[3] = {rnd_tensor(4, xd, &sd), NULL, NULL};
    int64_t ks[2] = {k, k}, st2[2] = {s, s}, pads[4] = {p, p, p, p};
    attr at[8];
    size_t na = 0;
    at[na++] = attr_string_of("layout", "NHWC");
    if (strcmp(op, "GlobalAveragePool") != 0) {
        at[na++] = attr_ints_of("kernel_shape", ks, 2);
        at[na++] = attr_ints_of("strides", st2, 2);
        at[na++] = attr_ints_of("pads", pads, 4);
        at[na++] = attr_int_of("ceil_mode", ceil_mode);
        if (!strcmp(op, "AveragePool")) at[na++] = attr_int_of("count_include_pad", include_pad);
    }
    op_node n = {"pool_nhwc_under_test", op, "com.strata", 1, at, na, 1, 1};
    const fast_kernel *kr = fast_kernel_find(row, op, "com.strata");
    EXPECT(kr != NULL);
    char what[160];
    snprintf(what, sizeof what, "%s N%lld H%lld W%lld C%lld k%lld s%lld p%lld ceil%lld pad%lld", op, (long long)N,
             (long long)H, (long long)W, (long long)C, (long long)k, (long long)s, (long long)p, (long long)ceil_mode,
             (long long)include_pad);
    if (kr) {
        check_row(kr, &n, at, ins, false, 1, what);
        check_row(kr, &n, at, ins, false, 2, what);
    }
    strata_tensor_destroy(ins[0]);
}

TEST(fast_conv_nhwc_pool_rows_match_reference)
{
    pool_case("MaxPool", "maxpool_nhwc_f32__scalar", 1, 12, 12, 17, 3, 2, 1, 0, 0, 5);
    pool_case("MaxPool", "maxpool_nhwc_f32__scalar", 2, 9, 10, 5, 2, 2, 0, 1, 0, 6);
    pool_case("AveragePool", "avgpool_nhwc_f32__scalar", 1, 9, 9, 7, 3, 2, 1, 0, 0, 7);
    pool_case("AveragePool", "avgpool_nhwc_f32__scalar", 1, 9, 9, 7, 3, 2, 1, 0, 1, 8);
    pool_case("AveragePool", "avgpool_nhwc_f32__scalar", 2, 8, 7, 3, 3, 2, 1, 1, 1, 9);
    pool_case("GlobalAveragePool", "gap_nhwc_f32__scalar", 2, 7, 5, 19, 0, 0, 0, 0, 0, 10);
    pool_case("GlobalAveragePool", "gap_nhwc_f32__scalar", 3, 1, 3, 48, 0, 0, 0, 0, 0, 11); /* whole blocks */
    pool_case("GlobalAveragePool", "gap_nhwc_f32__scalar", 1, 4, 4, 7, 0, 0, 0, 0, 0, 12);  /* tail only */
    pool_case("GlobalAveragePool", "gap_nhwc_f32__scalar", 2, 3, 2, 2100, 0, 0, 0, 0, 0, 13); /* past one chunk */
    pool_case("GlobalAveragePool", "gap_nhwc_f32__avx512", 2, 7, 5, 19, 0, 0, 0, 0, 0, 14);   /* 16 + tail */
    pool_case("GlobalAveragePool", "gap_nhwc_f32__avx512", 3, 1, 3, 48, 0, 0, 0, 0, 0, 15);   /* whole vectors */
    pool_case("GlobalAveragePool", "gap_nhwc_f32__avx512", 1, 4, 4, 7, 0, 0, 0, 0, 0, 16);    /* tail only */
    pool_case("GlobalAveragePool", "gap_nhwc_f32__avx512", 2, 7, 7, 1290, 0, 0, 0, 0, 0, 17); /* 128-blocks + tails */
}
