/* kernels/gemm.c — f32 GEMM: argument checks, ISA dispatch, packing (A in MR-row panels, B in
 * NR-column panels, either prepackable), the cache-blocked loop nests around a microkernel, the
 * split of C over a thread pool, the portable scalar microkernel gemm_f32_4x16__scalar and the
 * double-precision oracle gemm_f32__ref. The SIMD microkernels live in kernels/x86/. */
#include <math.h>
#include <string.h>

#include "kernels/gemm.h"

#define PACKED_B_MAGIC 0x31424D47u /* "GMB1" little-endian */
#define PACKED_B_HEADER 64         /* bytes before the first panel */
#define PACKED_A_MAGIC 0x31414D47u /* "GMA1" little-endian */
#define PACKED_A_HEADER 64

/* One ISA's microkernel and cache blocking. KC: depth of a block (the A micro-panel MR x KC
 * stays in L1); MC: rows of a packed A block (MC x KC stays in L2); NC: columns of the B slice
 * swept per A block (KC x NC stays in L2 beside it). MC is a multiple of MR, NC of NR. Tuned on
 * AMD EPYC Zen 4 (L1d 32 KiB, L2 1 MiB per core): KC 256 / MC 168 / NC 256 for AVX-512. */
typedef struct isa_info {
    gemm_isa isa;          /* which */
    const char *name;      /* vocabulary token */
    gemm_ukernel kernel;   /* microkernel */
    int mr, nr;            /* tile */
    int64_t kc, mc, nc;    /* cache blocks */
    int64_t ncp;           /* with A prepacked: columns of a packed B block (kc x ncp in L2) */
} isa_info;

static const isa_info isa_table[] = {
    {GEMM_ISA_SCALAR, "scalar", gemm_f32_4x16__scalar, 4, 16, 256, 64, 1024, 256},
#if defined(__x86_64__) || defined(__i386__)
    {GEMM_ISA_AVX2, "avx2", gemm_f32_6x16__avx2, 6, 16, 256, 144, 512, 512},
    {GEMM_ISA_AVX512, "avx512", gemm_f32_14x32__avx512, 14, 32, 256, 168, 256, 1024},
#endif
};

static const isa_info *isa_find(gemm_isa isa)
{
    for (size_t i = 0; i < ARRAY_LEN(isa_table); i++)
        if (isa_table[i].isa == isa) return &isa_table[i];
    return NULL;
}

gemm_isa gemm_isa_resolve(gemm_isa isa)
{
    if (isa != GEMM_ISA_AUTO) return isa;
    uint32_t f = cpu_features();
    if ((f & CPU_AVX512) && isa_find(GEMM_ISA_AVX512)) return GEMM_ISA_AVX512;
    if ((f & CPU_AVX2) && isa_find(GEMM_ISA_AVX2)) return GEMM_ISA_AVX2;
    return GEMM_ISA_SCALAR;
}

bool gemm_isa_supported(gemm_isa isa)
{
    uint32_t f = cpu_features();
    switch (isa) {
    case GEMM_ISA_AUTO:
    case GEMM_ISA_SCALAR: return true;
    case GEMM_ISA_AVX2: return (f & CPU_AVX2) && isa_find(isa);
    case GEMM_ISA_AVX512: return (f & CPU_AVX512) && isa_find(isa);
    }
    return false;
}

const char *gemm_isa_name(gemm_isa isa)
{
    if (isa == GEMM_ISA_AUTO) return "auto";
    if (isa == GEMM_ISA_AVX2) return "avx2"; /* named even where not compiled in */
    if (isa == GEMM_ISA_AVX512) return "avx512";
    const isa_info *d = isa_find(isa);
    return d ? d->name : "?";
}

int gemm_isa_mr(gemm_isa isa)
{
    const isa_info *d = isa_find(gemm_isa_resolve(isa));
    return d ? d->mr : 0;
}

int gemm_isa_nr(gemm_isa isa)
{
    const isa_info *d = isa_find(gemm_isa_resolve(isa));
    return d ? d->nr : 0;
}

gemm_args gemm_args_make(int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                         float *C)
{
    gemm_args a;
    memset(&a, 0, sizeof a);
    a.M = M, a.N = N, a.K = K;
    a.A = A, a.lda = K > 0 ? K : 1;
    a.B = B, a.ldb = N > 0 ? N : 1;
    a.C = C, a.ldc = N > 0 ? N : 1;
    a.alpha = 1.0f;
    a.epi.ldr = N;
    return a;
}

/* ---- the scalar microkernel --------------------------------------------------------------- */

