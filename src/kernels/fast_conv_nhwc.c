/* kernels/fast_conv_nhwc.c — NHWC tactics (com.strata ops with layout = "NHWC", made by
 * compile/layout_nhwc.c): conv_nhwc_f32_gemm: Y[pixels, M] = im2col(X)[pixels, kh*kw*C] x W^T
 * with W^T prepacked as the GEMM's B (1x1 stride-1 unpadded convs read X itself as A), bias per
 * column, residual and activation in the epilogue; conv_nhwc_f32_direct: 1x1 convs with few
 * outputs and small-channel stems as register tiles over pixels reading X in place (no im2col);
 * conv_nhwc_f32_dw: depthwise, vectorised over channels, a row of pixels per call; MaxPool /
 * AveragePool / GlobalAveragePool in NHWC, vectorisable over channels. */
#include <math.h>
#include <string.h>

#include "fast_internal.h"
#include "ref/ref_nn.h"
#include "x86/cnn_x86.h"
#include "x86/nhwc_x86.h"

#define DW_MAX_TAPS 64 /* depthwise kernels up to 8x8 */

static bool nhwc_op(const op_node *n, const char *op)
{
    return strcmp(n->op_type, op) == 0 && strcmp(n->domain, "com.strata") == 0 &&
           strcmp(op_attr_string(n, "layout", "NCHW"), "NHWC") == 0;
}

static bool conv_common(const op_node *n, const strata_tensor *const *in)
{
    if (!nhwc_op(n, "FusedConv") || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (in[0]->rank != 4 || in[1]->rank != 4) return false;
    if (n->n_inputs > 2 && in[2] && (!fast_f32(in[2]) || in[2]->rank != 1)) return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    fast_act a;
    return fast_activation(n, &a);
}

static bool is_dw(const op_node *n, const strata_tensor *const *in)
{
    int64_t g = op_attr_int(n, "group", 1);
    return g > 1 && g == in[0]->dims[3] && in[1]->dims[1] == 1 && in[1]->dims[0] == g;
}

static bool supports_gemm(const op_node *n, const strata_tensor *const *in)
{
    return conv_common(n, in) && op_attr_int(n, "group", 1) == 1;
}

static bool supports_dw(const op_node *n, const strata_tensor *const *in)
{
    if (!conv_common(n, in) || !is_dw(n, in)) return false;
    int64_t taps = in[1]->dims[2] * in[1]->dims[3];
    return taps > 0 && taps <= DW_MAX_TAPS;
}

typedef struct nhwc_shape {
    int64_t N, H, W, C, M, kh, kw, Ho, Wo;
    nn_window win;
} nhwc_shape;

static strata_status geometry(const op_node *n, const strata_tensor *x, const int64_t *kernel,
                              const strata_tensor *y, bool ceil_mode, nhwc_shape *s)
{
    s->N = x->dims[0], s->H = x->dims[1], s->W = x->dims[2], s->C = x->dims[3];
    int64_t sp[2] = {s->H, s->W};
    strata_status st = nn_util_window(n, 2, sp, kernel, ceil_mode, &s->win);
    if (st != STRATA_OK) return st;
    s->kh = s->win.k[0], s->kw = s->win.k[1];
    s->Ho = s->win.out[0], s->Wo = s->win.out[1];
    s->M = y->dims[3];
    if (y->rank != 4 || y->dims[0] != s->N || y->dims[1] != s->Ho || y->dims[2] != s->Wo)
        return op_error(n, STRATA_INTERNAL, "NHWC geometry does not match the inferred output");
    return STRATA_OK;
}

/* ---- GEMM convolution ----------------------------------------------------------------------- */

static bool const_w(const strata_tensor *const *in, int64_t *K, int64_t *M)
{
    const strata_tensor *w = in[1];
    if (!w || !w->data || w->rank != 4 || w->dtype != STRATA_DTYPE_F32) return false;
    for (int d = 0; d < 4; d++)
        if (w->dims[d] <= 0) return false;
    *M = w->dims[0];
    *K = w->dims[1] * w->dims[2] * w->dims[3];
    return true;
}

/* wt[(i*kw + j)*C + c][m] = W[m][c][i][j]: W^T in the row order of the NHWC im2col. */
static void transpose_w(const float *w, int64_t M, int64_t C, int64_t kh, int64_t kw, float *wt)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++) wt[((i * kw + j) * C + c) * M + m] = w[((m * C + c) * kh + i) * kw + j];
}

static size_t packed_size_wt(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    int64_t K, M;
    if (!const_w(in, &K, &M)) return 0;
    return gemm_f32_packed_b_size(K, M, k->gemm);
}

static strata_status pack_wt(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    int64_t K, M;
    if (!const_w(in, &K, &M)) return op_error(n, STRATA_INTERNAL, "no constant weight to pack");
    const strata_tensor *w = in[1];
    float *wt = mem_alloc((size_t)(K * M) * sizeof *wt);
    if (!wt) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory packing %lld x %lld weights", (long long)K, (long long)M);
    transpose_w(w->data, M, w->dims[1], w->dims[2], w->dims[3], wt);
    strata_status st = gemm_f32_pack_b(K, M, wt, M, false, k->gemm, packed);
    mem_free(wt);
    return st;
}

