/* bench/bench_kernels.c — kernel benchmark: this machine's measured FMA peak (a tight loop of
 * independent FMAs, 1 and 2 threads) and f32 GEMM GFLOP/s per ISA, thread count and shape
 * (squares, ResNet-50 / MobileNetV2 convolutions as GEMM, BERT-base projections), unpacked, with
 * B prepacked and with A prepacked (the convolution path), median of several runs,
 * beside oneDNN's dnnl_sgemm and OpenBLAS's cblas_sgemm when those libraries can be dlopen'ed.
 *
 * Build (after `make BUILD=build`; add -ldl on a libc older than glibc 2.34):
 *   cc -O2 -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isrc bench/bench_kernels.c build/libstrata.a \
 *      -lcjson -lm -lpthread -o build/bench_kernels
 * Run: build/bench_kernels [--quick] [--reps N] [--isa scalar|avx2|avx512] [--threads 1|2|12]
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- peak: independent FMA chains, no memory traffic -------------------------------------- */

#if defined(__x86_64__)
/* 12 independent FMA chains (enough to cover latency x throughput on any core), in asm so the
 * compiler cannot add loads or stores: 12 FMAs and a loop branch per trip. */
#define FMA12(R)                                                                           \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "0\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "1\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "2\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "3\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "4\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "5\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "6\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "7\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "8\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "9\n\t"                                        \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "10\n\t"                                       \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "11\n\t"
__attribute__((target("avx512f"), noinline)) static void fma_loop_avx512(int64_t iters)
{
    __asm__ volatile("vxorps %%xmm12, %%xmm12, %%xmm12\n\tvxorps %%xmm13, %%xmm13, %%xmm13\n\t"
                     "1:\n\t" FMA12("zmm") "dec %0\n\tjnz 1b"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}
__attribute__((target("avx2,fma"), noinline)) static void fma_loop_avx2(int64_t iters)
{
    __asm__ volatile("vxorps %%xmm12, %%xmm12, %%xmm12\n\tvxorps %%xmm13, %%xmm13, %%xmm13\n\t"
                     "1:\n\t" FMA12("ymm") "dec %0\n\tjnz 1b"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}
#endif

typedef struct peak_job {
    int wide;        /* 1: avx512, 0: avx2 */
    int64_t iters;   /* loop trips */
    pthread_barrier_t *start;
} peak_job;

static void *peak_thread(void *arg)
{
    peak_job *j = arg;
    pthread_barrier_wait(j->start);
#if defined(__x86_64__)
    if (j->wide)
        fma_loop_avx512(j->iters);
    else
        fma_loop_avx2(j->iters);
#endif
    return NULL;
}

/* GFLOP/s of n_threads threads running the loop at once: the best of 7 runs (a peak is what
 * the machine can do; on a shared VM the median also measures the neighbours). */
static double peak_gflops(int wide, int n_threads)
{
    const int64_t iters = 20 * 1000 * 1000;
    double flops = 2.0 * 12 * (wide ? 16 : 8) * (double)iters * n_threads, t[7];
    for (int r = 0; r < 7; r++) {
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, (unsigned)n_threads + 1);
        pthread_t th[8];
        peak_job jobs[8];
        for (int i = 0; i < n_threads; i++) {
            jobs[i].wide = wide, jobs[i].iters = iters, jobs[i].start = &bar;
            pthread_create(&th[i], NULL, peak_thread, &jobs[i]);
        }
        pthread_barrier_wait(&bar);
        double t0 = now_s();
        for (int i = 0; i < n_threads; i++) pthread_join(th[i], NULL);
        t[r] = now_s() - t0;
        pthread_barrier_destroy(&bar);
    }
    qsort(t, 7, sizeof t[0], cmp_double);
    return flops / t[0] * 1e-9;
}

/* ---- peers, found at run time ------------------------------------------------------------- */

typedef int (*dnnl_sgemm_fn)(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha,
                             const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                             float *C, int64_t ldc);
typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int M, int N, int K, float alpha,
                               const float *A, int lda, const float *B, int ldb, float beta,
                               float *C, int ldc);
typedef void (*set_threads_fn)(int);

typedef struct peers {
    dnnl_sgemm_fn dnnl;            /* oneDNN, or NULL */
    set_threads_fn omp_set;        /* its OpenMP thread count, or NULL */
    cblas_sgemm_fn openblas;       /* OpenBLAS, or NULL */
    set_threads_fn openblas_set;   /* openblas_set_num_threads, or NULL */
} peers;

static void peers_open(peers *p)
{
    memset(p, 0, sizeof *p);
    void *h = dlopen("libdnnl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        *(void **)&p->dnnl = dlsym(h, "dnnl_sgemm");
        *(void **)&p->omp_set = dlsym(h, "omp_set_num_threads");
        if (!p->omp_set) *(void **)&p->omp_set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    }
    h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        *(void **)&p->openblas = dlsym(h, "cblas_sgemm");
        *(void **)&p->openblas_set = dlsym(h, "openblas_set_num_threads");
    }
}