static float act_scalar(float x, const gemm_tile *t)
{
    switch (t->act) {
    case GEMM_ACT_RELU: return x > 0.0f ? x : (x == x ? 0.0f : x);
    case GEMM_ACT_CLIP: return x < t->act_min ? t->act_min : x > t->act_max ? t->act_max : x;
    case GEMM_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case GEMM_ACT_GELU: return 0.5f * x * erfcf(-x * 0.70710678f);
    case GEMM_ACT_SILU: return x / (1.0f + expf(-x));
    default: return x;
    }
}

void gemm_f32_4x16__scalar(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           int m, int n, const gemm_tile *t)
{
    enum { SMR = 4, SNR = 16 };
    float acc[SMR][SNR];
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < SMR; i++) {
            float ai = a[i];
            for (int j = 0; j < SNR; j++) acc[i][j] += ai * b[j];
        }
        a += SMR;
        b += SNR;
    }
    for (int i = 0; i < m; i++) {
        float *row = c + i * ldc;
        for (int j = 0; j < n; j++) {
            float v = t->alpha * acc[i][j];
            if (t->beta != 0.0f) v += t->beta * row[j];
            if (t->last) {
                if (t->bias_kind == GEMM_BIAS_COL) v += t->bias[j];
                else if (t->bias_kind == GEMM_BIAS_ROW) v += t->bias[i];
                if (t->residual) v += t->residual[i * t->ldr + j];
                v = act_scalar(v, t);
            }
            row[j] = v;
        }
    }
}

/* ---- packing ------------------------------------------------------------------------------ */

/* op(A)[i0.., k0..] (mc x kc) into ceil(mc/mr) panels of kc x mr, rows past mc zero. */
static void pack_a(const gemm_args *g, int mr, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
                   float *dst)
{
    for (int64_t ip = 0; ip < mc; ip += mr) {
        int rows = mc - ip < mr ? (int)(mc - ip) : mr;
        if (g->trans_a) {
            for (int64_t k = 0; k < kc; k++) {
                const float *src = g->A + (k0 + k) * g->lda + i0 + ip;
                float *d = dst + k * mr;
                memcpy(d, src, (size_t)rows * sizeof(float));
                for (int r = rows; r < mr; r++) d[r] = 0.0f;
            }
        } else {
            /* Row by row: contiguous reads (rows lda apart would alias in L1 when lda is a
             * power of two), strided writes into the panel, which stays in L1. */
            for (int r = 0; r < rows; r++) {
                const float *src = g->A + (i0 + ip + r) * g->lda + k0;
                if (r + 2 < rows) /* the copy is latency-bound: fetch two rows ahead */
                    for (int64_t k = 0; k < kc; k += 16) __builtin_prefetch(src + 2 * g->lda + k);
                for (int64_t k = 0; k < kc; k++) dst[k * mr + r] = src[k];
            }
            for (int r = rows; r < mr; r++)
                for (int64_t k = 0; k < kc; k++) dst[k * mr + r] = 0.0f;
        }
        dst += kc * mr;
    }
}

/* op(B)[k0.., j0..] (kc x nc) into ceil(nc/nr) panels of kc x nr, columns past nc zero. */
static void pack_b(const float *B, int64_t ldb, bool trans_b, int nr, int64_t k0, int64_t kc,
                   int64_t j0, int64_t nc, float *dst)
{
    if (!trans_b) {
        /* Row by row: each row of B read once, front to back (prefetch-friendly), its nr-wide
         * pieces written to the panels (which stay in L2). */
        int64_t panels = (nc + nr - 1) / nr;
        for (int64_t k = 0; k < kc; k++) {
            const float *src = B + (k0 + k) * ldb + j0;
            float *d = dst + k * nr;
            for (int64_t q = 0; q < panels; q++) {
                int64_t jp = q * nr;
                int cols = nc - jp < nr ? (int)(nc - jp) : nr;
                float *dq = d + q * kc * nr;
                memcpy(dq, src + jp, (size_t)cols * sizeof(float));
                for (int j = cols; j < nr; j++) dq[j] = 0.0f;
            }
        }
        return;
    }
    for (int64_t jp = 0; jp < nc; jp += nr) {
        int cols = nc - jp < nr ? (int)(nc - jp) : nr;
        {
            if (cols < nr)
                for (int64_t k = 0; k < kc; k++)
                    for (int j = cols; j < nr; j++) dst[k * nr + j] = 0.0f;
            for (int j = 0; j < cols; j++) {
                const float *src = B + (j0 + jp + j) * ldb + k0;
                for (int64_t k = 0; k < kc; k++) dst[k * nr + j] = src[k];
            }
        }
        dst += kc * nr;
    }
}

/* op(B)[k0.., j0..] (kc x nc) as panels: the caller's producer, or pack_b over B. */
static void produce_b(const gemm_args *g, int nr, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                      float *dst)
{
    if (g->pack_b) g->pack_b(g->pack_b_ctx, k0, kc, j0, nc, nr, dst);
    else pack_b(g->B, g->ldb, g->trans_b, nr, k0, kc, j0, nc, dst);
}