typedef struct im2col_job {
    const nhwc_shape *s;
    const float *x;
    float *a;          /* [N*Ho*Wo, kh*kw*C] */
    int64_t per_task, rows;
} im2col_job;

static void im2col_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const im2col_job *j = arg;
    const nhwc_shape *s = j->s;
    const nn_window *w = &s->win;
    int64_t K = s->kh * s->kw * s->C;
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task < j->rows ? r0 + j->per_task : j->rows;
    for (int64_t r = r0; r < r1; r++) {
        int64_t img = r / (s->Ho * s->Wo), p = r % (s->Ho * s->Wo), oh = p / s->Wo, ow = p % s->Wo;
        float *dst = j->a + r * K;
        const float *xi = j->x + img * s->H * s->W * s->C;
        for (int64_t i = 0; i < s->kh; i++) {
            int64_t ih = oh * w->s[0] - w->pb[0] + i * w->d[0];
            for (int64_t jj = 0; jj < s->kw; jj++) {
                int64_t iw = ow * w->s[1] - w->pb[1] + jj * w->d[1];
                float *d = dst + (i * s->kw + jj) * s->C;
                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) memset(d, 0, (size_t)s->C * sizeof *d);
                else memcpy(d, xi + (ih * s->W + iw) * s->C, (size_t)s->C * sizeof *d);
            }
        }
    }
}

static int64_t tasks_for(int64_t rows, int64_t per_task)
{
    return per_task > 0 ? (rows + per_task - 1) / per_task : 0;
}

/* The geometry of a group-1 NHWC conv (GEMM and direct rows), its weights and bias checked. */
static strata_status dense_geometry(const op_node *n, const strata_tensor *const *in, const strata_tensor *y,
                                    const strata_tensor *b, nhwc_shape *s)
{
    strata_status st = geometry(n, in[0], &in[1]->dims[2], y, false, s);
    if (st != STRATA_OK) return st;
    if (in[1]->dims[1] != s->C || in[1]->dims[0] != s->M)
        return op_error(n, STRATA_INVALID_ARGUMENT, "weights [%lld, %lld, ...] do not fit %lld input / %lld output channels",
                        (long long)in[1]->dims[0], (long long)in[1]->dims[1], (long long)s->C, (long long)s->M);
    if (b && b->dims[0] != s->M)
        return op_error(n, STRATA_INVALID_ARGUMENT, "bias has %lld entries, %lld channels", (long long)b->dims[0], (long long)s->M);
    return STRATA_OK;
}