/* ---- GEMM timing -------------------------------------------------------------------------- */

typedef struct shape {
    const char *name;
    int64_t M, N, K;
} shape;

static const shape shapes[] = {
    {"square 256", 256, 256, 256},
    {"square 512", 512, 512, 512},
    {"square 1024", 1024, 1024, 1024},
    {"square 2048", 2048, 2048, 2048},
    {"r50 conv2 3x3", 64, 3136, 576},
    {"r50 conv2 1x1 in", 64, 3136, 256},
    {"r50 conv2 1x1 out", 256, 3136, 64},
    {"r50 conv3 3x3", 128, 784, 1152},
    {"r50 conv4 3x3", 256, 196, 2304},
    {"r50 conv5 3x3", 512, 49, 4608},
    {"r50 conv5 1x1 out", 2048, 49, 512},
    {"r50 conv4 1x1 out", 1024, 196, 256},
    {"mb2 expand 56", 144, 3136, 24},
    {"mb2 project 14", 96, 196, 576},
    {"bert qkv/out", 128, 768, 768},
    {"bert ffn up", 128, 3072, 768},
    {"bert ffn down", 128, 768, 3072},
};

typedef enum impl { IMPL_STRATA, IMPL_STRATA_PACKED, IMPL_STRATA_PACKED_A, IMPL_DNNL, IMPL_OPENBLAS } impl;

typedef struct bench_ctx {
    const shape *s;
    float *A, *B, *C;
    void *packed;          /* B packed for the ISA being measured */
    void *packed_a;        /* A packed likewise */
    void *ws;              /* workspace big enough for 2 threads */
    size_t ws_bytes;
    thread_pool *pool;     /* NULL for one thread */
    gemm_isa isa;
    const peers *peer;
} bench_ctx;

static int call_once(bench_ctx *c, impl which)
{
    const shape *s = c->s;
    gemm_args g = gemm_args_make(s->M, s->N, s->K, c->A, c->B, c->C);
    g.isa = c->isa;
    g.workspace = c->ws, g.workspace_bytes = c->ws_bytes;
    switch (which) {
    case IMPL_STRATA: return gemm_f32(&g, c->pool) == STRATA_OK;
    case IMPL_STRATA_PACKED: return gemm_f32_with_packed_b(&g, c->packed, c->pool) == STRATA_OK;
    case IMPL_STRATA_PACKED_A: return gemm_f32_with_packed_a(&g, c->packed_a, c->pool) == STRATA_OK;
    case IMPL_DNNL:
        return c->peer->dnnl('N', 'N', s->M, s->N, s->K, 1.0f, c->A, s->K, c->B, s->N, 0.0f, c->C,
                             s->N) == 0;
    case IMPL_OPENBLAS:
        c->peer->openblas(101, 111, 111, (int)s->M, (int)s->N, (int)s->K, 1.0f, c->A, (int)s->K,
                          c->B, (int)s->N, 0.0f, c->C, (int)s->N);
        return 1;
    }
    return 0;
}

/* Median GFLOP/s over reps timings, each long enough (>= 20 ms, repeating the call). */
static double time_gflops(bench_ctx *c, impl which, int reps)
{
    double flops = 2.0 * (double)c->s->M * (double)c->s->N * (double)c->s->K;
    if (!call_once(c, which)) {
        fprintf(stderr, "call failed: %s\n", strata_last_error());
        return 0;
    }
    double t0 = now_s();
    call_once(c, which);
    double one = now_s() - t0;
    int inner = one > 0.02 ? 1 : (int)(0.02 / (one > 1e-7 ? one : 1e-7)) + 1;
    double t[32];
    if (reps > 32) reps = 32;
    for (int r = 0; r < reps; r++) {
        t0 = now_s();
        for (int i = 0; i < inner; i++) call_once(c, which);
        t[r] = (now_s() - t0) / inner;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return flops / t[reps / 2] * 1e-9;
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 5, only_threads = 0;
    const char *only_isa = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) only_isa = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) only_threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--isa scalar|avx2|avx512] "
                            "[--threads 1|2|12]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    char feat[128];
    uint32_t f = cpu_features();
    printf("cpu features: %s\n", cpu_feature_names(f, feat, sizeof feat));
    double peak1 = 0, peak2 = 0;
#if defined(__x86_64__)
    int wide = (f & CPU_AVX512) != 0;
    if (f & CPU_AVX2) {
        peak1 = peak_gflops(wide, 1);
        peak2 = peak_gflops(wide, 2);
        printf("peak (%s FMA loop): 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s (%.2fx)\n",
               wide ? "avx512" : "avx2", peak1, peak2, peak2 / peak1);
        if (wide)
            printf("peak (avx2 FMA loop):   1 thread %.1f GFLOP/s\n", peak_gflops(0, 1));
    }
