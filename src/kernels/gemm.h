/* kernels/gemm.h — the single-precision GEMM contract: C = act(alpha*op(A)*op(B) + beta*C
 * + bias + residual), row-major with leading dimensions, unpacked or with A or B prepacked once
 * (the weights, packed at compile time for one ISA), B optionally produced by a caller's packer
 * (im2col straight into the panel layout), multithreaded over a thread pool. Kernels:
 * gemm_f32_14x32__avx512, gemm_f32_6x16__avx2, gemm_f32_4x16__scalar; oracle gemm_f32__ref. */
#ifndef STRATA_KERNELS_GEMM_H
#define STRATA_KERNELS_GEMM_H

#include <stdbool.h>

#include "core/core.h"

/* ---- ISA choice --------------------------------------------------------------------------- */

/* Which microkernel family runs. Values reach plan files: keep the numbers. */
typedef enum gemm_isa {
    GEMM_ISA_AUTO = 0,   /* the best this CPU has (cpu_features(), so STRATA_ISA caps it) */
    GEMM_ISA_SCALAR = 1, /* portable C, MR x NR = 4 x 16 */
    GEMM_ISA_AVX2 = 2,   /* avx2 + fma, 6 x 16 */
    GEMM_ISA_AVX512 = 3, /* avx512 f/bw/dq/vl, 14 x 32 */
} gemm_isa;

/* AUTO resolved to the best supported ISA; any other value returned as is. */
gemm_isa gemm_isa_resolve(gemm_isa isa);
/* True when this CPU (after the STRATA_ISA cap) can run isa; AUTO is always supported. */
bool gemm_isa_supported(gemm_isa isa);
/* "scalar", "avx2", "avx512", "auto"; "?" for a bad value. */
const char *gemm_isa_name(gemm_isa isa);
/* Microkernel tile of isa (AUTO resolved): rows (MR) and columns (NR); 0 for a bad value.
 * NR is the panel width of the packed-B layout, so a plan records it with the packed weights. */
int gemm_isa_mr(gemm_isa isa);
int gemm_isa_nr(gemm_isa isa);

/* ---- arguments ---------------------------------------------------------------------------- */

typedef enum gemm_bias {
    GEMM_BIAS_NONE = 0,
    GEMM_BIAS_COL = 1, /* bias[N]: added to every row (Gemm / MatMul+Add, fully connected) */
    GEMM_BIAS_ROW = 2, /* bias[M]: added to every column (conv as GEMM: M = output channels) */
} gemm_bias;

typedef enum gemm_act {
    GEMM_ACT_NONE = 0,
    GEMM_ACT_RELU = 1,    /* max(x, 0) */
    GEMM_ACT_CLIP = 2,    /* min(max(x, act_min), act_max): relu6 is clip(0, 6) */
    GEMM_ACT_SIGMOID = 3, /* 1 / (1 + exp(-x)) */
    GEMM_ACT_GELU = 4,    /* x/2 * (1 + erf(x / sqrt 2)), the exact (erf) form */
    GEMM_ACT_SILU = 5,    /* x * sigmoid(x) */
} gemm_act;

/* A producer of op(B) for the GEMM, used instead of B/ldb/trans_b when set (convolution:
 * im2col written straight into the packed layout). It writes op(B)[k0 .. k0+kc, j0 .. j0+nc)
 * as ceil(nc/nr) panels of kc x nr floats: panel q holds columns j0+q*nr .. j0+q*nr+nr-1 row by
 * row, dst[q*kc*nr + (k-k0)*nr + c], columns past nc zero. Called from several threads at once,
 * on disjoint blocks; must not fail. */
typedef void (*gemm_pack_b_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                               int nr, float *dst);