/* ---- the blocked driver ------------------------------------------------------------------- */

static int64_t round_up(int64_t x, int64_t m)
{
    return (x + m - 1) / m * m;
}

/* Depth of a K block. With B prepacked and one row panel of A (M <= MR: a GEMV-like call, the
 * classifier of a CNN at batch 1) the whole depth is one block, so each B panel streams from
 * memory in one contiguous run (K x NR floats) instead of K/KC runs: measured 1.3x faster when
 * the weights are not in cache. */
static int64_t k_block(const isa_info *d, int64_t M, int64_t K, bool packed_b)
{
    if (packed_b && M <= d->mr && K <= 16384) return K > 0 ? K : 1;
    return d->kc;
}

/* Floats of packing scratch one thread needs: an A block (mc x kc) unless A is prepacked and,
 * unless B is prepacked, a full-width B row panel (kc x N, the most any thread's rectangle
 * spans), or with A prepacked a B block of kc x ncp. */
static void scratch_floats(const isa_info *d, int64_t M, int64_t N, int64_t K, bool packed_b,
                           bool packed_a, int64_t *a_floats, int64_t *b_floats)
{
    int64_t kb = k_block(d, M, K, packed_b), kc = K < kb ? K : kb;
    int64_t mc = round_up(M < d->mc ? M : d->mc, d->mr);
    *a_floats = packed_a ? 0 : round_up(mc * kc, 16);
    int64_t bn = packed_a && N > d->ncp ? d->ncp : N;
    *b_floats = packed_b ? 0 : round_up(kc * round_up(bn, d->nr), 16);
}

typedef struct driver {
    const gemm_args *g;     /* the call */
    const isa_info *d;      /* ISA */
    const float *packed_b;  /* first panel of a prepacked B (panel stride K*nr), or NULL */
    const float *packed_a;  /* first panel of a prepacked A (panel stride K*mr), or NULL */
    float *scratch;         /* per-thread scratch, thread t at t * scratch_stride */
    int64_t scratch_stride; /* floats */
    int64_t a_floats;       /* A block floats within a thread's scratch (B block follows) */
    int64_t m_step, n_step; /* task rectangle (multiples of mr / nr) */
    int64_t grid_n;         /* tasks along N */
    bool b_in_place;        /* with packed A: B's rows read in place (g->b_in_place, AVX-512) */
} driver;

/* Computes C[m0:m1, n0:n1]. Loop nest: K blocks (pack op(B)[kc, n0:n1] once, unless B is
 * prepacked) > M blocks (pack A[mc, kc] once) > N blocks (a kc x nc slice of B that stays in
 * L2) > MR-row micro-panels of A (in L1) > NR-column micro-panels of B. */
static void run_rect(const driver *dr, float *ws, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const gemm_args *g = dr->g;
    const isa_info *d = dr->d;
    const int mr = d->mr, nr = d->nr;
    const int64_t K = g->K;
    float *apack = ws, *bpack = ws + dr->a_floats;
    gemm_tile t;
    t.alpha = g->alpha;
    t.bias_kind = g->epi.bias_kind;
    t.ldr = g->epi.ldr;
    t.act = g->epi.act;
    t.act_min = g->epi.act_min;
    t.act_max = g->epi.act_max;
    t.ldb_in_place = 0;
    const int64_t kb = k_block(d, g->M, K, dr->packed_b != NULL);
    for (int64_t pc = 0; pc < K || pc == 0; pc += kb) {
        int64_t kc = K - pc < kb ? K - pc : kb;
        const float *bp;  /* the panel of column n0 at depth pc */
        int64_t b_stride; /* floats between consecutive B panels */
        if (dr->packed_b) {
            bp = dr->packed_b + (n0 / nr * K + pc) * nr;
            b_stride = K * nr;
        } else {
            produce_b(g, nr, pc, kc, n0, n1 - n0, bpack);
            bp = bpack;
            b_stride = kc * nr;
        }
        t.beta = pc == 0 ? g->beta : 1.0f;
        t.last = pc + kc >= K;
        for (int64_t ic = m0; ic < m1; ic += d->mc) {
            int64_t mc = m1 - ic < d->mc ? m1 - ic : d->mc;
            pack_a(g, mr, ic, mc, pc, kc, apack);
            for (int64_t jc = n0; jc < n1; jc += d->nc) {
                int64_t jc_end = n1 - jc < d->nc ? n1 : jc + d->nc;
                for (int64_t ir = 0; ir < mc; ir += mr) {
                    int m = mc - ir < mr ? (int)(mc - ir) : mr;
                    int64_t i = ic + ir;
                    const float *ap = apack + ir * kc;
                    for (int64_t j = jc; j < jc_end; j += nr) {
                        int n = jc_end - j < nr ? (int)(jc_end - j) : nr;
                        t.bias = g->epi.bias_kind == GEMM_BIAS_COL   ? g->epi.bias + j
                                 : g->epi.bias_kind == GEMM_BIAS_ROW ? g->epi.bias + i
                                                                     : NULL;
                        t.residual = g->epi.residual ? g->epi.residual + i * g->epi.ldr + j : NULL;
                        d->kernel(kc, ap, bp + (j - n0) / nr * b_stride, g->C + i * g->ldc + j,
                                  g->ldc, m, n, &t);
                    }
                }
            }
        }
    }
}

