/* bench/bench_nhwc.c — MobileNetV2's NHWC convolutions, one layer at a time, on two kernel rows
 * (packed weights, a session-like scratch arena; BENCH_FLUSH_MB=n writes n MiB between runs to
 * push the layer's own data out of the caches), A B A B, medians.
 * Built by hand:
 *   cc -O2 -Iinclude -Isrc bench/bench_nhwc.c build-m2/libstrata.a -ldnnl -lgomp -lcjson \
 *      -lmicrohttpd -lgrpc -lgpr -lprotobuf-c -lm -lpthread -o /tmp/bench_nhwc
 * (-DBENCH_BASE and objects of another build with fast_conv_nhwc_kernels/_count renamed
 * base_nhwc_kernels/_count: rows "base:NAME" run that build)
 *   /tmp/bench_nhwc BATCH THREADS REPS KIND [row-a [row-b]]
 * KIND: dw (depthwise layers), pw (1x1 layers), all; rows default to the dw / direct AVX-512
 * rows for A and the same (dw) or the GEMM row (pw) for B.                                    */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fast.h"

typedef struct layer {
    const char *name;
    int64_t H, C, M, k, s;
    int dw, res;
} layer;

static const layer layers[] = {
    {"f0 stem", 224, 3, 32, 3, 2, 0, 0},
    {"f1 dw", 112, 32, 32, 3, 1, 1, 0},
    {"f1 pw", 112, 32, 16, 1, 1, 0, 0},
    {"f2 ex", 112, 16, 96, 1, 1, 0, 0},
    {"f2 dw s2", 112, 96, 96, 3, 2, 1, 0},
    {"f2 pj", 56, 96, 24, 1, 1, 0, 0},
    {"f3 ex", 56, 24, 144, 1, 1, 0, 0},
    {"f3 dw", 56, 144, 144, 3, 1, 1, 0},
    {"f3 pj+r", 56, 144, 24, 1, 1, 0, 1},
    {"f4 dw s2", 56, 144, 144, 3, 2, 1, 0},
    {"f4 pj", 28, 144, 32, 1, 1, 0, 0},
    {"f5 ex", 28, 32, 192, 1, 1, 0, 0},
    {"f5 dw", 28, 192, 192, 3, 1, 1, 0},
    {"f5 pj+r", 28, 192, 32, 1, 1, 0, 1},
    {"f7 dw s2", 28, 192, 192, 3, 2, 1, 0},
    {"f7 pj", 14, 192, 64, 1, 1, 0, 0},
    {"f8 ex", 14, 64, 384, 1, 1, 0, 0},
    {"f8 dw", 14, 384, 384, 3, 1, 1, 0},
    {"f8 pj+r", 14, 384, 64, 1, 1, 0, 1},
    {"f11 pj", 14, 384, 96, 1, 1, 0, 0},
    {"f12 ex", 14, 96, 576, 1, 1, 0, 0},
    {"f12 dw", 14, 576, 576, 3, 1, 1, 0},
    {"f12 pj+r", 14, 576, 96, 1, 1, 0, 1},
    {"f14 dw s2", 14, 576, 576, 3, 2, 1, 0},
    {"f14 pj", 7, 576, 160, 1, 1, 0, 0},
    {"f15 ex", 7, 160, 960, 1, 1, 0, 0},
    {"f15 dw", 7, 960, 960, 3, 1, 1, 0},
    {"f15 pj+r", 7, 960, 160, 1, 1, 0, 1},
    {"f17 pj", 7, 960, 320, 1, 1, 0, 0},
    {"f18", 7, 320, 1280, 1, 1, 0, 0},
};

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static attr mk_attr(const char *name, int type)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = type;
    return a;
}

typedef struct runner {
    const fast_kernel *k;
    strata_tensor *ins[6];
    op_node node;
    attr at[10];
    scratch_arena sc;
} runner;

#ifdef BENCH_BASE
/* a second build of the NHWC kernels (symbols renamed), for A/B in one process: rows "base:NAME" */
extern const fast_kernel base_nhwc_kernels[];
extern const size_t base_nhwc_count;
#endif