/* Applied after alpha/beta, in this order: + bias, + residual, then the activation. */
typedef struct gemm_epilogue {
    gemm_bias bias_kind;   /* which bias, if any */
    const float *bias;     /* N (COL) or M (ROW) floats; ignored for NONE */
    const float *residual; /* R[M,N] added elementwise, or NULL; must not overlap C */
    int64_t ldr;           /* row stride of residual in elements (>= N) */
    gemm_act act;          /* activation */
    float act_min, act_max;/* CLIP bounds (act_min <= act_max) */
} gemm_epilogue;

/* C[M,N] = act(alpha * op(A) * op(B) + beta * C + bias + residual). Row-major, strides in
 * elements. op(A) is M x K: A is M x K (lda >= K), or K x M when trans_a (lda >= M); likewise
 * op(B) is K x N: B is K x N (ldb >= N), or N x K when trans_b (ldb >= K). beta == 0 means C is
 * not read (may hold garbage or NaN), as in BLAS. A, B, bias and residual must not overlap C
 * (to add C itself use beta = 1). Any K >= 0; K == 0 gives beta*C + epilogue. */
typedef struct gemm_args {
    int64_t M, N, K;        /* sizes (>= 0) */
    const float *A;         /* left operand, see trans_a */
    int64_t lda;            /* row stride of A as stored */
    bool trans_a;           /* A is stored K x M */
    const float *B;         /* right operand, see trans_b (unused by gemm_f32_with_packed_b) */
    int64_t ldb;            /* row stride of B as stored */
    bool trans_b;           /* B is stored N x K */
    float *C;               /* output M x N, read when beta != 0 */
    int64_t ldc;            /* row stride of C (>= N) */
    float alpha, beta;      /* scale of the product and of the old C */
    gemm_epilogue epi;      /* fused bias / residual / activation (zeroed = none) */
    gemm_isa isa;           /* AUTO, or a forced ISA (UNSUPPORTED if this CPU lacks it) */
    gemm_pack_b_fn pack_b;  /* op(B) producer, or NULL: B, ldb and trans_b are then unused */
    const void *pack_b_ctx; /* its context */
    bool b_in_place;        /* gemm_f32_with_packed_a only: the microkernel reads op(B)'s rows
                               in place, ldb apart, instead of copying them into panels (B
                               not transposed, no pack_b; a 1x1 conv's input read once where
                               the copy would cost as much as the FMAs). Honoured by the
                               AVX-512 kernel; other ISAs pack as usual */
    void *workspace;        /* packing scratch of gemm_f32_workspace_size bytes, 64-byte
                               aligned; NULL: the call allocates (and frees) it itself */
    size_t workspace_bytes; /* size of workspace */
} gemm_args;

/* An args struct with alpha = 1, beta = 0, no transposes, no epilogue, ISA AUTO and tight
 * leading dimensions (lda = K, ldb = N, ldc = N) for the given operands. */
gemm_args gemm_args_make(int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                         float *C);

/* ---- entry points ------------------------------------------------------------------------- */

/* Bytes of workspace gemm_f32 (packed_b false) or gemm_f32_with_packed_b (packed_b true) needs
 * for these sizes and ISA when run on a pool of n_threads threads (gemm_f32_with_packed_a needs
 * no more than gemm_f32). */
size_t gemm_f32_workspace_size(const gemm_args *a, bool packed_b, int n_threads);

/* Unpacked GEMM (A and B packed on the fly). pool may be NULL (one thread). INVALID_ARGUMENT
 * for bad sizes, strides or NULL operands, UNSUPPORTED for an ISA this CPU lacks, OUT_OF_MEMORY
 * when a NULL workspace could not be allocated or the given one is too small. */
strata_status gemm_f32(const gemm_args *a, thread_pool *pool);

/* Prepacked B. Layout (64-byte header, then panels), documented here because plans store it:
 *   header: u32 magic 'GMB1', u32 isa, u32 nr, u32 reserved, i64 K, i64 N, zero to 64 bytes
 *   panels: ceil(N/nr) panels; panel p holds, for k in [0,K), the nr floats
 *           op(B)[k, p*nr .. p*nr+nr) with columns past N zero.
 * packed should be 64-byte aligned. isa AUTO is resolved at pack time and recorded. */