/* With A prepacked (nothing to pack but B): column blocks of ncp (packed B block kc x ncp in
 * L2) > K blocks (produce that B block once) > MR-row micro-panels of A, read in place >
 * NR-column micro-panels of B. Each C tile still sees its K blocks in order. */
static void run_rect_pa(const driver *dr, float *ws, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const gemm_args *g = dr->g;
    const isa_info *d = dr->d;
    const int mr = d->mr, nr = d->nr;
    const int64_t K = g->K;
    gemm_tile t;
    t.alpha = g->alpha;
    t.bias_kind = g->epi.bias_kind;
    t.ldr = g->epi.ldr;
    t.act = g->epi.act;
    t.act_min = g->epi.act_min;
    t.act_max = g->epi.act_max;
    t.ldb_in_place = dr->b_in_place ? g->ldb : 0;
    for (int64_t jc = n0; jc < n1; jc += d->ncp) {
        int64_t jn = n1 - jc < d->ncp ? n1 - jc : d->ncp;
        for (int64_t pc = 0; pc < K || pc == 0; pc += d->kc) {
            int64_t kc = K - pc < d->kc ? K - pc : d->kc;
            const float *bp;
            int64_t b_stride;
            if (dr->b_in_place) { /* column j of row pc: the kernel walks the rows itself */
                bp = g->B + pc * g->ldb + jc;
                b_stride = nr;
            } else if (dr->packed_b) {
                bp = dr->packed_b + (jc / nr * K + pc) * nr;
                b_stride = K * nr;
            } else {
                produce_b(g, nr, pc, kc, jc, jn, ws);
                bp = ws;
                b_stride = kc * nr;
            }
            t.beta = pc == 0 ? g->beta : 1.0f;
            t.last = pc + kc >= K;
            for (int64_t jb = jc; jb < jc + jn; jb += d->nc)
            for (int64_t i = m0; i < m1; i += mr) {
                int m = m1 - i < mr ? (int)(m1 - i) : mr;
                const float *ap = dr->packed_a + (i / mr * K + pc) * mr;
                int64_t jb_end = jc + jn - jb < d->nc ? jc + jn : jb + d->nc;
                for (int64_t j = jb; j < jb_end; j += nr) {
                    int n = jb_end - j < nr ? (int)(jb_end - j) : nr;
                    t.bias = g->epi.bias_kind == GEMM_BIAS_COL   ? g->epi.bias + j
                             : g->epi.bias_kind == GEMM_BIAS_ROW ? g->epi.bias + i
                                                                 : NULL;
                    t.residual = g->epi.residual ? g->epi.residual + i * g->epi.ldr + j : NULL;
                    d->kernel(kc, ap, bp + (j - jc) / nr * b_stride, g->C + i * g->ldc + j, g->ldc,
                              m, n, &t);
                }
            }
        }
    }
}

static void run_task(void *arg, int64_t task, int thread_index)
{
    const driver *dr = arg;
    int64_t ti = task / dr->grid_n, tj = task % dr->grid_n;
    int64_t m0 = ti * dr->m_step, n0 = tj * dr->n_step;
    if (m0 >= dr->g->M || n0 >= dr->g->N) return;
    int64_t m1 = m0 + dr->m_step < dr->g->M ? m0 + dr->m_step : dr->g->M;
    int64_t n1 = n0 + dr->n_step < dr->g->N ? n0 + dr->n_step : dr->g->N;
    float *ws = dr->scratch + thread_index * dr->scratch_stride;
    if (dr->packed_a) run_rect_pa(dr, ws, m0, m1, n0, n1);
    else run_rect(dr, ws, m0, m1, n0, n1);
}

/* Threads worth using: about 1 MFLOP of work per thread at least. */
static int threads_for(const gemm_args *g, int n_threads)
{
    double flops = 2.0 * (double)g->M * (double)g->N * (double)(g->K > 0 ? g->K : 1);
    int64_t t = (int64_t)(flops / (1 << 20));
    if (t < 1) t = 1;
    return t < n_threads ? (int)t : n_threads;
}

/* Microkernel calls over a rows x cols rectangle, in full tiles: a partial row panel of r rows
 * costs about (r + 2) / (mr + 2) of a full one (the B loads stay), a partial column panel no
 * wider than half a tile half of one where the ISA has a half-width kernel (AVX-512). */
