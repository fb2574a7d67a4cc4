/* bench/bench_dnnl_matmul.c — single-op GFLOP/s of the Gemm / MatMul tactics on BERT-base and
 * ResNet-50 FC shapes: our GEMM (matmul_f32__avx512), oneDNN sgemm, and oneDNN's matmul
 * primitive rows (fp32 and bf16), each with its prepacked weights, run alternately (A B C A B C
 * ...) under a scratch arena as the runtime does; the median per row.
 *
 * Build (after `make BUILD=build-d1 build-d1/strata`):
 *   cc -O2 -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isrc -Itests bench/bench_dnnl_matmul.c \
 *      build-d1/libstrata.a -lcjson -lmicrohttpd -lgrpc -lgpr -lprotobuf-c -ldnnl -lgomp -lm -lpthread \
 *      -o build-d1/bench_dnnl_matmul
 * Run: build-d1/bench_dnnl_matmul [--threads T] [--reps N] [--no-scratch] [--rows MASK]
 * (MASK: bit r runs row r of the table below, e.g. 1 = ours alone; OMP_WAIT_POLICY=passive in
 * the environment stops OpenMP threads spinning after a oneDNN call)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/fast.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static strata_tensor *tensor(strata_dtype dt, int rank, const int64_t *dims, unsigned *seed)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(dt, rank, dims, &t) != STRATA_OK) return NULL;
    if (dt == STRATA_DTYPE_F32)
        for (int64_t i = 0; i < strata_tensor_numel(t); i++) {
            *seed = *seed * 1103515245u + 12345u;
            ((float *)t->data)[i] = (float)((*seed >> 16) % 2001) / 1000.0f - 1.0f;
        }
    return t;
}

typedef struct shape {
    const char *what;
    int64_t M, K, N;
    bool gemm_tb; /* ResNet-50 FC: Gemm with transB (weights [N, K]) */
} shape;

