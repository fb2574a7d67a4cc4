/* kernels/fast_pool.c — f32 pooling tactics over NCHW, threaded over channels: MaxPool (2-D,
 * no Indices output), AveragePool (2-D, count_include_pad), GlobalAveragePool, GlobalMaxPool.
 * Plain C loops that the compiler vectorises; the window bounds are clipped once per row; MaxPool
 * takes column maxima of whole rows, then window maxima along the row. */
#include <math.h>
#include <string.h>

#include "fast_internal.h"
#include "ref/ref_nn.h"
#include "x86/cnn_x86.h"

static bool onnx_op(const op_node *n, const char *name)
{
    return n->domain[0] == 0 && strcmp(n->op_type, name) == 0;
}

static bool supports_pool(const op_node *n, const strata_tensor *const *in)
{
    if (!(onnx_op(n, "MaxPool") || onnx_op(n, "AveragePool")) || n->n_inputs < 1 || !fast_f32(in[0]))
        return false;
    if (in[0]->rank != 4 || n->n_outputs > 1) return false; /* Indices output: reference */
    size_t nk = 0;
    op_attr_ints(n, "kernel_shape", &nk);
    return nk == 2;
}

static bool supports_global(const op_node *n, const strata_tensor *const *in)
{
    return (onnx_op(n, "GlobalAveragePool") || onnx_op(n, "GlobalMaxPool")) && n->n_inputs == 1 &&
           fast_f32(in[0]) && in[0]->rank >= 3;
}

#define POOL_TASK_FLOATS 4096 /* input floats a task covers at least (whole planes) */

typedef struct pool_job {
    const float *x;
    float *y;
    int64_t H, W, Ho, Wo;
    nn_window win;
    bool is_max, include_pad;
    float *tmp;        /* max rows: per thread, tmp_stride floats each (NULL: general loop) */
    int64_t tmp_stride;
    bool avx512;       /* use the AVX-512 row pieces */
    bool max_2x2;      /* MaxPool 2x2 stride 2, every window inside the input: max_2x2_channel */
    int64_t planes, planes_per_task;
} pool_job;

/* max without NaN (the caller checked): branch-free (maxss / maxps). */
static inline float max_nan(float a, float b)
{
    return b > a ? b : a;
}

/* True when the plane holds a NaN (then the general loop, whose NaN wins, runs). */
static bool has_nan(const float *x, int64_t n)
{
    int any = 0;
    for (int64_t i = 0; i < n; i++) any |= x[i] != x[i];
    return any != 0;
}

/* MaxPool without dilation or NaN: per output row, the column maxima of its (clipped) window rows
 * into a row padded with -inf (16-wide fixed-count loops the compiler vectorises), then the
 * window maxima along the row. tmp holds W + pads + 16 floats. */
static void max_channel_rows(const pool_job *j, const float *x, float *y, float *tmp)
{
    const nn_window *w = &j->win;
    const int64_t W = j->W, pb = w->pb[1], kw = w->k[1], sw = w->s[1];
    const int64_t padded = (j->Wo - 1) * sw + kw; /* columns the windows touch, from -pb */
    for (int64_t oh = 0; oh < j->Ho; oh++) {
        int64_t h0 = oh * w->s[0] - w->pb[0], h1 = h0 + w->k[0];
        if (h0 < 0) h0 = 0;
        if (h1 > j->H) h1 = j->H;
        float *row = tmp + pb; /* row[c] for input column c */
        int64_t cw = W < padded - pb ? W : padded - pb; /* input columns any window reads */
        /* -inf where the windows reach into the padding; the columns between come from the first
         * row (a fill of the whole row was 40% of ResNet-50's maxpool) */
        for (int64_t c = 0; c < pb; c++) tmp[c] = -INFINITY;
        for (int64_t c = pb + (cw > 0 ? cw : 0); c < padded; c++) tmp[c] = -INFINITY;
        if (h0 < h1 && cw > 0) memcpy(row, x + h0 * W, (size_t)cw * sizeof *row);
        for (int64_t ih = h0 + 1; ih < h1; ih++) {
            const float *xr = x + ih * W;
#if defined(__x86_64__)
            if (j->avx512) {
                pool_f32_max_row__avx512(row, xr, cw);
                continue;
            }
#endif
            int64_t c = 0;
            for (; c + 16 <= cw; c += 16)
                for (int t = 0; t < 16; t++) row[c + t] = max_nan(row[c + t], xr[c + t]);
            for (; c < cw; c++) row[c] = max_nan(row[c], xr[c]);
        }
        float *yr = y + oh * j->Wo;
        if (h0 >= h1) { /* a window entirely in the padding: -inf, as the reference */
            for (int64_t ow = 0; ow < j->Wo; ow++) yr[ow] = -INFINITY;
            continue;
        }
#if defined(__x86_64__)
        if (j->avx512 && kw == 3 && sw == 2) {
            pool_f32_max_k3s2__avx512(tmp, yr, j->Wo);
            continue;
        }
#endif
        for (int64_t ow = 0; ow < j->Wo; ow++) {
            const float *p = tmp + ow * sw;
            float m = p[0];
            for (int64_t k = 1; k < kw; k++) m = max_nan(m, p[k]);
            yr[ow] = m;
        }
    }
}