static double tile_units(const isa_info *d, int64_t rows, int64_t cols)
{
    double r = (double)(rows / d->mr), c = (double)(cols / d->nr);
    int64_t rr = rows % d->mr, rc = cols % d->nr;
    if (rr) r += (double)(rr + 2) / (double)(d->mr + 2);
    if (rc) c += d->isa == GEMM_ISA_AVX512 && rc <= d->nr / 2 ? 0.5 : 1.0;
    return r * c;
}

/* Splits C into gm x gn rectangles (gm * gn == n_tasks) minimising the estimated time of the
 * largest (the first): its microkernel tiles (mr x nr multiply-adds, about 16 a cycle) plus
 * its packing (about 2 cycles per float; each rectangle packs its rows of A unless A is
 * prepacked, and its columns of B unless B is prepacked or read in place). The partial panels
 * count at what they cost: ResNet-50's 256 x 196 x 1024 GEMM split its 196 columns 128 / 68
 * on 2 threads (one thread idle 40% of the call) where its rows split 140 / 116. */
static void choose_grid(const isa_info *d, int64_t M, int64_t N, int64_t K, bool pack_a, bool pack_b,
                        int n_tasks, int64_t *gm_out, int64_t *gn_out)
{
    int64_t mp = (M + d->mr - 1) / d->mr, np = (N + d->nr - 1) / d->nr;
    double best = -1, kk = (double)(K > 0 ? K : 1);
    *gm_out = 1, *gn_out = 1;
    for (int64_t gm = 1; gm <= n_tasks; gm++) {
        if (n_tasks % gm) continue;
        int64_t gn = n_tasks / gm;
        if (gm > mp || gn > np) continue;
        int64_t rows = round_up((M + gm - 1) / gm, d->mr), cols = round_up((N + gn - 1) / gn, d->nr);
        if (rows > M) rows = M;
        if (cols > N) cols = N;
        double cost = tile_units(d, rows, cols) * (double)(d->mr * d->nr) * kk / 16 +
                      2 * kk * ((pack_a ? (double)rows : 0) + (pack_b ? (double)cols : 0));
        if (best < 0 || cost < best) {
            best = cost;
            *gm_out = gm, *gn_out = gn;
        }
    }
}

static strata_status check_args(const gemm_args *g, bool packed_b, bool packed_a,
                                const isa_info **d_out)
{
    *d_out = NULL;
    if (!g) return error_set(STRATA_INVALID_ARGUMENT, "gemm: NULL arguments");
    if (g->M < 0 || g->N < 0 || g->K < 0)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: negative size M=%lld N=%lld K=%lld",
                         (long long)g->M, (long long)g->N, (long long)g->K);
    if (g->isa < GEMM_ISA_AUTO || g->isa > GEMM_ISA_AVX512)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: unknown isa %d", (int)g->isa);
    if (!gemm_isa_supported(g->isa))
        return error_set(STRATA_UNSUPPORTED, "gemm: isa %s is not available on this CPU",
                         gemm_isa_name(g->isa));
    const isa_info *d = isa_find(gemm_isa_resolve(g->isa));
    if (!d)
        return error_set(STRATA_UNSUPPORTED, "gemm: isa %s is not built in",
                         gemm_isa_name(g->isa));
    if (g->M == 0 || g->N == 0) {
        *d_out = d;
        return STRATA_OK;
    }
    if (!g->C) return error_set(STRATA_INVALID_ARGUMENT, "gemm: C is NULL");
    if (g->ldc < g->N)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: ldc %lld < N %lld", (long long)g->ldc,
                         (long long)g->N);
    if (g->K > 0) {
        int64_t need;
        if (!packed_a) {
            if (!g->A) return error_set(STRATA_INVALID_ARGUMENT, "gemm: A is NULL");
            need = g->trans_a ? g->M : g->K;
            if (g->lda < need)
                return error_set(STRATA_INVALID_ARGUMENT, "gemm: lda %lld < %s %lld%s",
                                 (long long)g->lda, g->trans_a ? "M" : "K", (long long)need,
                                 g->trans_a ? " (A transposed)" : "");
        }
        if (!packed_b && !g->pack_b) {
            if (!g->B) return error_set(STRATA_INVALID_ARGUMENT, "gemm: B is NULL");
            need = g->trans_b ? g->K : g->N;
            if (g->ldb < need)
                return error_set(STRATA_INVALID_ARGUMENT, "gemm: ldb %lld < %s %lld%s",
                                 (long long)g->ldb, g->trans_b ? "K" : "N", (long long)need,
                                 g->trans_b ? " (B transposed)" : "");
        }
    }
    const gemm_epilogue *e = &g->epi;
    if (e->bias_kind < GEMM_BIAS_NONE || e->bias_kind > GEMM_BIAS_ROW)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: unknown bias kind %d", (int)e->bias_kind);
    if (e->bias_kind != GEMM_BIAS_NONE && !e->bias)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: %s bias is NULL",
                         e->bias_kind == GEMM_BIAS_COL ? "column" : "row");
    if (e->residual && e->ldr < g->N)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: residual stride ldr %lld < N %lld",
                         (long long)e->ldr, (long long)g->N);
    if (e->residual && e->residual == g->C)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: residual is C itself (use beta = 1)");
    if (e->act < GEMM_ACT_NONE || e->act > GEMM_ACT_SILU)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: unknown activation %d", (int)e->act);
    if (e->act == GEMM_ACT_CLIP && !(e->act_min <= e->act_max))
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: clip bounds min %g > max %g",
                         (double)e->act_min, (double)e->act_max);
    *d_out = d;
    return STRATA_OK;
}

