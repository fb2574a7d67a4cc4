/* bench/bench_winograd.c — conv_f32_winograd__avx512 against conv_f32_gemm__avx512 on ResNet-50's
 * 3x3 stride-1 convolutions (packed weights, session-like scratch arena), alternating A B A B,
 * medians, effective GFLOP/s = 2*N*M*C*9*H*W / time. Built by hand:
 *   cc -O2 -Iinclude -Isrc bench/bench_winograd.c build-w/libstrata.a -ldnnl -lgomp -lcjson \
 *      -lmicrohttpd -lgrpc -lgpr -lprotobuf-c -lm -lpthread -o /tmp/bench_winograd
 *   /tmp/bench_winograd [reps] [row-a] [row-b]
 * With BENCH_WINO_BLOCKS=1, row B runs with fast_winograd_u_cached = 0 (the large blocks of
 * 64-128 tiles every layer had before session 7) and row A with the default (16-tile blocks below
 * 16 MiB of transformed weights): pass the same row twice to compare the two policies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fast.h"
#include "kernels/fast_internal.h"

typedef struct shape {
    int64_t C, HW;
} shape;

static attr ints_attr(const char *name, int64_t *v, size_t n)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = ATTR_INTS;
    a.ints = v;
    a.n = n;
    return a;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One row on one node: packed weights attached, a scratch arena as a session has. */
typedef struct runner {
    const fast_kernel *k;
    strata_tensor *ins[5];
    op_node node;
    attr at[3];
    scratch_arena sc;
} runner;

static int64_t ks[2] = {3, 3}, pads[4] = {1, 1, 1, 1};

static int runner_init(runner *r, const char *name, strata_tensor *x, strata_tensor *w, strata_tensor *b)
{
    memset(r, 0, sizeof *r);
    r->k = fast_kernel_find(name, "Conv", "");
    if (!r->k) return fprintf(stderr, "no row %s\n", name), -1;
    r->ins[0] = x, r->ins[1] = w, r->ins[2] = b;
    r->at[0] = ints_attr("kernel_shape", ks, 2);
    r->at[1] = ints_attr("pads", pads, 4);
    op_node n = {"bench", "Conv", "", 17, r->at, 2, 3, 1};
    r->node = n;
    size_t bytes = r->k->packed_size(r->k, &r->node, (const strata_tensor *const *)r->ins);
    int64_t pd[1] = {(int64_t)bytes};
    strata_tensor *pk = NULL;
    if (strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk) != STRATA_OK ||
        r->k->pack(r->k, &r->node, (const strata_tensor *const *)r->ins, pk->data) != STRATA_OK)
        return fprintf(stderr, "pack %s: %s\n", name, strata_last_error()), -1;
    r->ins[3] = NULL;
    r->ins[4] = pk;
    memset(&r->at[2], 0, sizeof r->at[2]);
    r->at[2].name = (char *)"packed_input";
    r->at[2].type = ATTR_INT;
    r->at[2].i = 4;
    r->node.n_attrs = 3;
    r->node.n_inputs = 5;
    return 0;
}

static double run_once(runner *r, strata_tensor *y, thread_pool *pool)
{
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

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    const char *na = argc > 2 ? argv[2] : "conv_f32_winograd__avx512";
    const char *nb = argc > 3 ? argv[3] : "conv_f32_gemm__avx512";
    static const shape shapes[] = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};
    static const int64_t batches[] = {1, 8};
    printf("%-10s %5s %3s %8s %8s %8s %8s %6s\n", "C=M@HW", "batch", "thr", "A ms", "B ms", "A GF/s", "B GF/s", "B/A");
    for (int tcount = 1; tcount <= 2; tcount++) {
        thread_pool *pool = NULL;
        if (tcount > 1 && thread_pool_create(tcount, &pool) != STRATA_OK) return 1;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (size_t bi = 0; bi < 2; bi++) {
                int64_t C = shapes[si].C, HW = shapes[si].HW, N = batches[bi];
                int64_t xd[4] = {N, C, HW, HW}, wd[4] = {C, C, 3, 3}, bd[1] = {C};
                strata_tensor *x, *w, *b, *y;
                strata_tensor_create(STRATA_DTYPE_F32, 4, xd, &x);
                strata_tensor_create(STRATA_DTYPE_F32, 4, wd, &w);
                strata_tensor_create(STRATA_DTYPE_F32, 1, bd, &b);
                strata_tensor_create(STRATA_DTYPE_F32, 4, xd, &y);
                float *p = x->data;
                for (int64_t i = 0; i < N * C * HW * HW; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f;
                p = w->data;
                for (int64_t i = 0; i < C * C * 9; i++) p[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
                runner ra, rb;
                if (runner_init(&ra, na, x, w, b) || runner_init(&rb, nb, x, w, b)) return 1;
                double ta[64], tb[64];
                int n = reps < 64 ? reps : 64;
                run_once(&ra, y, pool), run_once(&rb, y, pool); /* warm up, size the scratch */
                const char *blocks = getenv("BENCH_WINO_BLOCKS");
                size_t u_default = fast_winograd_u_cached, u_b = blocks && blocks[0] == '1' ? 0 : u_default;
                for (int i = 0; i < n; i++) {
                    fast_winograd_u_cached = u_default;
                    ta[i] = run_once(&ra, y, pool);
                    fast_winograd_u_cached = u_b;
                    tb[i] = run_once(&rb, y, pool);
                }
                fast_winograd_u_cached = u_default;
                qsort(ta, (size_t)n, sizeof ta[0], cmp_d);
                qsort(tb, (size_t)n, sizeof tb[0], cmp_d);
                double flops = 2.0 * (double)(N * C * C * 9 * HW * HW), ma = ta[n / 2], mb = tb[n / 2];
                printf("%4lld@%-5lld %5lld %3d %8.3f %8.3f %8.1f %8.1f %6.2f\n", (long long)C, (long long)HW,
                       (long long)N, tcount, ma * 1e3, mb * 1e3, flops / ma * 1e-9, flops / mb * 1e-9, mb / ma);
                fflush(stdout);
                strata_tensor_destroy(x), strata_tensor_destroy(w), strata_tensor_destroy(b), strata_tensor_destroy(y);
                strata_tensor_destroy(ra.ins[4]), strata_tensor_destroy(rb.ins[4]);
                scratch_release(&ra.sc), scratch_release(&rb.sc);
            }
        thread_pool_destroy(pool);
    }
    return 0;
}