/* MaxPool 2x2 stride 2 with every window inside the plane (the common CNN downsampling): each
 * output folds its four inputs in the reference's order (row by row, a NaN first in its window
 * stays, a later one is passed over), so no NaN scan and no row buffer are needed. */
static void max_2x2_channel(const pool_job *j, const float *x, float *y)
{
    const int64_t W = j->W, Wo = j->Wo;
    for (int64_t oh = 0; oh < j->Ho; oh++) {
        const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
        float *yr = y + oh * Wo;
#if defined(__x86_64__)
        if (j->avx512) {
            pool_f32_max_2x2_row__avx512(r0, r1, yr, Wo);
            continue;
        }
#endif
        for (int64_t ow = 0; ow < Wo; ow++) {
            float m = r0[2 * ow];
            m = max_nan(m, r0[2 * ow + 1]);
            m = max_nan(m, r1[2 * ow]);
            yr[ow] = max_nan(m, r1[2 * ow + 1]);
        }
    }
}

static void pool_plane(const pool_job *j, int64_t t, int thread_index)
{
    const nn_window *w = &j->win;
    const float *x = j->x + t * j->H * j->W;
    float *y = j->y + t * j->Ho * j->Wo;
    if (j->max_2x2) {
        max_2x2_channel(j, x, y);
        return;
    }
#if defined(__x86_64__)
    bool nan = j->avx512 ? pool_f32_has_nan__avx512(x, j->H * j->W) : has_nan(x, j->H * j->W);
#else
    bool nan = has_nan(x, j->H * j->W);
#endif
    if (j->tmp && !nan) {
        max_channel_rows(j, x, y, j->tmp + thread_index * j->tmp_stride);
        return;
    }
    for (int64_t oh = 0; oh < j->Ho; oh++)
        for (int64_t ow = 0; ow < j->Wo; ow++) {
            int64_t h0 = oh * w->s[0] - w->pb[0], w0 = ow * w->s[1] - w->pb[1];
            float acc = j->is_max ? -INFINITY : 0.0f;
            int64_t count = 0;
            for (int64_t i = 0; i < w->k[0]; i++) {
                int64_t ih = h0 + i * w->d[0];
                if (ih < 0 || ih >= j->H) continue;
                const float *xr = x + ih * j->W;
                for (int64_t k = 0; k < w->k[1]; k++) {
                    int64_t iw = w0 + k * w->d[1];
                    if (iw < 0 || iw >= j->W) continue;
                    float v = xr[iw];
                    if (j->is_max) acc = v > acc || count == 0 ? v : acc; /* the reference: a NaN first in its window stays */
                    else acc += v;
                    count++;
                }
            }
            if (!j->is_max) {
                int64_t div = count;
                if (j->include_pad) { /* the window clipped to the padded input */
                    int64_t hh = 0, ww = 0;
                    for (int64_t i = 0; i < w->k[0]; i++) {
                        int64_t ih = h0 + i * w->d[0];
                        if (ih >= -w->pb[0] && ih < j->H + w->pe[0]) hh++;
                    }
                    for (int64_t k = 0; k < w->k[1]; k++) {
                        int64_t iw = w0 + k * w->d[1];
                        if (iw >= -w->pb[1] && iw < j->W + w->pe[1]) ww++;
                    }
                    div = hh * ww;
                }
                acc = div ? acc / (float)div : 0.0f;
            }
            y[oh * j->Wo + ow] = acc;
        }
}

/* A task pools planes_per_task planes (small planes: one a task cost more in dispatch than in
 * work: the digits CNN's 8x8 planes at batch 8 took 20 us, a fifth of its run). */
static void pool_channels(void *arg, int64_t t, int thread_index)
{
    const pool_job *j = arg;
    int64_t p1 = (t + 1) * j->planes_per_task < j->planes ? (t + 1) * j->planes_per_task : j->planes;
    for (int64_t p = t * j->planes_per_task; p < p1; p++) pool_plane(j, p, thread_index);
}