size_t gemm_f32_workspace_size(const gemm_args *g, bool packed_b, int n_threads)
{
    const isa_info *d = isa_find(gemm_isa_resolve(g ? g->isa : GEMM_ISA_AUTO));
    if (!g || !d || g->M <= 0 || g->N <= 0) return 0;
    int64_t af, bf;
    scratch_floats(d, g->M, g->N, g->K, packed_b, false, &af, &bf);
    int t = n_threads < 1 ? 1 : n_threads;
    return (size_t)(af + bf) * sizeof(float) * (size_t)t;
}

static strata_status run(const gemm_args *g, const isa_info *d, const float *packed_b,
                         const float *packed_a, thread_pool *pool)
{
    int n_threads = threads_for(g, thread_pool_size(pool));
    driver dr;
    memset(&dr, 0, sizeof dr);
    dr.g = g;
    dr.d = d;
    dr.packed_b = packed_b;
    dr.packed_a = packed_a;
    dr.b_in_place = packed_a && g->b_in_place && !g->trans_b && !g->pack_b && d->isa == GEMM_ISA_AVX512;
    int64_t af, bf;
    scratch_floats(d, g->M, g->N, g->K, packed_b != NULL, packed_a != NULL, &af, &bf);
    dr.a_floats = af;
    dr.scratch_stride = af + bf;
    /* Scratch for every thread index the pool may hand out, so any worker can take a task. */
    int pool_threads = thread_pool_size(pool);
    size_t need = (size_t)dr.scratch_stride * sizeof(float) * (size_t)pool_threads;
    void *own = NULL;
    if (g->workspace) {
        if (g->workspace_bytes < need)
            return error_set(STRATA_INVALID_ARGUMENT,
                             "gemm: workspace of %zu bytes, %zu needed (M=%lld N=%lld K=%lld, "
                             "%d threads)", g->workspace_bytes, need, (long long)g->M,
                             (long long)g->N, (long long)g->K, pool_threads);
        dr.scratch = g->workspace;
    } else if (need) {
        own = mem_alloc_aligned(need);
        if (!own)
            return error_set(STRATA_OUT_OF_MEMORY, "gemm: cannot allocate %zu bytes of workspace",
                             need);
        dr.scratch = own;
    }
    int64_t gm, gn;
    choose_grid(d, g->M, g->N, g->K, packed_a == NULL, packed_b == NULL && !dr.b_in_place, n_threads, &gm, &gn);
    dr.m_step = round_up((g->M + gm - 1) / gm, d->mr);
    dr.n_step = round_up((g->N + gn - 1) / gn, d->nr);
    dr.grid_n = gn;
    if (gm * gn == 1 && packed_a)
        run_rect_pa(&dr, dr.scratch, 0, g->M, 0, g->N);
    else if (gm * gn == 1)
        run_rect(&dr, dr.scratch, 0, g->M, 0, g->N);
    else
        thread_pool_parallel_for(pool, gm * gn, run_task, &dr);
    mem_free_aligned(own);
    return STRATA_OK;
}

strata_status gemm_f32(const gemm_args *g, thread_pool *pool)
{
    const isa_info *d;
    strata_status st = check_args(g, false, false, &d);
    if (st) return st;
    if (g->M == 0 || g->N == 0) return STRATA_OK;
    return run(g, d, NULL, NULL, pool);
}

/* ---- prepacked B -------------------------------------------------------------------------- */

typedef struct packed_b_header {
    uint32_t magic, isa, nr, reserved; /* PACKED_B_MAGIC, gemm_isa, panel width, 0 */
    int64_t K, N;                      /* op(B) is K x N */
} packed_b_header;

size_t gemm_f32_packed_b_size(int64_t K, int64_t N, gemm_isa isa)
{
    const isa_info *d = isa_find(gemm_isa_resolve(isa));
    if (!d || K < 0 || N < 0) return 0;
    return PACKED_B_HEADER + (size_t)round_up(N, d->nr) * (size_t)K * sizeof(float);
}

