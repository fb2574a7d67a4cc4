/* kernels/fast_conv_winograd.c — Winograd F(4x4,3x3) tactics (conv_f32_winograd) for 3x3,
 * stride-1, single-group NCHW Conv / com.strata FusedConv: the weights transformed at compile
 * time into 36 packed-A GEMM operands U_xi [M x C]; per block of 4x4 output tiles, the input
 * transform V_xi [C x tiles], 36 GEMMs M_xi = U_xi V_xi and the output transform with bias,
 * residual and activation fused (tile transforms in winograd.h). conv_f32_winograd_f2 does the
 * same with F(2x2,3x3) (16 operands, 2x2 output tiles): for 7x7 maps at batch 1, where 4x4
 * tiles are 4 (mostly padding) and each of 36 weight matrices would stream for a 4-column B.
 *
 * Error: each output is a sum over C*36 products of transformed values whose magnitudes grow
 * by up to 10x per 1-D input transform and 19x per 1-D output transform (largest row sums of
 * B^T and A^T), so in float the error is bounded by about eps * (C + 20) * 100 * 361 / 36 *
 * max|G g| * max|x|; measured on random data in [-1, 1] it stays below 5e-6 * (sum|w||x| + 1)
 * (3.5e-6 at C = 256), which tests/kernels/test_fast_conv_winograd.c checks, with a tolerance
 * of 1e-5 * sum|w||x| + 1e-5 per element. */
#include <string.h>

#include "fast_internal.h"
#include "ref/ref_nn.h"
#include "winograd.h"

void winograd_f32_input__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                int64_t c0, int64_t c1, float *v, int64_t ldv)
{
    wino_input_body(g, tiles, n, x, c0, c1, v, ldv, wino_gather);
}

void winograd_f32_output__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                 int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y)
{
    wino_output_body(g, tiles, n, mx, m0, m1, ldm, e, y, wino_scatter);
}

void winograd2_f32_input__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                 int64_t c0, int64_t c1, float *v, int64_t ldv)
{
    wino2_input_body(g, tiles, n, x, c0, c1, v, ldv);
}

void winograd2_f32_output__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                  int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y)
{
    wino2_output_body(g, tiles, n, mx, m0, m1, ldm, e, y);
}

/* Output tile size of row k: 2 for conv_f32_winograd_f2, else 4; and its transformed elements. */
static int tile_of(const fast_kernel *k)
{
    return strstr(k->name, "winograd_f2") ? 2 : 4;
}

static int xi_of(int f)
{
    return (f + 2) * (f + 2);
}

/* ---- which nodes ---------------------------------------------------------------------------- */

static bool is_conv(const op_node *n)
{
    return (strcmp(n->op_type, "Conv") == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, "FusedConv") == 0 && strcmp(n->domain, "com.strata") == 0);
}

static bool all_ones(const op_node *n, const char *name)
{
    size_t cnt = 0;
    const int64_t *v = op_attr_ints(n, name, &cnt);
    for (size_t i = 0; v && i < cnt; i++)
        if (v[i] != 1) return false;
    return true;
}

/* A conv this kernel computes (whatever the speed): 3x3, stride 1, dilation 1, group 1, NCHW,
 * pads <= 2, f32, an activation the fast kernels know. */