static strata_status run_gemm(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    strata_tensor *y = out[0];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    nhwc_shape s;
    strata_status st = dense_geometry(n, in, y, b, &s);
    if (st != STRATA_OK) return st;
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool tail = (z && !z_exact) || act.post != FAST_POST_NONE;
    if (z && z->data == y->data && tail) return fast_in_place_error(n, k->name);
    int64_t K = s.kh * s.kw * s.C, rows = s.N * s.Ho * s.Wo;
    if (rows <= 0 || s.M <= 0) return STRATA_OK;
    const nn_window *w = &s.win;
    bool direct = s.kh == 1 && s.kw == 1 && w->s[0] == 1 && w->s[1] == 1 && w->pb[0] == 0 && w->pb[1] == 0 &&
                  s.Ho == s.H && s.Wo == s.W;
    const void *packed = fast_packed_input(n, in);
    if (packed) {
        size_t have = (size_t)strata_tensor_numel(in[op_attr_int(n, "packed_input", 0)]);
        if (have < gemm_f32_packed_b_size(K, s.M, k->gemm))
            return op_error(n, STRATA_INVALID_ARGUMENT, "packed weights hold %zu bytes, %zu needed for %lld x %lld", have,
                            gemm_f32_packed_b_size(K, s.M, k->gemm), (long long)K, (long long)s.M);
    }
    float *cols = NULL, *wt = NULL;
    const float *A = in[0]->data;
    if (!direct) {
        cols = mem_alloc((size_t)(rows * K) * sizeof *cols);
        if (!cols) return nn_util_oom(n);
        im2col_job j = {&s, in[0]->data, cols, 0, rows};
        int64_t want = (int64_t)thread_pool_size(ctx->pool) * 4;
        j.per_task = (rows + want - 1) / want;
        thread_pool_parallel_for(ctx->pool, tasks_for(rows, j.per_task), im2col_task, &j);
        A = cols;
    }
    if (!packed) {
        if (!in[1]->data) {
            mem_free(cols);
            return op_error(n, STRATA_INVALID_ARGUMENT, "weights have neither values nor a packed form");
        }
        wt = mem_alloc((size_t)(K * s.M) * sizeof *wt);
        if (!wt) {
            mem_free(cols);
            return nn_util_oom(n);
        }
        transpose_w(in[1]->data, s.M, s.C, s.kh, s.kw, wt);
    }
    gemm_args a = gemm_args_make(rows, s.M, K, A, wt, y->data);
    a.isa = k->gemm;
    if (b) {
        a.epi.bias_kind = GEMM_BIAS_COL;
        a.epi.bias = b->data;
    }
    if (z_exact && !tail && z->data == y->data) {
        a.beta = 1.0f; /* in place: C holds the residual, the GEMM adds to it */
    } else if (z_exact && !tail) {
        a.epi.residual = z->data;
        a.epi.ldr = s.M;
    }
    if (!tail) {
        a.epi.act = act.gemm;
        a.epi.act_min = act.act_min;
        a.epi.act_max = act.act_max;
    }
    st = packed ? gemm_f32_with_packed_b(&a, packed, ctx->pool) : gemm_f32(&a, ctx->pool);
    mem_free(cols);
    mem_free(wt);
    if (st == STRATA_OK && tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return st;
}

/* ---- packed rows (depthwise and direct) ----------------------------------------------------- */

/* Packed form of the depthwise / direct weights: a 64-byte header (u32 magic, u32 ldw, i64 rows,
 * i64 cols, zero to 64 bytes), then rows x ldw floats (ldw = NHWC_LDW(cols), columns past cols
 * zero). Depthwise: rows = taps, cols = C; direct: rows = kh*kw*C in im2col order, cols = M. */
#define ROWS_MAGIC 0x31574852u /* "RHW1" */
#define ROWS_HEADER 64

static size_t rows_bytes(int64_t rows, int64_t cols)
{
    return ROWS_HEADER + (size_t)(rows * NHWC_LDW(cols)) * sizeof(float);
}

static void rows_fill_header(void *packed, int64_t rows, int64_t cols)
{
    uint8_t *h = packed;
    memset(h, 0, ROWS_HEADER);
    uint32_t magic = ROWS_MAGIC, ldw = (uint32_t)NHWC_LDW(cols);
    memcpy(h, &magic, 4);
    memcpy(h + 4, &ldw, 4);
    memcpy(h + 8, &rows, 8);
    memcpy(h + 16, &cols, 8);
}

/* The rows of a packed form for (rows, cols), or NULL (error set) when it does not match. */
static const float *rows_check(const op_node *n, const strata_tensor *const *in, const void *packed, int64_t rows,
                               int64_t cols)
{
    size_t have = (size_t)strata_tensor_numel(in[op_attr_int(n, "packed_input", 0)]);
    const uint8_t *h = packed;
    uint32_t magic, ldw;
    int64_t r, c;
    memcpy(&magic, h, 4);
    memcpy(&ldw, h + 4, 4);
    memcpy(&r, h + 8, 8);
    memcpy(&c, h + 16, 8);
    if (have < rows_bytes(rows, cols) || magic != ROWS_MAGIC || ldw != NHWC_LDW(cols) || r != rows || c != cols) {
        op_error(n, STRATA_INVALID_ARGUMENT, "packed weights (%zu bytes) are not the %lld x %lld rows this kernel needs",
                 have, (long long)rows, (long long)cols);
        return NULL;
    }
    return (const float *)(h + ROWS_HEADER);
}

/* ---- depthwise ------------------------------------------------------------------------------ */

static bool const_dw(const strata_tensor *const *in)
{
    const strata_tensor *w = in[1];
    return w && w->data && w->rank == 4 && w->dtype == STRATA_DTYPE_F32 && w->dims[0] > 0 && w->dims[1] == 1 &&
           w->dims[2] > 0 && w->dims[3] > 0;
}

/* wt[t*ldw + c] = W[c][0][t], columns past C zero. */
static void dw_pack_rows(const float *w, int64_t C, int64_t taps, float *wt)
{
    int64_t ldw = NHWC_LDW(C);
    memset(wt, 0, (size_t)(taps * ldw) * sizeof *wt);
    for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < taps; t++) wt[t * ldw + c] = w[c * taps + t];
}

static size_t packed_size_dw(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    if (!const_dw(in)) return 0;
    return rows_bytes(in[1]->dims[2] * in[1]->dims[3], in[1]->dims[0]);
}

static strata_status pack_dw(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    if (!const_dw(in)) return op_error(n, STRATA_INTERNAL, "no constant depthwise weight to pack");
    int64_t C = in[1]->dims[0], taps = in[1]->dims[2] * in[1]->dims[3];
    rows_fill_header(packed, taps, C);
    dw_pack_rows(in[1]->data, C, taps, (float *)((uint8_t *)packed + ROWS_HEADER));
    return STRATA_OK;
}

typedef struct dw_job {
    const nhwc_shape *s;
    const float *x, *w, *b, *z; /* w: [kh*kw][ldw] */
    float *y;
    int act;                    /* 0 none, 1 relu, 2 clip */
    float lo, hi;
    gemm_isa isa;
    int prefetch;               /* see dwnhwc_row_args */
    int64_t band;               /* output rows per task */
} dw_job;

static void dw_pixel_c(float *y, int64_t C, const float *const *src, const float *w, int64_t ldw, int ntaps,
                       const float *bias, const float *z, int act, float lo, float hi)
{
    for (int64_t c = 0; c < C; c++) y[c] = bias ? bias[c] : 0.0f;
    for (int t = 0; t < ntaps; t++) {
        if (!src[t]) continue;
        const float *xs = src[t], *ws = w + t * ldw;
        for (int64_t c = 0; c < C; c++) y[c] += xs[c] * ws[c];
    }
    if (z)
        for (int64_t c = 0; c < C; c++) y[c] += z[c];
    if (act == 1)
        for (int64_t c = 0; c < C; c++) y[c] = y[c] > 0 ? y[c] : 0;
    else if (act == 2)
        for (int64_t c = 0; c < C; c++) y[c] = y[c] < lo ? lo : y[c] > hi ? hi : y[c];
}