strata_status gemm_f32_pack_b(int64_t K, int64_t N, const float *B, int64_t ldb, bool trans_b,
                              gemm_isa isa, void *packed)
{
    if (K < 0 || N < 0)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm pack B: negative size K=%lld N=%lld",
                         (long long)K, (long long)N);
    if (!packed) return error_set(STRATA_INVALID_ARGUMENT, "gemm pack B: output is NULL");
    if (isa < GEMM_ISA_AUTO || isa > GEMM_ISA_AVX512)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm pack B: unknown isa %d", (int)isa);
    const isa_info *d = isa_find(gemm_isa_resolve(isa));
    if (!d)
        return error_set(STRATA_UNSUPPORTED, "gemm pack B: isa %s is not built in",
                         gemm_isa_name(isa));
    if (K > 0 && N > 0) {
        if (!B) return error_set(STRATA_INVALID_ARGUMENT, "gemm pack B: B is NULL");
        if (ldb < (trans_b ? K : N))
            return error_set(STRATA_INVALID_ARGUMENT, "gemm pack B: ldb %lld < %s %lld",
                             (long long)ldb, trans_b ? "K" : "N", (long long)(trans_b ? K : N));
    }
    packed_b_header h;
    memset(&h, 0, sizeof h);
    h.magic = PACKED_B_MAGIC;
    h.isa = (uint32_t)d->isa;
    h.nr = (uint32_t)d->nr;
    h.K = K;
    h.N = N;
    memset(packed, 0, PACKED_B_HEADER);
    memcpy(packed, &h, sizeof h);
    if (K > 0 && N > 0)
        pack_b(B, ldb, trans_b, d->nr, 0, K, 0, N, (float *)((char *)packed + PACKED_B_HEADER));
    return STRATA_OK;
}

strata_status gemm_f32_with_packed_b(const gemm_args *g, const void *packed_b, thread_pool *pool)
{
    if (!g) return error_set(STRATA_INVALID_ARGUMENT, "gemm: NULL arguments");
    if (!packed_b) return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed B is NULL");
    packed_b_header h;
    memcpy(&h, packed_b, sizeof h);
    if (h.magic != PACKED_B_MAGIC)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed B has a bad magic 0x%08x",
                         (unsigned)h.magic);
    const isa_info *pd = isa_find((gemm_isa)h.isa);
    if (!pd || (uint32_t)pd->nr != h.nr)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed B has isa %u / nr %u, unknown here",
                         (unsigned)h.isa, (unsigned)h.nr);
    if (h.K != g->K || h.N != g->N)
        return error_set(STRATA_INVALID_ARGUMENT,
                         "gemm: packed B is %lld x %lld, the call wants K=%lld N=%lld",
                         (long long)h.K, (long long)h.N, (long long)g->K, (long long)g->N);
    if (g->isa != GEMM_ISA_AUTO && g->isa != (gemm_isa)h.isa)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed B was packed for %s, the call "
                         "asks for %s", gemm_isa_name((gemm_isa)h.isa), gemm_isa_name(g->isa));
    gemm_args a = *g;
    a.isa = (gemm_isa)h.isa;
    const isa_info *d;
    strata_status st = check_args(&a, true, false, &d);
    if (st) return st;
    if (a.M == 0 || a.N == 0) return STRATA_OK;
    return run(&a, d, (const float *)((const char *)packed_b + PACKED_B_HEADER), NULL, pool);
}

/* ---- prepacked A -------------------------------------------------------------------------- */

typedef struct packed_a_header {
    uint32_t magic, isa, mr, reserved; /* PACKED_A_MAGIC, gemm_isa, panel height, 0 */
    int64_t M, K;                      /* op(A) is M x K */
} packed_a_header;

size_t gemm_f32_packed_a_size(int64_t M, int64_t K, gemm_isa isa)
{
    const isa_info *d = isa_find(gemm_isa_resolve(isa));
    if (!d || M < 0 || K < 0) return 0;
    return PACKED_A_HEADER + (size_t)round_up(M, d->mr) * (size_t)K * sizeof(float);
}