static strata_status run_pool(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)k;
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    pool_job j;
    memset(&j, 0, sizeof j);
    j.is_max = onnx_op(n, "MaxPool");
    j.include_pad = op_attr_int(n, "count_include_pad", 0) != 0;
    strata_status st = nn_util_window(n, 2, &x->dims[2], NULL, op_attr_int(n, "ceil_mode", 0) != 0, &j.win);
    if (st != STRATA_OK) return st;
    j.x = x->data;
    j.y = y->data;
    j.H = x->dims[2], j.W = x->dims[3], j.Ho = y->dims[2], j.Wo = y->dims[3];
    if (j.Ho != j.win.out[0] || j.Wo != j.win.out[1])
        return op_error(n, STRATA_INTERNAL, "pool geometry does not match the inferred output");
    j.avx512 = (cpu_features() & CPU_AVX512) != 0;
    const nn_window *w = &j.win;
    j.max_2x2 = j.is_max && w->k[0] == 2 && w->k[1] == 2 && w->s[0] == 2 && w->s[1] == 2 &&
                w->d[0] == 1 && w->d[1] == 1 && w->pb[0] == 0 && w->pb[1] == 0 && 2 * j.Ho <= j.H &&
                2 * j.Wo <= j.W;
    if (!j.max_2x2 && j.is_max && j.win.d[0] == 1 && j.win.d[1] == 1 && j.Ho > 0 && j.Wo > 0) {
        j.tmp_stride = ((j.Wo - 1) * j.win.s[1] + j.win.k[1] + j.W + 16 + 15) / 16 * 16;
        j.tmp = mem_alloc((size_t)(j.tmp_stride * thread_pool_size(ctx->pool)) * sizeof *j.tmp);
        if (!j.tmp) return nn_util_oom(n);
    }
    j.planes = x->dims[0] * x->dims[1];
    int64_t plane = j.H * j.W > 0 ? j.H * j.W : 1;
    j.planes_per_task = plane >= POOL_TASK_FLOATS ? 1 : POOL_TASK_FLOATS / plane;
    thread_pool_parallel_for(ctx->pool, (j.planes + j.planes_per_task - 1) / j.planes_per_task,
                             pool_channels, &j);
    mem_free(j.tmp);
    return STRATA_OK;
}

typedef struct global_job {
    const float *x;
    float *y;
    int64_t hw;
    bool is_max;
    int64_t channels; /* N * C planes */
} global_job;

#define GLOBAL_CHANNELS_PER_TASK 32 /* a task a channel cost more in dispatch than in sums */

static void global_channels(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const global_job *j = arg;
    int64_t c1 = (t + 1) * GLOBAL_CHANNELS_PER_TASK < j->channels ? (t + 1) * GLOBAL_CHANNELS_PER_TASK : j->channels;
    for (int64_t c = t * GLOBAL_CHANNELS_PER_TASK; c < c1; c++) {
        const float *x = j->x + c * j->hw;
        if (j->is_max) {
            float m = -INFINITY;
            for (int64_t i = 0; i < j->hw; i++) m = x[i] > m ? x[i] : m; /* as the reference: NaN never wins */
            j->y[c] = m;
            continue;
        }
        /* eight partial sums (independent adds, a fixed-count loop -O2 vectorises), then in double */
        float part[8] = {0};
        int64_t i = 0;
        for (; i + 8 <= j->hw; i += 8)
            for (int q = 0; q < 8; q++) part[q] += x[i + q];
        double s = 0;
        for (; i < j->hw; i++) s += x[i];
        for (int q = 0; q < 8; q++) s += part[q];
        j->y[c] = j->hw ? (float)(s / (double)j->hw) : 0.0f;
    }
}

static strata_status run_global(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)k;
    const strata_tensor *x = in[0];
    global_job j = {x->data, out[0]->data, shape_numel(x->rank - 2, x->dims + 2), onnx_op(n, "GlobalMaxPool"),
                    x->dims[0] * x->dims[1]};
    thread_pool_parallel_for(ctx->pool, (j.channels + GLOBAL_CHANNELS_PER_TASK - 1) / GLOBAL_CHANNELS_PER_TASK,
                             global_channels, &j);
    return STRATA_OK;
}

const fast_kernel fast_pool_kernels[] = {
    {"pool_f32__scalar", "MaxPool", "", 0, GEMM_ISA_SCALAR, 10, supports_pool, run_pool, NULL, NULL, NULL},
    {"pool_f32__scalar", "AveragePool", "", 0, GEMM_ISA_SCALAR, 10, supports_pool, run_pool, NULL, NULL, NULL},
    {"global_pool_f32__scalar", "GlobalAveragePool", "", 0, GEMM_ISA_SCALAR, 10, supports_global, run_global, NULL, NULL, NULL},
    {"global_pool_f32__scalar", "GlobalMaxPool", "", 0, GEMM_ISA_SCALAR, 10, supports_global, run_global, NULL, NULL, NULL},
};
const size_t fast_pool_count = ARRAY_LEN(fast_pool_kernels);