/* Output row t = (image, oh). */
static void dw_one_row(const dw_job *j, int64_t t)
{
    const nhwc_shape *s = j->s;
    const nn_window *w = &s->win;
    int64_t img = t / s->Ho, oh = t % s->Ho;
    const float *xi = j->x + img * s->H * s->W * s->C;
    int64_t o = t * s->Wo * s->C;
#if defined(__x86_64__)
    if (j->isa == GEMM_ISA_AVX512 || j->isa == GEMM_ISA_AVX2) {
        dwnhwc_row_args a = {xi, s->H, s->W, s->C, s->Wo, oh, s->kh, s->kw, w->s[0], w->s[1], w->d[0], w->d[1],
                             w->pb[0], w->pb[1], j->w, NHWC_LDW(s->C), j->b, j->z ? j->z + o : NULL, j->y + o,
                             j->act, j->lo, j->hi, j->prefetch, 0};
        if (j->isa == GEMM_ISA_AVX512) dwnhwc_f32_row__avx512(&a);
        else dwnhwc_f32_row__avx2(&a);
        return;
    }
#endif
    const float *src[DW_MAX_TAPS];
    int ntaps = (int)(s->kh * s->kw);
    for (int64_t ow = 0; ow < s->Wo; ow++) {
        for (int64_t i = 0; i < s->kh; i++) {
            int64_t ih = oh * w->s[0] - w->pb[0] + i * w->d[0];
            for (int64_t jj = 0; jj < s->kw; jj++) {
                int64_t iw = ow * w->s[1] - w->pb[1] + jj * w->d[1];
                src[i * s->kw + jj] = ih < 0 || ih >= s->H || iw < 0 || iw >= s->W ? NULL : xi + (ih * s->W + iw) * s->C;
            }
        }
        int64_t op = o + ow * s->C;
        dw_pixel_c(j->y + op, s->C, src, j->w, NHWC_LDW(s->C), ntaps, j->b, j->z ? j->z + op : NULL, j->act, j->lo, j->hi);
    }
}

/* Task t: a band of consecutive output rows, so that a thread finds the input rows its previous
 * row read still in its own cache. */
static void dw_band(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const dw_job *j = arg;
    int64_t rows = j->s->N * j->s->Ho, r1 = (t + 1) * j->band < rows ? (t + 1) * j->band : rows;
    for (int64_t r = t * j->band; r < r1; r++) dw_one_row(j, r);
}

/* Bands of rows: one task when single-threaded; else about one per 16K output floats (so a
 * small layer does not pay more hand-offs than it gains), at least one and at most 4 per thread
 * (the pool hands them out dynamically, which evens out a busy core), of equal size. */
static int64_t dw_tasks(const nhwc_shape *s, const kernel_ctx *ctx, int64_t *band)
{
    int64_t rows = s->N * s->Ho, threads = thread_pool_size(ctx->pool);
    int64_t want = rows * s->Wo * s->C / 16384;
    if (want > threads * 4) want = threads * 4;
    if (want < threads) want = threads;
    if (threads <= 1 || want > rows) want = threads <= 1 ? 1 : rows;
    *band = (rows + want - 1) / want;
    return (rows + *band - 1) / *band;
}