int main(int argc, char **argv)
{
    int threads = 1, reps = 7;
    bool use_scratch = true;
    unsigned mask = ~0u; /* which rows to run (bit r: rows[r]) */
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--threads") && a + 1 < argc) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--reps") && a + 1 < argc) reps = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--no-scratch")) use_scratch = false;
        else if (!strcmp(argv[a], "--rows") && a + 1 < argc) mask = (unsigned)strtoul(argv[++a], NULL, 0);
        else {
            fprintf(stderr, "usage: %s [--threads T] [--reps N] [--no-scratch] [--rows MASK]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 64 || threads < 1) return 2;
    static const shape shapes[] = {
        {"bert qkv/out", 128, 768, 768, false},   {"bert ffn1", 128, 768, 3072, false},
        {"bert ffn2", 128, 3072, 768, false},     {"bert8 qkv/out", 1024, 768, 768, false},
        {"bert8 ffn1", 1024, 768, 3072, false},   {"bert8 ffn2", 1024, 3072, 768, false},
        {"rn50 fc b1", 1, 2048, 1000, true},      {"rn50 fc b8", 8, 2048, 1000, true},
    };
    static const char *const rows[] = {"matmul_f32__avx512", "matmul_f32__dnnl", "matmul_f32_brgemm__dnnl",
                                       "matmul_bf16__dnnl"};
    enum { NR = sizeof rows / sizeof rows[0] };
    thread_pool *pool = NULL;
    if (threads > 1 && thread_pool_create(threads, &pool) != STRATA_OK) return 1;
    kernel_ctx ctx = {pool, threads};
    scratch_arena sa;
    memset(&sa, 0, sizeof sa);
    printf("threads %d, reps %d, scratch %s; GFLOP/s (median), ratio to %s\n", threads, reps,
           use_scratch ? "on" : "off", rows[0]);
    printf("%-14s %5s %5s %5s", "shape", "M", "K", "N");
    for (int r = 0; r < NR; r++) printf(" %24s", rows[r]);
    printf("\n");
    unsigned seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        const char *op = sh->gemm_tb ? "FusedGemm" : "FusedMatMul";
        int64_t ad[2] = {sh->M, sh->K}, bd[2] = {sh->gemm_tb ? sh->N : sh->K, sh->gemm_tb ? sh->K : sh->N},
                nd[1] = {sh->N}, yd[2] = {sh->M, sh->N};
        strata_tensor *A = tensor(STRATA_DTYPE_F32, 2, ad, &seed), *B = tensor(STRATA_DTYPE_F32, 2, bd, &seed);
        strata_tensor *bias = tensor(STRATA_DTYPE_F32, 1, nd, &seed), *Y = tensor(STRATA_DTYPE_F32, 2, yd, &seed);
        strata_tensor *packed[NR] = {NULL};
        const fast_kernel *ks[NR];
        op_node nodes[NR];
        uint64_t ns[NR][64];
        for (int r = 0; r < NR; r++) {
            ks[r] = fast_kernel_find(rows[r], sh->gemm_tb ? "FusedGemm" : "FusedMatMul", "com.strata");
            if (sh->gemm_tb && !strcmp(rows[r], "matmul_f32__avx512")) ks[r] = fast_kernel_find("gemm_f32__avx512", op, "com.strata");
            if (sh->gemm_tb && !strcmp(rows[r], "matmul_f32__dnnl")) ks[r] = fast_kernel_find("gemm_f32__dnnl", op, "com.strata");
            if (sh->gemm_tb && !strcmp(rows[r], "matmul_f32_brgemm__dnnl"))
                ks[r] = fast_kernel_find("gemm_f32_brgemm__dnnl", op, "com.strata");
            if (sh->gemm_tb && !strcmp(rows[r], "matmul_bf16__dnnl")) ks[r] = fast_kernel_find("gemm_bf16__dnnl", op, "com.strata");
            if (ks[r] && ((ks[r]->isa & ~cpu_features()) || !(mask >> r & 1))) ks[r] = NULL;
            nodes[r] = (op_node){"bench", op, "com.strata", 1, NULL, 0, 4, 1};
        }
        attr tb = {0};
        tb.name = (char *)"transB", tb.type = ATTR_INT, tb.i = 1;
        attr pin[2] = {tb, {0}};
        pin[1].name = (char *)"packed_input", pin[1].type = ATTR_INT, pin[1].i = 4;
        const strata_tensor *in[NR][5];
        for (int r = 0; r < NR; r++) {
            in[r][0] = A, in[r][1] = B, in[r][2] = bias, in[r][3] = NULL, in[r][4] = NULL;
            op_node *n = &nodes[r];
            if (sh->gemm_tb) n->attrs = &pin[0], n->n_attrs = 1;
            if (!ks[r] || !ks[r]->packed_size) continue;
            size_t bytes = ks[r]->packed_size(ks[r], n, in[r]);
            if (!bytes) continue;
            int64_t pd[1] = {(int64_t)bytes};
            packed[r] = tensor(STRATA_DTYPE_U8, 1, pd, &seed);
            if (!packed[r] || ks[r]->pack(ks[r], n, in[r], packed[r]->data) != STRATA_OK) {
                fprintf(stderr, "%s: pack failed: %s\n", rows[r], strata_last_error());
                return 1;
            }
            in[r][4] = packed[r];
            n->n_inputs = 5;
            if (sh->gemm_tb) n->attrs = pin, n->n_attrs = 2;
            else n->attrs = &pin[1], n->n_attrs = 1;
        }
        for (int rep = -1; rep < reps; rep++) /* rep -1: warm-up (primitive creation, scratch growth) */
            for (int r = 0; r < NR; r++) {
                if (!ks[r]) continue;
                if (use_scratch) scratch_begin(&sa);
                uint64_t t0 = clock_now_ns();
                strata_status st = ks[r]->run(ks[r], &nodes[r], in[r], &Y, &ctx);
                uint64_t dt = clock_now_ns() - t0;
                if (use_scratch) {
                    scratch_end();
                    scratch_reserve(&sa);
                }
                if (st != STRATA_OK) {
                    fprintf(stderr, "%s: %s\n", rows[r], strata_last_error());
                    return 1;
                }
                if (rep >= 0) ns[r][rep] = dt;
            }
        printf("%-14s %5lld %5lld %5lld", sh->what, (long long)sh->M, (long long)sh->K, (long long)sh->N);
        double base = 0;
        for (int r = 0; r < NR; r++) {
            if (!ks[r]) {
                printf(" %24s", "-");
                continue;
            }
            qsort(ns[r], (size_t)reps, sizeof ns[r][0], cmp_u64);
            double gf = 2.0 * (double)sh->M * (double)sh->K * (double)sh->N / (double)ns[r][reps / 2];
            if (r == 0) base = gf;
            char cell[64];
            snprintf(cell, sizeof cell, "%.1f (%.2fx)", gf, base > 0 ? gf / base : 0.0);
            printf(" %24s", cell);
        }
        printf("\n");
        for (int r = 0; r < NR; r++) strata_tensor_destroy(packed[r]);
        strata_tensor_destroy(A);
        strata_tensor_destroy(B);
        strata_tensor_destroy(bias);
        strata_tensor_destroy(Y);
    }
    scratch_release(&sa);
    thread_pool_destroy(pool);
    return 0;
}