strata_status gemm_f32_pack_a(int64_t M, int64_t K, const float *A, int64_t lda, bool trans_a,
                              gemm_isa isa, void *packed)
{
    if (M < 0 || K < 0)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm pack A: negative size M=%lld K=%lld",
                         (long long)M, (long long)K);
    if (!packed) return error_set(STRATA_INVALID_ARGUMENT, "gemm pack A: output is NULL");
    if (isa < GEMM_ISA_AUTO || isa > GEMM_ISA_AVX512)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm pack A: unknown isa %d", (int)isa);
    const isa_info *d = isa_find(gemm_isa_resolve(isa));
    if (!d)
        return error_set(STRATA_UNSUPPORTED, "gemm pack A: isa %s is not built in",
                         gemm_isa_name(isa));
    if (K > 0 && M > 0) {
        if (!A) return error_set(STRATA_INVALID_ARGUMENT, "gemm pack A: A is NULL");
        if (lda < (trans_a ? M : K))
            return error_set(STRATA_INVALID_ARGUMENT, "gemm pack A: lda %lld < %s %lld",
                             (long long)lda, trans_a ? "M" : "K", (long long)(trans_a ? M : K));
    }
    packed_a_header h;
    memset(&h, 0, sizeof h);
    h.magic = PACKED_A_MAGIC;
    h.isa = (uint32_t)d->isa;
    h.mr = (uint32_t)d->mr;
    h.M = M;
    h.K = K;
    memset(packed, 0, PACKED_A_HEADER);
    memcpy(packed, &h, sizeof h);
    if (K > 0 && M > 0) {
        gemm_args g = gemm_args_make(M, 1, K, A, NULL, NULL);
        g.lda = lda;
        g.trans_a = trans_a;
        pack_a(&g, d->mr, 0, M, 0, K, (float *)((char *)packed + PACKED_A_HEADER));
    }
    return STRATA_OK;
}

strata_status gemm_f32_with_packed_a(const gemm_args *g, const void *packed_a, thread_pool *pool)
{
    if (!g) return error_set(STRATA_INVALID_ARGUMENT, "gemm: NULL arguments");
    if (!packed_a) return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed A is NULL");
    packed_a_header h;
    memcpy(&h, packed_a, sizeof h);
    if (h.magic != PACKED_A_MAGIC)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed A has a bad magic 0x%08x",
                         (unsigned)h.magic);
    const isa_info *pd = isa_find((gemm_isa)h.isa);
    if (!pd || (uint32_t)pd->mr != h.mr)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed A has isa %u / mr %u, unknown here",
                         (unsigned)h.isa, (unsigned)h.mr);
    if (h.M != g->M || h.K != g->K)
        return error_set(STRATA_INVALID_ARGUMENT,
                         "gemm: packed A is %lld x %lld, the call wants M=%lld K=%lld",
                         (long long)h.M, (long long)h.K, (long long)g->M, (long long)g->K);
    if (g->isa != GEMM_ISA_AUTO && g->isa != (gemm_isa)h.isa)
        return error_set(STRATA_INVALID_ARGUMENT, "gemm: packed A was packed for %s, the call "
                         "asks for %s", gemm_isa_name((gemm_isa)h.isa), gemm_isa_name(g->isa));
    gemm_args a = *g;
    a.isa = (gemm_isa)h.isa;
    const isa_info *d;
    strata_status st = check_args(&a, false, true, &d);
    if (st) return st;
    if (a.M == 0 || a.N == 0) return STRATA_OK;
    return run(&a, d, NULL, (const float *)((const char *)packed_a + PACKED_A_HEADER), pool);
}

/* ---- the oracle --------------------------------------------------------------------------- */

strata_status gemm_f32__ref(const gemm_args *g)
{
    const isa_info *d;
    gemm_args a = *g;
    a.isa = GEMM_ISA_SCALAR;
    a.pack_b = NULL;
    strata_status st = check_args(&a, false, false, &d);
    if (st) return st;
    const gemm_epilogue *e = &g->epi;
    for (int64_t i = 0; i < g->M; i++) {
        for (int64_t j = 0; j < g->N; j++) {
            double s = 0;
            for (int64_t k = 0; k < g->K; k++) {
                double x = g->trans_a ? g->A[k * g->lda + i] : g->A[i * g->lda + k];
                double y = g->trans_b ? g->B[j * g->ldb + k] : g->B[k * g->ldb + j];
                s += x * y;
            }
            float *c = g->C + i * g->ldc + j;
            double v = (double)g->alpha * s + (g->beta != 0.0f ? (double)g->beta * *c : 0.0);
            if (e->bias_kind == GEMM_BIAS_COL) v += e->bias[j];
            if (e->bias_kind == GEMM_BIAS_ROW) v += e->bias[i];
            if (e->residual) v += e->residual[i * e->ldr + j];
            switch (e->act) {
            case GEMM_ACT_RELU: v = v > 0 ? v : 0; break;
            case GEMM_ACT_CLIP: v = v < e->act_min ? e->act_min : v > e->act_max ? e->act_max : v; break;
            case GEMM_ACT_SIGMOID: v = 1 / (1 + exp(-v)); break;
            case GEMM_ACT_GELU: v = 0.5 * v * (1 + erf(v / sqrt(2.0))); break;
            case GEMM_ACT_SILU: v = v / (1 + exp(-v)); break;
            default: break;
            }
            *c = (float)v;
        }
    }
    return STRATA_OK;
}