static strata_status run_dw(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                            strata_tensor *const *out, const kernel_ctx *ctx)
{
    strata_tensor *y = out[0];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    nhwc_shape s;
    strata_status st = geometry(n, in[0], &in[1]->dims[2], y, false, &s);
    if (st != STRATA_OK) return st;
    if (s.M != s.C || in[1]->dims[0] != s.C || in[1]->dims[1] != 1 || (b && b->dims[0] != s.C))
        return op_error(n, STRATA_INVALID_ARGUMENT, "depthwise conv needs as many outputs, filters and biases as channels (%lld)", (long long)s.C);
    if (s.kh * s.kw > DW_MAX_TAPS || s.kh * s.kw <= 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "depthwise kernel of %lld taps (at most %d)", (long long)(s.kh * s.kw), DW_MAX_TAPS);
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool simple_act = act.post == FAST_POST_NONE &&
                      (act.gemm == GEMM_ACT_NONE || act.gemm == GEMM_ACT_RELU || act.gemm == GEMM_ACT_CLIP);
    bool tail = (z && !z_exact) || !simple_act;
    int64_t taps = s.kh * s.kw;
    const void *packed = fast_packed_input(n, in);
    const float *wp = NULL;
    float *wt = NULL;
    if (packed) {
        if (!(wp = rows_check(n, in, packed, taps, s.C))) return STRATA_INVALID_ARGUMENT;
    } else {
        if (!in[1]->data) return op_error(n, STRATA_INVALID_ARGUMENT, "depthwise weights have neither values nor a packed form");
        wt = mem_alloc((size_t)(taps * NHWC_LDW(s.C)) * sizeof *wt);
        if (!wt) return nn_util_oom(n);
        dw_pack_rows(in[1]->data, s.C, taps, wt);
        wp = wt;
    }
    dw_job j = {&s, in[0]->data, wp, b ? b->data : NULL, z_exact && !tail ? z->data : NULL, y->data, 0,
                act.act_min, act.act_max, k->gemm, 0, 1};
    if (!tail) j.act = act.gemm == GEMM_ACT_RELU ? 1 : act.gemm == GEMM_ACT_CLIP ? 2 : 0;
    /* Measured on MobileNetV2 (1 thread): software prefetch makes the layers whose input and
     * output pass 8 MiB 1.1-1.5x faster (batch 8) and the cache-resident ones 1.1x slower. */
    j.prefetch = (s.N * (s.H * s.W + s.Ho * s.Wo) * s.C) * (int64_t)sizeof(float) > ((int64_t)8 << 20);
    thread_pool_parallel_for(ctx->pool, dw_tasks(&s, ctx, &j.band), dw_band, &j);
    mem_free(wt);
    if (tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return STRATA_OK;
}

/* ---- direct convolution (1x1 up to a few hundred outputs, small-channel stems) ---------------- */

/* wide: the AVX-512 tiles (up to 64 outputs a pass); the AVX2 ones (16) lose to the GEMM on
 * 1x1 convs with many outputs and long inputs. */
static bool direct_geometry_ok(const op_node *n, const strata_tensor *const *in, bool wide)
{
    const strata_tensor *w = in[1];
    for (int d = 0; d < 4; d++)
        if (w->dims[d] <= 0) return false;
    int64_t C = w->dims[1], M = w->dims[0], kh = w->dims[2], kw = w->dims[3];
    size_t nd = 0;
    const int64_t *dil = op_attr_ints(n, "dilations", &nd);
    if (dil && nd == 2 && kw > 1 && dil[1] != 1) return false; /* a kernel row must be contiguous */
    if (kh * kw * C > NHWC_CONV_ROW_MAX_K || kh > 64) return false;
    /* Measured on MobileNetV2 (1 thread): in-place pixel tiles beat im2col/packed-A GEMM for 1x1
     * convs up to 576 outputs (0.7-0.98x its time); from 960 outputs on 7x7 images the GEMM's
     * 14x32 tiles win. Stems: windows of a few channels, where im2col costs most. */
    if (kh == 1 && kw == 1) return wide ? M <= 576 : M <= 128 || (C <= 32 && M <= 576);
    return kw * C <= 32 && M <= 128;
}

static bool supports_direct_avx512(const op_node *n, const strata_tensor *const *in)
{
    return supports_gemm(n, in) && direct_geometry_ok(n, in, true);
}

static bool supports_direct_avx2(const op_node *n, const strata_tensor *const *in)
{
    return supports_gemm(n, in) && direct_geometry_ok(n, in, false);
}

/* wt[((i*kw + j)*C + c)*ldw + m] = W[m][c][i][j], columns past M zero. */
static void direct_pack_rows(const float *w, int64_t M, int64_t C, int64_t kh, int64_t kw, float *wt)
{
    int64_t ldw = NHWC_LDW(M);
    memset(wt, 0, (size_t)(kh * kw * C * ldw) * sizeof *wt);
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++) wt[((i * kw + j) * C + c) * ldw + m] = w[((m * C + c) * kh + i) * kw + j];
}

static size_t packed_size_direct(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    int64_t K, M;
    if (!const_w(in, &K, &M)) return 0;
    return rows_bytes(K, M);
}

static strata_status pack_direct(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    int64_t K, M;
    if (!const_w(in, &K, &M)) return op_error(n, STRATA_INTERNAL, "no constant weight to pack");
    rows_fill_header(packed, K, M);
    const strata_tensor *w = in[1];
    direct_pack_rows(w->data, M, w->dims[1], w->dims[2], w->dims[3], (float *)((uint8_t *)packed + ROWS_HEADER));
    return STRATA_OK;
}

typedef struct direct_job {
    const nhwc_shape *s;
    const float *x, *w, *b, *z; /* w: [kh*kw*C][ldw] */
    float *y;
    int act;
    float lo, hi;
    gemm_isa isa;
    int64_t chunk;              /* pointwise: pixels per task */
    int prefetch;               /* see nhwc_direct_args */
} direct_job;

static void direct_call(gemm_isa isa, const nhwc_direct_args *a, int64_t pixels)
{
#if defined(__x86_64__)
    if (isa == GEMM_ISA_AVX512) nhwc_direct_f32__avx512(a, pixels);
    else nhwc_direct_f32__avx2(a, pixels);
#else
    (void)isa, (void)a, (void)pixels;
#endif
}

/* Pointwise, stride 1, no padding: the pixels of all images are one run; task t: a chunk. */
static void direct_pw_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const direct_job *j = arg;
    const nhwc_shape *s = j->s;
    int64_t total = s->N * s->H * s->W, p0 = t * j->chunk, np = total - p0 < j->chunk ? total - p0 : j->chunk;
    int64_t off = 0;
    const float *w = j->w;
    nhwc_direct_args a = {j->x + p0 * s->C, s->C, 1, &off, &w, s->C, NHWC_LDW(s->M), s->M, j->b,
                          j->z ? j->z + p0 * s->M : NULL, j->y + p0 * s->M, j->act, j->lo, j->hi, j->prefetch};
    direct_call(j->isa, &a, np);
}