static const fast_kernel *find_row(const char *name)
{
#ifdef BENCH_BASE
    if (!strncmp(name, "base:", 5)) {
        for (size_t i = 0; i < base_nhwc_count; i++)
            if (!strcmp(base_nhwc_kernels[i].name, name + 5)) return &base_nhwc_kernels[i];
        return NULL;
    }
#endif
    return fast_kernel_find(name, "FusedConv", "com.strata");
}

static int64_t ks[2], strides[2], pads[4];

static int runner_init(runner *r, const char *name, const layer *l, strata_tensor *x, strata_tensor *w,
                       strata_tensor *b, strata_tensor *z)
{
    memset(r, 0, sizeof *r);
    r->k = find_row(name);
    if (!r->k) return fprintf(stderr, "no row %s\n", name), -1;
    r->ins[0] = x, r->ins[1] = w, r->ins[2] = b, r->ins[3] = z;
    size_t na = 0;
    r->at[na] = mk_attr("kernel_shape", ATTR_INTS), r->at[na].ints = ks, r->at[na++].n = 2;
    r->at[na] = mk_attr("strides", ATTR_INTS), r->at[na].ints = strides, r->at[na++].n = 2;
    r->at[na] = mk_attr("pads", ATTR_INTS), r->at[na].ints = pads, r->at[na++].n = 4;
    r->at[na] = mk_attr("group", ATTR_INT), r->at[na++].i = l->dw ? l->C : 1;
    r->at[na] = mk_attr("layout", ATTR_STRING), r->at[na].s = (char *)"NHWC", r->at[na++].s_len = 4;
    if (!l->res && strcmp(l->name, "f1 pw") != 0 && !strstr(l->name, "pj")) {
        r->at[na] = mk_attr("activation", ATTR_STRING), r->at[na].s = (char *)"Clip", r->at[na++].s_len = 4;
        r->at[na] = mk_attr("activation_min", ATTR_FLOAT), r->at[na++].f = 0.0f;
        r->at[na] = mk_attr("activation_max", ATTR_FLOAT), r->at[na++].f = 6.0f;
    }
    op_node n = {"bench", "FusedConv", "com.strata", 1, r->at, na, z ? 4 : 3, 1};
    r->node = n;
    if (!r->k->supports(&r->node, (const strata_tensor *const *)r->ins))
        return fprintf(stderr, "%s does not support %s\n", name, l->name), -1;
    size_t bytes = r->k->packed_size(r->k, &r->node, (const strata_tensor *const *)r->ins);
    int64_t pd[1] = {(int64_t)bytes};
    strata_tensor *pk = NULL;
    if (strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk) != STRATA_OK ||
        r->k->pack(r->k, &r->node, (const strata_tensor *const *)r->ins, pk->data) != STRATA_OK)
        return fprintf(stderr, "pack %s: %s\n", name, strata_last_error()), -1;
    r->ins[4] = pk;
    r->at[na] = mk_attr("packed_input", ATTR_INT), r->at[na++].i = 4;
    r->node.n_attrs = na;
    r->node.n_inputs = 5;
    return 0;
}

static float *flush_buf;
static size_t flush_n;

static double run_once(runner *r, strata_tensor *y, thread_pool *pool)
{
    for (size_t i = 0; i < flush_n; i += 16) flush_buf[i] += 1.0f;
    kernel_ctx ctx = {pool, thread_pool_size(pool)};
    scratch_begin(&r->sc);
    uint64_t t0 = clock_now_ns();
    strata_status st = r->k->run(r->k, &r->node, (const strata_tensor *const *)r->ins, &y, &ctx);
    uint64_t t1 = clock_now_ns();
    scratch_end();
    scratch_reserve(&r->sc);
    if (st != STRATA_OK) fprintf(stderr, "%s: %s\n", r->k->name, strata_last_error());
    return (double)(t1 - t0) * 1e-9;
}

static strata_tensor *filled(int rank, const int64_t *d, int salt)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(STRATA_DTYPE_F32, rank, d, &t) != STRATA_OK) return NULL;
    float *p = t->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) p[i] = (float)(((i + salt) * 7919) % 1000) / 1000.0f - 0.3f;
    return t;
}