static bool conv_fits(const op_node *n, const strata_tensor *const *in)
{
    if (!is_conv(n) || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (strcmp(op_attr_string(n, "layout", "NCHW"), "NCHW") != 0) return false;
    if (in[0]->rank != 4 || in[1]->rank != 4) return false;
    if (n->n_inputs > 2 && in[2] && !fast_f32(in[2])) return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    const int64_t *wd = in[1]->dims;
    if (wd[0] < 1 || wd[1] < 1 || wd[2] != 3 || wd[3] != 3) return false;
    if (in[0]->dims[1] >= 0 && in[0]->dims[1] != wd[1]) return false;
    if (op_attr_int(n, "group", 1) != 1 || !all_ones(n, "strides") || !all_ones(n, "dilations")) return false;
    size_t cnt = 0;
    const int64_t *ks = op_attr_ints(n, "kernel_shape", &cnt);
    if (ks && (cnt != 2 || ks[0] != 3 || ks[1] != 3)) return false;
    const int64_t *pads = op_attr_ints(n, "pads", &cnt);
    for (size_t i = 0; pads && i < cnt; i++)
        if (pads[i] < 0 || pads[i] > 2) return false;
    fast_act a;
    return fast_activation(n, &a);
}

/* Where it beats conv_f32_gemm (bench/bench_winograd.c on Zen 4: 1.8-2.7x on ResNet-50's 3x3
 * layers from 16 tiles of 4x4 on; 0.5-0.8x at 512 channels x 7x7 x batch 1, 4 tiles, where the
 * GEMMs stream 36 transformed weight matrices for a 4-column B): at least 16 channels in and
 * out and 16 tiles in the batch (per image when the batch is unknown). */
static bool supports_wino(const op_node *n, const strata_tensor *const *in)
{
    if (!conv_fits(n, in)) return false;
    const int64_t C = in[1]->dims[1], M = in[1]->dims[0], N = in[0]->dims[0];
    const int64_t H = in[0]->dims[2], W = in[0]->dims[3];
    if (H < 0 || W < 0) return false;
    int64_t tiles = ((H + 3) / 4) * ((W + 3) / 4) * (N > 0 ? N : 1);
    return C >= 16 && M >= 16 && tiles >= 16;
}

/* F(2x2,3x3) from 16 tiles of 2x2 on (a 7x7 map at batch 1 has 16). */
static bool supports_wino2(const op_node *n, const strata_tensor *const *in)
{
    if (!conv_fits(n, in)) return false;
    const int64_t C = in[1]->dims[1], M = in[1]->dims[0], N = in[0]->dims[0];
    const int64_t H = in[0]->dims[2], W = in[0]->dims[3];
    if (H < 0 || W < 0) return false;
    int64_t tiles = ((H + 1) / 2) * ((W + 1) / 2) * (N > 0 ? N : 1);
    return C >= 16 && M >= 16 && tiles >= 16;
}

/* ---- weights: U_xi = (G g G^T)[xi] as 36 (or 16) packed-A operands of M x C ---------------- */

static size_t u_stride(int64_t M, int64_t C, gemm_isa isa)
{
    return (gemm_f32_packed_a_size(M, C, isa) + 63) / 64 * 64;
}

static const double G[6][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

static const double G2[4][3] = {
    {1, 0, 0},
    {0.5, 0.5, 0.5},
    {0.5, -0.5, 0.5},
    {0, 0, 1},
};

/* Transforms wt [M][C][3][3] (in double) for tiles of f x f outputs and packs the (f+2)^2
 * operands at packed + xi * stride. */
static strata_status pack_u(const op_node *n, const float *wt, int64_t M, int64_t C, gemm_isa isa, int f, char *packed)
{
    const int a = f + 2, nxi = a * a;
    const double(*gm)[3] = f == 2 ? G2 : G;
    float *u = mem_alloc_aligned((size_t)(nxi * M * C) * sizeof(float));
    if (!u) return nn_util_oom(n);
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++) {
            const float *g = wt + (m * C + c) * 9;
            double t[6][3];
            for (int i = 0; i < a; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = gm[i][0] * g[j] + gm[i][1] * g[3 + j] + gm[i][2] * g[6 + j];
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++)
                    u[((i * a + j) * M + m) * C + c] =
                        (float)(t[i][0] * gm[j][0] + t[i][1] * gm[j][1] + t[i][2] * gm[j][2]);
        }
    size_t stride = u_stride(M, C, isa);
    strata_status st = STRATA_OK;
    for (int xi = 0; xi < nxi && st == STRATA_OK; xi++)
        st = gemm_f32_pack_a(M, C, u + (int64_t)xi * M * C, C, false, isa, packed + (size_t)xi * stride);
    mem_free_aligned(u);
    return st;
}

static bool const_w(const op_node *n, const strata_tensor *const *in)
{
    const strata_tensor *w = in[1];
    return conv_fits(n, in) && w->data && w->dims[0] > 0 && w->dims[1] > 0;
}

static size_t packed_size_wino(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    if (!const_w(n, in)) return 0;
    return (size_t)xi_of(tile_of(k)) * u_stride(in[1]->dims[0], in[1]->dims[1], k->gemm);
}

static strata_status pack_wino(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    if (!const_w(n, in)) return op_error(n, STRATA_INTERNAL, "no constant 3x3 weight to pack");
    return pack_u(n, in[1]->data, in[1]->dims[0], in[1]->dims[1], k->gemm, tile_of(k), packed);
}

/* ---- the run -------------------------------------------------------------------------------- */

typedef struct wino_job {
    const wino_geom *g;     /* geometry */
    const float *x;         /* input, NCHW */
    float *y;               /* output, NCHW */
    int f, nxi;             /* output tile f x f (4 or 2); (f+2)^2 transformed elements */
    const char *u;          /* nxi packed operands, u_stride bytes apart */
    size_t u_stride;        /* bytes */
    gemm_isa isa;           /* GEMM microkernel family */
    wino_input_fn input;    /* tile transforms of this ISA */
    wino_output_fn output;
    wino_epi epi;           /* fused epilogue */
    int64_t nt, tb, tbp;    /* tiles in all; per block; per block rounded up to 16 lanes */
    int64_t nblocks;        /* blocks of tb tiles */
    size_t ws_bytes;        /* GEMM workspace per thread */
    char *scratch;          /* fused: per thread tiles, V, M and workspace; phased: workspaces */
    size_t thread_bytes;    /* bytes of one thread's part of scratch */
    wino_tile *tiles;       /* phased: tbp per block */
    float *v, *mx;          /* phased: nxi*C*tbp, nxi*M*tbp per block */
    int64_t c_step, n_csteps, m_step, n_msteps; /* phased: channel chunks */
    strata_status *status;  /* per thread: first failure */
} wino_job;

/* Fills the tiles of block b; returns how many it has. */
static int64_t block_tiles(const wino_job *j, int64_t b, wino_tile *tiles)
{
    const wino_geom *g = j->g;
    int64_t t0 = b * j->tb, n = j->nt - t0 < j->tb ? j->nt - t0 : j->tb;
    for (int64_t l = 0; l < n; l++) {
        int64_t t = t0 + l, img = t / g->T, r = t % g->T, ty = r / g->tw, tx = r % g->tw;
        wino_tile *o = &tiles[l];
        o->x_img = img * g->C * g->H * g->W;
        const int64_t f = j->f;
        o->y_off = img * g->M * g->Ho * g->Wo + f * ty * g->Wo + f * tx;
        o->iy0 = (int32_t)(f * ty - g->pt);
        o->ix0 = (int32_t)(f * tx - g->pl);
        o->rows = (int32_t)(g->Ho - f * ty < f ? g->Ho - f * ty : f);
        o->cols = (int32_t)(g->Wo - f * tx < f ? g->Wo - f * tx : f);
    }
    return n;
}

/* M_xi [M x n] = U_xi [M x C] * V_xi [C x n], single-threaded. */
static strata_status gemm_xi(const wino_job *j, int xi, int64_t n, const float *v, float *mx, void *ws)
{
    const wino_geom *g = j->g;
    gemm_args a = gemm_args_make(g->M, n, g->C, NULL, v + xi * g->C * j->tbp, mx + xi * g->M * j->tbp);
    a.ldb = j->tbp;
    a.ldc = j->tbp;
    a.isa = j->isa;
    a.b_in_place = true; /* V_xi's rows as they are (AVX-512): no copy into panels */
    a.workspace = ws;
    a.workspace_bytes = j->ws_bytes;
    return gemm_f32_with_packed_a(&a, j->u + (size_t)xi * j->u_stride, NULL);
}

static void note(const wino_job *j, int thread_index, strata_status st)
{
    if (st != STRATA_OK && j->status[thread_index] == STRATA_OK) j->status[thread_index] = st;
}

/* Fused: one block of tiles per task, V and M in the thread's scratch. */
static void fused_task(void *arg, int64_t b, int thread_index)
{
    const wino_job *j = arg;
    const wino_geom *g = j->g;
    char *s = j->scratch + (size_t)thread_index * j->thread_bytes;
    float *v = (float *)s, *mx = v + j->nxi * g->C * j->tbp, *ws = mx + j->nxi * g->M * j->tbp;
    wino_tile *tiles = (wino_tile *)((char *)ws + j->ws_bytes);
    int64_t n = block_tiles(j, b, tiles);
    j->input(g, tiles, n, j->x, 0, g->C, v, j->tbp);
    for (int xi = 0; xi < j->nxi; xi++) note(j, thread_index, gemm_xi(j, xi, n, v, mx, ws));
    j->output(g, tiles, n, mx, 0, g->M, j->tbp, &j->epi, j->y);
}

static int64_t block_n(const wino_job *j, int64_t b)
{
    return j->nt - b * j->tb < j->tb ? j->nt - b * j->tb : j->tb;
}

/* Phased (fewer blocks than threads): each phase spread over channels or xi. */
static void phase_input(void *arg, int64_t t, int thread_index)
{
    const wino_job *j = arg;
    int64_t b = t / j->n_csteps, c0 = t % j->n_csteps * j->c_step;
    int64_t c1 = c0 + j->c_step < j->g->C ? c0 + j->c_step : j->g->C;
    (void)thread_index;
    j->input(j->g, j->tiles + b * j->tbp, block_n(j, b), j->x, c0, c1,
             j->v + b * j->nxi * j->g->C * j->tbp, j->tbp);
}

static void phase_gemm(void *arg, int64_t t, int thread_index)
{
    const wino_job *j = arg;
    int64_t b = t / j->nxi;
    note(j, thread_index, gemm_xi(j, (int)(t % j->nxi), block_n(j, b), j->v + b * j->nxi * j->g->C * j->tbp,
                                  j->mx + b * j->nxi * j->g->M * j->tbp, j->scratch + (size_t)thread_index * j->thread_bytes));
}

static void phase_output(void *arg, int64_t t, int thread_index)
{
    const wino_job *j = arg;
    int64_t b = t / j->n_msteps, m0 = t % j->n_msteps * j->m_step;
    int64_t m1 = m0 + j->m_step < j->g->M ? m0 + j->m_step : j->g->M;
    (void)thread_index;
    j->output(j->g, j->tiles + b * j->tbp, block_n(j, b), j->mx + b * j->nxi * j->g->M * j->tbp, m0, m1, j->tbp,
              &j->epi, j->y);
}

static size_t round64(size_t x)
{
    return (x + 63) / 64 * 64;
}

/* Tiles per block. One vector group (16 tiles) while the transformed weights U (nxi * M * C
 * floats, streamed once per block) stay below fast_winograd_u_cached bytes, a last-level
 * cache's worth: the block's V and M then sit in L1/L2 between the transforms and the GEMMs (on
 * Zen 4 the 64-tile blocks took up to 1.4x the time on ResNet-50's 64- to 256-channel layers;
 * bench/bench_winograd.c with BENCH_WINO_BLOCKS=1). From there on (512 channels: 38 MB of U in
 * F(4x4), 16 MiB in F(2x2)) every block reads U from memory, so blocks are as large as keeps V
 * and M within about 1 MiB (at least 64, at most 128 tiles), then the count in [16, that]
 * minimising the busiest thread's GEMM columns (rounded up to the microkernel's nr, plus a
 * fixed cost per block). */
size_t fast_winograd_u_cached = (size_t)16 << 20;

static int64_t tile_block(int64_t C, int64_t M, int64_t nt, int threads, int nr, int nxi)
{
    if ((size_t)nxi * (size_t)(M * C) * sizeof(float) < fast_winograd_u_cached) return WINO_LANES;
    int64_t cap = (int64_t)(1 << 20) / (nxi * (C + M) * 4) / 16 * 16;
    cap = cap < 64 ? 64 : cap > 128 ? 128 : cap;
    int64_t best = WINO_LANES, best_cost = -1;
    for (int64_t tb = WINO_LANES; tb <= cap; tb += WINO_LANES) {
        int64_t nb = (nt + tb - 1) / tb;
        int64_t cost = (nb + threads - 1) / threads * ((tb + nr - 1) / nr * nr + 16);
        if (best_cost < 0 || cost <= best_cost) best = tb, best_cost = cost;
        if (tb >= nt) break;
    }
    return best;
}

static strata_status run_wino(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    strata_tensor *y = out[0];
    const strata_tensor *x = in[0], *w = in[1];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    if (!conv_fits(n, in))
        return op_error(n, STRATA_UNSUPPORTED, "%s needs a 3x3, stride 1, dilation 1, single-group f32 NCHW "
                        "conv with pads <= 2", k->name);
    nn_window win;
    strata_status st = nn_util_window(n, 2, &x->dims[2], &w->dims[2], false, &win);
    if (st != STRATA_OK) return st;
    wino_geom g;
    g.C = w->dims[1], g.H = x->dims[2], g.W = x->dims[3];
    g.M = w->dims[0], g.Ho = win.out[0], g.Wo = win.out[1];
    g.pt = win.pb[0], g.pl = win.pb[1];
    const int f = tile_of(k), nxi = xi_of(f);
    g.tw = (g.Wo + f - 1) / f;
    g.T = (g.Ho + f - 1) / f * g.tw;
    const int64_t N = x->dims[0];
    if (y->rank != 4 || y->dims[0] != N || y->dims[1] != g.M || y->dims[2] != g.Ho || y->dims[3] != g.Wo ||
        x->dims[1] != g.C || (b && strata_tensor_numel(b) != g.M))
        return op_error(n, STRATA_INTERNAL, "conv geometry does not match the inferred output");
    if (N == 0 || g.Ho <= 0 || g.Wo <= 0) return STRATA_OK;
    if (g.H > INT32_MAX / 2 || g.W > INT32_MAX / 2)
        return op_error(n, STRATA_UNSUPPORTED, "%s: image of %lld x %lld is too large", k->name,
                        (long long)g.H, (long long)g.W);

    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool simple = act.post == FAST_POST_NONE &&
                  (act.gemm == GEMM_ACT_NONE || act.gemm == GEMM_ACT_RELU || act.gemm == GEMM_ACT_CLIP);
    bool tail = (z && !z_exact) || !simple;
    if (z && z->data == y->data && tail) return fast_in_place_error(n, k->name);

    wino_job j;
    memset(&j, 0, sizeof j);
    j.g = &g;
    j.x = x->data;
    j.y = y->data;
    j.isa = k->gemm;
    j.f = f, j.nxi = nxi;
    j.u_stride = u_stride(g.M, g.C, k->gemm);
    j.epi.bias = b ? b->data : NULL;
    j.epi.z = z_exact && !tail ? z->data : NULL;
    j.epi.act = tail || act.gemm == GEMM_ACT_NONE ? WINO_ACT_NONE
                : act.gemm == GEMM_ACT_RELU      ? WINO_ACT_RELU
                                                 : WINO_ACT_CLIP;
    j.epi.lo = act.act_min, j.epi.hi = act.act_max;
    j.input = f == 2 ? winograd2_f32_input__scalar : winograd_f32_input__scalar;
    j.output = f == 2 ? winograd2_f32_output__scalar : winograd_f32_output__scalar;
#if defined(__x86_64__)
    if (k->gemm == GEMM_ISA_AVX512) {
        j.input = f == 2 ? winograd2_f32_input__avx512 : winograd_f32_input__avx512;
        j.output = f == 2 ? winograd2_f32_output__avx512 : winograd_f32_output__avx512;
    }
    if (k->gemm == GEMM_ISA_AVX2) {
        j.input = f == 2 ? winograd2_f32_input__avx2 : winograd_f32_input__avx2;
        j.output = f == 2 ? winograd2_f32_output__avx2 : winograd_f32_output__avx2;
    }
#endif

    /* the weights: packed at compile time, or transformed here into scratch */
    char *own_u = NULL;
    j.u = fast_packed_input(n, in);
    if (j.u) {
        size_t have = (size_t)strata_tensor_numel(in[op_attr_int(n, "packed_input", 0)]);
        if (have != (size_t)nxi * j.u_stride) /* exactly: F(4x4) and F(2x2) operands differ only in count */
            return op_error(n, STRATA_INVALID_ARGUMENT, "packed weights hold %zu bytes, %zu expected for %d x %lld x %lld",
                            have, (size_t)nxi * j.u_stride, nxi, (long long)g.M, (long long)g.C);
    } else {
        if (!w->data) return op_error(n, STRATA_INVALID_ARGUMENT, "%s: no weights and no packed weights", k->name);
        own_u = mem_alloc_aligned((size_t)nxi * j.u_stride);
        if (!own_u) return nn_util_oom(n);
        if ((st = pack_u(n, w->data, g.M, g.C, k->gemm, f, own_u)) != STRATA_OK) {
            mem_free_aligned(own_u);
            return st;
        }
        j.u = own_u;
    }

    /* blocks of tiles: a multiple of the thread count when there are several */
    int threads = thread_pool_size(ctx->pool);
    j.nt = N * g.T;
    j.tb = tile_block(g.C, g.M, j.nt, threads, gemm_isa_nr(k->gemm), nxi);
    if (j.tb > j.nt) j.tb = j.nt;
    j.tbp = (j.tb + WINO_LANES - 1) / WINO_LANES * WINO_LANES;
    j.nblocks = (j.nt + j.tb - 1) / j.tb;
    gemm_args probe = gemm_args_make(g.M, j.tbp, g.C, NULL, NULL, NULL);
    probe.isa = k->gemm;
    j.ws_bytes = round64(gemm_f32_workspace_size(&probe, false, 1));
    size_t v_bytes = (size_t)(nxi * g.C * j.tbp) * sizeof(float), m_bytes = (size_t)(nxi * g.M * j.tbp) * sizeof(float);
    size_t t_bytes = round64((size_t)j.tbp * sizeof(wino_tile));
    bool fused = j.nblocks >= threads;
    j.thread_bytes = fused ? v_bytes + m_bytes + j.ws_bytes + t_bytes : j.ws_bytes;
    size_t shared = fused ? 0 : (size_t)j.nblocks * (v_bytes + m_bytes + t_bytes);
    size_t status_bytes = round64((size_t)threads * sizeof(strata_status));
    char *mem = mem_alloc_aligned(j.thread_bytes * (size_t)threads + shared + status_bytes);
    if (!mem) {
        mem_free_aligned(own_u);
        return nn_util_oom(n);
    }
    j.scratch = mem;
    j.status = (strata_status *)(mem + j.thread_bytes * (size_t)threads + shared);
    for (int t = 0; t < threads; t++) j.status[t] = STRATA_OK;
    if (fused) {
        thread_pool_parallel_for(ctx->pool, j.nblocks, fused_task, &j);
    } else {
        char *p = mem + j.thread_bytes * (size_t)threads;
        j.v = (float *)p;
        j.mx = (float *)(p + (size_t)j.nblocks * v_bytes);
        j.tiles = (wino_tile *)(p + (size_t)j.nblocks * (v_bytes + m_bytes));
        for (int64_t bl = 0; bl < j.nblocks; bl++) block_tiles(&j, bl, j.tiles + bl * j.tbp);
        int64_t chunks = 4 * (int64_t)threads;
        j.c_step = (g.C + chunks - 1) / chunks;
        j.n_csteps = (g.C + j.c_step - 1) / j.c_step;
        j.m_step = (g.M + chunks - 1) / chunks;
        j.n_msteps = (g.M + j.m_step - 1) / j.m_step;
        thread_pool_parallel_for(ctx->pool, j.nblocks * j.n_csteps, phase_input, &j);
        thread_pool_parallel_for(ctx->pool, j.nblocks * nxi, phase_gemm, &j);
        thread_pool_parallel_for(ctx->pool, j.nblocks * j.n_msteps, phase_output, &j);
    }
    for (int t = 0; t < threads && st == STRATA_OK; t++) st = j.status[t];
    mem_free_aligned(mem);
    mem_free_aligned(own_u);
    if (st == STRATA_OK && tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return st;
}

const fast_kernel fast_winograd_kernels[] = {
    {"conv_f32_winograd__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 35, supports_wino, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 25, supports_wino, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 15, supports_wino, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd_f2__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 33, supports_wino2, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd_f2__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 23, supports_wino2, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd_f2__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 13, supports_wino2, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd__avx512", "Conv", "", CPU_AVX512, GEMM_ISA_AVX512, 35, supports_wino, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd__avx2", "Conv", "", CPU_AVX2, GEMM_ISA_AVX2, 25, supports_wino, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd__scalar", "Conv", "", 0, GEMM_ISA_SCALAR, 15, supports_wino, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd_f2__avx512", "Conv", "", CPU_AVX512, GEMM_ISA_AVX512, 33, supports_wino2, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd_f2__avx2", "Conv", "", CPU_AVX2, GEMM_ISA_AVX2, 23, supports_wino2, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
    {"conv_f32_winograd_f2__scalar", "Conv", "", 0, GEMM_ISA_SCALAR, 13, supports_wino2, run_wino, packed_size_wino, pack_wino, fast_residual_in_simple_epilogue},
};
const size_t fast_winograd_count = ARRAY_LEN(fast_winograd_kernels);