/* One output row of a group-1 NHWC conv (see fast_internal.h): the interior pixels read the
 * image in place, a border pixel reads a zero-padded copy of its window. */
void nhwc_conv_row_run(const nhwc_conv_row *c, int64_t oh, const float *z, float *y)
{
    int64_t C = c->C, M = c->M, ldw = NHWC_LDW(M);
    if (c->isa != GEMM_ISA_AVX512 && c->isa != GEMM_ISA_AVX2) {
        for (int64_t ow = 0; ow < c->Wo; ow++) {
            float *yp = y + ow * M;
            for (int64_t m = 0; m < M; m++) yp[m] = c->b ? c->b[m] : 0.0f;
            for (int64_t i = 0; i < c->kh; i++) {
                int64_t ih = oh * c->sh - c->ph + i * c->dh;
                for (int64_t jj = 0; ih >= 0 && ih < c->H && jj < c->kw; jj++) {
                    int64_t iw = ow * c->sw - c->pw + jj * c->dw;
                    if (iw < 0 || iw >= c->W) continue;
                    for (int64_t ci = 0; ci < C; ci++) {
                        float v = c->x[(ih * c->W + iw) * C + ci];
                        const float *wr = c->w + ((i * c->kw + jj) * C + ci) * ldw;
                        for (int64_t m = 0; m < M; m++) yp[m] += v * wr[m];
                    }
                }
            }
            for (int64_t m = 0; m < M; m++) {
                float v = yp[m] + (z ? z[ow * M + m] : 0.0f);
                yp[m] = c->act == 1 ? (v > 0 ? v : 0) : c->act == 2 ? (v < c->lo ? c->lo : v > c->hi ? c->hi : v) : v;
            }
        }
        return;
    }
    int64_t off[64];
    const float *segw[64];
    int nseg = 0;
    for (int64_t i = 0; i < c->kh && i < 64; i++) {
        int64_t ih = oh * c->sh - c->ph + i * c->dh;
        if (ih < 0 || ih >= c->H) continue;
        off[nseg] = ih * c->W * C;
        segw[nseg] = c->w + i * c->kw * C * ldw;
        nseg++;
    }
    int64_t span = (c->kw - 1) * c->dw;
    int64_t lo = (c->pw + c->sw - 1) / c->sw;
    int64_t hi = c->W - 1 - span + c->pw >= 0 ? (c->W - 1 - span + c->pw) / c->sw + 1 : 0;
    if (hi > c->Wo) hi = c->Wo;
    if (lo > hi) lo = hi;
    if (hi > lo) {
        nhwc_direct_args a = {c->x + (lo * c->sw - c->pw) * C, c->sw * C, nseg, off, segw, c->kw * C, ldw, M, c->b,
                              z ? z + lo * M : NULL, y + lo * M, c->act, c->lo, c->hi, 0};
        direct_call(c->isa, &a, hi - lo);
    }
    float buf[NHWC_CONV_ROW_MAX_K];
    int64_t zero = 0;
    const float *wall = c->w;
    for (int64_t ow = 0; ow < c->Wo; ow++) {
        if (ow == lo && hi > lo) ow = hi;
        if (ow >= c->Wo) break;
        for (int64_t i = 0; i < c->kh; i++) {
            int64_t ih = oh * c->sh - c->ph + i * c->dh;
            for (int64_t jj = 0; jj < c->kw; jj++) {
                int64_t iw = ow * c->sw - c->pw + jj * c->dw;
                float *d = buf + (i * c->kw + jj) * C;
                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) memset(d, 0, (size_t)C * sizeof *d);
                else memcpy(d, c->x + (ih * c->W + iw) * C, (size_t)C * sizeof *d);
            }
        }
        nhwc_direct_args a = {buf, 0, 1, &zero, &wall, c->kh * c->kw * C, ldw, M, c->b,
                              z ? z + ow * M : NULL, y + ow * M, c->act, c->lo, c->hi, 0};
        direct_call(c->isa, &a, 1);
    }
}

/* Any window: task t is output row (image, oh). */
static void direct_row_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const direct_job *j = arg;
    const nhwc_shape *s = j->s;
    const nn_window *w = &s->win;
    int64_t img = t / s->Ho, oh = t % s->Ho, o = t * s->Wo * s->M;
    nhwc_conv_row c = {j->x + img * s->H * s->W * s->C, s->H, s->W, s->C, s->kh, s->kw, w->s[0], w->s[1],
                       w->d[0], w->d[1], w->pb[0], w->pb[1], s->Wo, s->M, j->w, j->b, j->act, j->lo, j->hi, j->isa};
    nhwc_conv_row_run(&c, oh, j->z ? j->z + o : NULL, j->y + o);
}