#endif
    peers peer;
    peers_open(&peer);
    printf("peers: oneDNN dnnl_sgemm %s, OpenBLAS cblas_sgemm %s\n",
           peer.dnnl ? "found" : "absent", peer.openblas ? "found" : "absent");

    thread_pool *pool2 = NULL;
    if (thread_pool_create(2, &pool2) != STRATA_OK) {
        fprintf(stderr, "%s\n", strata_last_error());
        return 1;
    }
    printf("\n%-18s %5s %5s %5s  %-6s %3s  %8s %6s  %8s %6s  %8s %6s  %8s %8s\n", "shape", "M", "N",
           "K", "isa", "thr", "GFLOP/s", "%peak", "packedB", "%peak", "packedA", "%peak", "oneDNN",
           "OpenBLAS");
    const gemm_isa isas[] = {GEMM_ISA_SCALAR, GEMM_ISA_AVX2, GEMM_ISA_AVX512};
    for (size_t si = 0; si < ARRAY_LEN(shapes); si++) {
        const shape *s = &shapes[si];
        double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
        if (quick && flops > 3e9) continue;
        bench_ctx c;
        memset(&c, 0, sizeof c);
        c.s = s;
        c.peer = &peer;
        c.A = mem_alloc_aligned((size_t)(s->M * s->K) * sizeof(float));
        c.B = mem_alloc_aligned((size_t)(s->K * s->N) * sizeof(float));
        c.C = mem_alloc_aligned((size_t)(s->M * s->N) * sizeof(float));
        if (!c.A || !c.B || !c.C) return 1;
        for (int64_t i = 0; i < s->M * s->K; i++) c.A[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
        for (int64_t i = 0; i < s->K * s->N; i++) c.B[i] = (float)((i * 5) % 11) * 0.1f - 0.5f;
        for (size_t ii = 0; ii < ARRAY_LEN(isas); ii++) {
            gemm_isa isa = isas[ii];
            if (!gemm_isa_supported(isa)) continue;
            if (only_isa && strcmp(only_isa, gemm_isa_name(isa))) continue;
            if (isa == GEMM_ISA_SCALAR && flops > 1.1e9) continue; /* too slow to be useful */
            c.isa = isa;
            gemm_args g = gemm_args_make(s->M, s->N, s->K, c.A, c.B, c.C);
            g.isa = isa;
            c.ws_bytes = gemm_f32_workspace_size(&g, false, 2);
            c.ws = mem_alloc_aligned(c.ws_bytes);
            c.packed = mem_alloc_aligned(gemm_f32_packed_b_size(s->K, s->N, isa));
            c.packed_a = mem_alloc_aligned(gemm_f32_packed_a_size(s->M, s->K, isa));
            if (!c.ws || !c.packed || !c.packed_a) return 1;
            gemm_f32_pack_b(s->K, s->N, c.B, s->N, false, isa, c.packed);
            gemm_f32_pack_a(s->M, s->K, c.A, s->K, false, isa, c.packed_a);
            for (int nt = 1; nt <= 2; nt++) {
                if (only_threads && only_threads != nt && only_threads != 12) continue;
                c.pool = nt == 2 ? pool2 : NULL;
                double peak = nt == 2 ? peak2 : peak1;
                double g1 = time_gflops(&c, IMPL_STRATA, reps);
                double g2 = time_gflops(&c, IMPL_STRATA_PACKED, reps);
                double g3 = time_gflops(&c, IMPL_STRATA_PACKED_A, reps);
                char dn[16] = "-", ob[16] = "-";
                if (isa == GEMM_ISA_AVX512 || (isa == GEMM_ISA_AVX2 && !(f & CPU_AVX512))) {
                    if (peer.dnnl) {
                        if (peer.omp_set) peer.omp_set(nt);
                        snprintf(dn, sizeof dn, "%.1f", time_gflops(&c, IMPL_DNNL, reps));
                    }
                    if (peer.openblas) {
                        if (peer.openblas_set) peer.openblas_set(nt);
                        snprintf(ob, sizeof ob, "%.1f", time_gflops(&c, IMPL_OPENBLAS, reps));
                    }
                }
                printf("%-18s %5lld %5lld %5lld  %-6s %3d  %8.1f %5.1f%%  %8.1f %5.1f%%  %8.1f %5.1f%%"
                       "  %8s %8s\n",
                       s->name, (long long)s->M, (long long)s->N, (long long)s->K,
                       gemm_isa_name(isa), nt, g1, peak > 0 ? 100 * g1 / peak : 0, g2,
                       peak > 0 ? 100 * g2 / peak : 0, g3, peak > 0 ? 100 * g3 / peak : 0, dn, ob);
                fflush(stdout);
            }
            mem_free_aligned(c.ws);
            mem_free_aligned(c.packed);
            mem_free_aligned(c.packed_a);
        }
        mem_free_aligned(c.A);
        mem_free_aligned(c.B);
        mem_free_aligned(c.C);
    }
    thread_pool_destroy(pool2);
    return 0;
}