int main(int argc, char **argv)
{
    int64_t N = argc > 1 ? atoll(argv[1]) : 8;
    int threads = argc > 2 ? atoi(argv[2]) : 1, reps = argc > 3 ? atoi(argv[3]) : 7;
    const char *kind = argc > 4 ? argv[4] : "all";
    const char *a5 = argc > 5 && argv[5][0] ? argv[5] : NULL, *a6 = argc > 6 && argv[6][0] ? argv[6] : NULL;
    const char *ra_dw = a5 ? a5 : "conv_nhwc_f32_dw__avx512", *rb_dw = a6 ? a6 : ra_dw;
    const char *ra_pw = a5 ? a5 : "conv_nhwc_f32_direct__avx512", *rb_pw = a6 ? a6 : "conv_nhwc_f32_gemm__avx512";
    thread_pool *pool = NULL;
    if (threads > 1 && thread_pool_create(threads, &pool) != STRATA_OK) return 1;
    flush_n = getenv("BENCH_FLUSH_MB") ? (size_t)atoll(getenv("BENCH_FLUSH_MB")) << 20 >> 2 : 0;
    flush_buf = calloc(flush_n, sizeof *flush_buf);
    printf("batch %lld threads %d\n%-10s %8s %8s %6s\n", (long long)N, threads, "layer", "A ms", "B ms", "B/A");
    double sa = 0, sb = 0;
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *l = &layers[li];
        if (!strcmp(kind, "dw") && !l->dw) continue;
        if (!strcmp(kind, "pw") && (l->dw || l->k != 1)) continue;
        if (argc > 7 && !strstr(l->name, argv[7])) continue;
        int64_t Ho = (l->H + 2 * (l->k / 2) - l->k) / l->s + 1;
        int64_t xd[4] = {N, l->H, l->H, l->C}, wd[4] = {l->M, l->dw ? 1 : l->C, l->k, l->k}, bd[1] = {l->M},
                yd[4] = {N, Ho, Ho, l->M};
        ks[0] = ks[1] = l->k, strides[0] = strides[1] = l->s;
        pads[0] = pads[1] = pads[2] = pads[3] = l->k / 2;
        strata_tensor *x = filled(4, xd, 1), *w = filled(4, wd, 2), *b = filled(1, bd, 3), *y = filled(4, yd, 4),
                      *z = l->res ? filled(4, yd, 5) : NULL;
        const char *na = l->dw ? ra_dw : l->k == 1 ? ra_pw : "conv_nhwc_f32_direct__avx512";
        const char *nb = l->dw ? rb_dw : l->k == 1 ? rb_pw : "conv_nhwc_f32_gemm__avx512";
        runner ra, rb;
        if (runner_init(&ra, na, l, x, w, b, z) || runner_init(&rb, nb, l, x, w, b, z)) return 1;
        double ta[64], tb[64];
        int n = reps < 64 ? reps : 64;
        run_once(&ra, y, pool), run_once(&rb, y, pool);
        for (int i = 0; i < n; i++) {
            ta[i] = run_once(&ra, y, pool);
            tb[i] = run_once(&rb, y, pool);
        }
        qsort(ta, (size_t)n, sizeof ta[0], cmp_d);
        qsort(tb, (size_t)n, sizeof tb[0], cmp_d);
        double ma = ta[n / 2], mb = tb[n / 2];
        sa += ma, sb += mb;
        printf("%-10s %8.3f %8.3f %6.2f\n", l->name, ma * 1e3, mb * 1e3, mb / ma);
        fflush(stdout);
        strata_tensor_destroy(x), strata_tensor_destroy(w), strata_tensor_destroy(b), strata_tensor_destroy(y);
        strata_tensor_destroy(z), strata_tensor_destroy(ra.ins[4]), strata_tensor_destroy(rb.ins[4]);
        scratch_release(&ra.sc), scratch_release(&rb.sc);
    }
    printf("%-10s %8.3f %8.3f %6.2f\n", "sum", sa * 1e3, sb * 1e3, sb / sa);
    thread_pool_destroy(pool);
    free(flush_buf);
    return 0;
}