size_t gemm_f32_packed_b_size(int64_t K, int64_t N, gemm_isa isa);
strata_status gemm_f32_pack_b(int64_t K, int64_t N, const float *B, int64_t ldb, bool trans_b,
                              gemm_isa isa, void *packed);
/* GEMM with op(B) from gemm_f32_pack_b (a->B, ldb, trans_b ignored). a->isa must be AUTO or
 * the packed ISA; INVALID_ARGUMENT when K, N or the header do not match, UNSUPPORTED when this
 * CPU lacks the packed ISA. */
strata_status gemm_f32_with_packed_b(const gemm_args *a, const void *packed_b, thread_pool *pool);

/* Prepacked A (the weights of a convolution, C = W * im2col(X)). Layout, like packed B:
 *   header: u32 magic 'GMA1', u32 isa, u32 mr, u32 reserved, i64 M, i64 K, zero to 64 bytes
 *   panels: ceil(M/mr) panels; panel p holds, for k in [0,K), the mr floats
 *           op(A)[p*mr .. p*mr+mr, k] with rows past M zero (so a K block of a panel is
 *           contiguous and any cache blocking can read it in place).
 * packed should be 64-byte aligned. isa AUTO is resolved at pack time and recorded. */
size_t gemm_f32_packed_a_size(int64_t M, int64_t K, gemm_isa isa);
strata_status gemm_f32_pack_a(int64_t M, int64_t K, const float *A, int64_t lda, bool trans_a,
                              gemm_isa isa, void *packed);
/* GEMM with op(A) from gemm_f32_pack_a (a->A, lda, trans_a ignored); B as in gemm_f32 (or
 * a->pack_b). a->isa must be AUTO or the packed ISA; INVALID_ARGUMENT when M, K or the header
 * do not match, UNSUPPORTED when this CPU lacks the packed ISA. */
strata_status gemm_f32_with_packed_a(const gemm_args *a, const void *packed_a, thread_pool *pool);

/* The oracle: a naive triple loop in double precision, with the same contract (single thread,
 * workspace and isa ignored). */
strata_status gemm_f32__ref(const gemm_args *a);

/* ---- microkernels (internal to gemm.c and kernels/x86/gemm_f32_*.c) ----------------------- */

/* What a microkernel does with one MR x NR tile after its K loop. */
typedef struct gemm_tile {
    float alpha;           /* scale of the product */
    float beta;            /* scale of the old C; 0: C not read */
    int last;              /* nonzero on the last K block: apply bias, residual, activation */
    gemm_bias bias_kind;   /* NONE / COL / ROW */
    const float *bias;     /* COL: bias of the tile's first column; ROW: of its first row */
    const float *residual; /* the tile's first element of R, or NULL */
    int64_t ldr;           /* row stride of residual */
    gemm_act act;          /* activation */
    float act_min, act_max;/* CLIP bounds */
    int64_t ldb_in_place;  /* 0: b is a packed panel (NR floats a K step); else b points into
                              op(B)'s rows, this many floats apart, columns past n not read */
} gemm_tile;

/* C[m x n] (m <= MR, n <= NR) from a packed A panel (kc steps of MR floats, rows past m zero)
 * and a packed B panel (kc steps of NR floats, columns past n zero), then the tile epilogue.
 * The AVX-512 kernel also takes B's rows in place (t->ldb_in_place); the driver asks no other. */
typedef void (*gemm_ukernel)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                             int m, int n, const gemm_tile *t);

void gemm_f32_4x16__scalar(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           int m, int n, const gemm_tile *t);
#if defined(__x86_64__) || defined(__i386__)
void gemm_f32_6x16__avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         int m, int n, const gemm_tile *t);
void gemm_f32_14x32__avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                            int m, int n, const gemm_tile *t);
#endif

#endif