static strata_status run_direct(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out, const kernel_ctx *ctx)
{
    strata_tensor *y = out[0];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    nhwc_shape s;
    strata_status st = dense_geometry(n, in, y, b, &s);
    if (st != STRATA_OK) return st;
    int64_t K = s.kh * s.kw * s.C;
    if (K > NHWC_CONV_ROW_MAX_K || s.kh > 64 || (s.kw > 1 && s.win.d[1] != 1))
        return op_error(n, STRATA_INVALID_ARGUMENT, "direct conv needs a window of at most %d floats with contiguous rows", NHWC_CONV_ROW_MAX_K);
    if (s.N * s.Ho * s.Wo <= 0 || s.M <= 0) return STRATA_OK;
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool simple_act = act.post == FAST_POST_NONE &&
                      (act.gemm == GEMM_ACT_NONE || act.gemm == GEMM_ACT_RELU || act.gemm == GEMM_ACT_CLIP);
    bool tail = (z && !z_exact) || !simple_act;
    if (z && z->data == y->data && tail) return fast_in_place_error(n, k->name);
    const void *packed = fast_packed_input(n, in);
    const float *wp = NULL;
    float *wt = NULL;
    if (packed) {
        if (!(wp = rows_check(n, in, packed, K, s.M))) return STRATA_INVALID_ARGUMENT;
    } else {
        if (!in[1]->data) return op_error(n, STRATA_INVALID_ARGUMENT, "weights have neither values nor a packed form");
        wt = mem_alloc((size_t)(K * NHWC_LDW(s.M)) * sizeof *wt);
        if (!wt) return nn_util_oom(n);
        direct_pack_rows(in[1]->data, s.M, s.C, s.kh, s.kw, wt);
        wp = wt;
    }
    direct_job j = {&s, in[0]->data, wp, b ? b->data : NULL, z_exact && !tail ? z->data : NULL, y->data, 0,
                    act.act_min, act.act_max, k->gemm, 0, 0};
    if (!tail) j.act = act.gemm == GEMM_ACT_RELU ? 1 : act.gemm == GEMM_ACT_CLIP ? 2 : 0;
    const nn_window *w = &s.win;
    bool pw = s.kh == 1 && s.kw == 1 && w->s[0] == 1 && w->s[1] == 1 && w->pb[0] == 0 && w->pb[1] == 0 &&
              s.Ho == s.H && s.Wo == s.W;
    if (pw) {
        /* As for depthwise: activations past 8 MiB come from memory (batch 8). Measured on
         * MobileNetV2 batch 8: 0.6-0.8x the time with 24 or more inputs and outputs, 1.1-1.2x
         * with 16 (few FMAs to hide the prefetches behind). */
        j.prefetch = s.N * s.H * s.W * (s.C + s.M) * (int64_t)sizeof(float) > ((int64_t)8 << 20) && s.C >= 24 &&
                     s.M >= 24;
        /* chunks of 16*12 pixels (whole tiles), at least 4 per thread when there are enough */
        int64_t total = s.N * s.H * s.W, threads = thread_pool_size(ctx->pool);
        j.chunk = (total + threads * 4 - 1) / (threads * 4);
        j.chunk = j.chunk < 192 ? 192 : (j.chunk + 47) / 48 * 48;
        thread_pool_parallel_for(ctx->pool, (total + j.chunk - 1) / j.chunk, direct_pw_task, &j);
    } else {
        thread_pool_parallel_for(ctx->pool, s.N * s.Ho, direct_row_task, &j);
    }
    mem_free(wt);
    if (tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return STRATA_OK;
}

/* ---- pools ---------------------------------------------------------------------------------- */

static bool supports_pool(const op_node *n, const strata_tensor *const *in)
{
    if (n->n_inputs != 1 || n->n_outputs != 1 || !fast_f32(in[0]) || in[0]->rank != 4) return false;
    if (nhwc_op(n, "GlobalAveragePool")) return true;
    if (!nhwc_op(n, "MaxPool") && !nhwc_op(n, "AveragePool")) return false;
    size_t nk = 0;
    const int64_t *ks = op_attr_ints(n, "kernel_shape", &nk);
    return ks && nk == 2 && op_attr_int(n, "storage_order", 0) == 0;
}

typedef struct pool_job {
    const nhwc_shape *s;
    const float *x;
    float *y;
    bool max, include_pad;
} pool_job;

static void pool_row(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const pool_job *j = arg;
    const nhwc_shape *s = j->s;
    const nn_window *w = &s->win;
    int64_t img = t / s->Ho, oh = t % s->Ho, C = s->C;
    const float *xi = j->x + img * s->H * s->W * C;
    for (int64_t ow = 0; ow < s->Wo; ow++) {
        float *y = j->y + (t * s->Wo + ow) * C;
        for (int64_t c = 0; c < C; c++) y[c] = j->max ? -INFINITY : 0.0f;
        int64_t count = 0;
        for (int64_t i = 0; i < s->kh; i++) {
            int64_t ih = oh * w->s[0] - w->pb[0] + i * w->d[0];
            for (int64_t jj = 0; jj < s->kw; jj++) {
                int64_t iw = ow * w->s[1] - w->pb[1] + jj * w->d[1];
                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) {
                    /* count_include_pad counts the explicit padding, not what ceil_mode adds */
                    if (ih < s->H + w->pe[0] && iw < s->W + w->pe[1]) count += j->include_pad;
                    continue;
                }
                const float *x = xi + (ih * s->W + iw) * C;
                count++;
                if (j->max)
                    for (int64_t c = 0; c < C; c++) y[c] = x[c] > y[c] ? x[c] : y[c];
                else
                    for (int64_t c = 0; c < C; c++) y[c] += x[c];
            }
        }
        if (!j->max) {
            float inv = count > 0 ? 1.0f / (float)count : 0.0f;
            for (int64_t c = 0; c < C; c++) y[c] *= inv;
        }
    }
}

typedef struct gap_job {
    const float *x;
    float *y;
    int64_t HW, C;
    bool avx512; /* gap_nhwc_f32__avx512 */
} gap_job;

#define GAP_CHUNK 2048 /* channels summed at once in a local array (8 KiB, in L1) */

static void gap_image(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const gap_job *j = arg;
    float *y = j->y + t * j->C;
    const float *x = j->x + t * j->HW * j->C;
#if defined(__x86_64__)
    if (j->avx512) {
        pool_f32_gap_nhwc__avx512(x, j->HW, j->C, y);
        return;
    }
#endif
    float inv = j->HW > 0 ? 1.0f / (float)j->HW : 0.0f;
    /* pixel by pixel, each one's channels added to a local array: x streams front to back (a
     * 16-channel column at a time read a line per pixel, 5 KiB apart: 0.16 ms for MobileNetV2's
     * 8 x 7 x 7 x 1280); summing into y[] through memory kept the loop scalar (0.55 ms) */
    float acc[GAP_CHUNK];
    for (int64_t c0 = 0; c0 < j->C; c0 += GAP_CHUNK) {
        int64_t cn = j->C - c0 < GAP_CHUNK ? j->C - c0 : GAP_CHUNK;
        for (int64_t c = 0; c < cn; c++) acc[c] = 0.0f;
        for (int64_t p = 0; p < j->HW; p++) {
            const float *xp = x + p * j->C + c0;
            int64_t c = 0;
            for (; c + 16 <= cn; c += 16) /* fixed-count pieces: -O2 vectorises them */
                for (int i = 0; i < 16; i++) acc[c + i] += xp[c + i];
            for (; c < cn; c++) acc[c] += xp[c];
        }
        for (int64_t c = 0; c < cn; c++) y[c0 + c] = acc[c] * inv;
    }
}

static strata_status run_pool(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    if (strcmp(n->op_type, "GlobalAveragePool") == 0) {
        gap_job j = {x->data, y->data, x->dims[1] * x->dims[2], x->dims[3], k->gemm == GEMM_ISA_AVX512};
        thread_pool_parallel_for(ctx->pool, x->dims[0], gap_image, &j);
        return STRATA_OK;
    }
    nhwc_shape s;
    strata_status st = geometry(n, x, NULL, y, op_attr_int(n, "ceil_mode", 0) != 0, &s);
    if (st != STRATA_OK) return st;
    if (s.M != s.C) return op_error(n, STRATA_INTERNAL, "pool output channels differ from the input's");
    pool_job j = {&s, x->data, y->data, strcmp(n->op_type, "MaxPool") == 0, op_attr_int(n, "count_include_pad", 0) != 0};
    thread_pool_parallel_for(ctx->pool, s.N * s.Ho, pool_row, &j);
    return STRATA_OK;
}

const fast_kernel fast_conv_nhwc_kernels[] = {
    {"conv_nhwc_f32_gemm__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 40, supports_gemm, run_gemm, packed_size_wt, pack_wt, fast_residual_in_epilogue},
    {"conv_nhwc_f32_gemm__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 35, supports_gemm, run_gemm, packed_size_wt, pack_wt, fast_residual_in_epilogue},
    {"conv_nhwc_f32_gemm__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 32, supports_gemm, run_gemm, packed_size_wt, pack_wt, fast_residual_in_epilogue},
    {"conv_nhwc_f32_direct__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 45, supports_direct_avx512, run_direct, packed_size_direct, pack_direct, fast_residual_in_simple_epilogue},
    {"conv_nhwc_f32_direct__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 37, supports_direct_avx2, run_direct, packed_size_direct, pack_direct, fast_residual_in_simple_epilogue},
    {"conv_nhwc_f32_dw__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 40, supports_dw, run_dw, packed_size_dw, pack_dw, NULL},
    {"conv_nhwc_f32_dw__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 35, supports_dw, run_dw, packed_size_dw, pack_dw, NULL},
    {"conv_nhwc_f32_dw__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 32, supports_dw, run_dw, packed_size_dw, pack_dw, NULL},
    {"maxpool_nhwc_f32__scalar", "MaxPool", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_pool, run_pool, NULL, NULL, NULL},
    {"avgpool_nhwc_f32__scalar", "AveragePool", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_pool, run_pool, NULL, NULL, NULL},
    {"gap_nhwc_f32__avx512", "GlobalAveragePool", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 15, supports_pool, run_pool, NULL, NULL, NULL},
    {"gap_nhwc_f32__scalar", "GlobalAveragePool", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_pool, run_pool, NULL, NULL, NULL},
};
const size_t fast_conv_nhwc_count = ARRAY_LEN(fast_conv_nhwc_kernels);
