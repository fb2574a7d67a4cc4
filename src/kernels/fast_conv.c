/* kernels/fast_conv.c — 2-D f32 convolution tactics (Conv / com.strata FusedConv):
 * conv_f32_gemm: the packed GEMM with the weights prepacked at compile time as its A operand,
 * im2col written straight into its packed-B panels (1x1 stride-1 unpadded convs read the input
 * as B), bias, residual and activation fused into its epilogue, per image and group;
 * conv_f32_pw: the same for 1x1 stride-1 unpadded convs, the microkernel reading the input's
 * rows in place instead of copying them into panels (AVX-512);
 * conv_f32_dw: depthwise (groups == channels), threaded over channels: a padded, stride-phase
 * split copy of each plane and an AVX-512 / AVX2 row kernel with the epilogue fused, or loops. */
#include <string.h>

#include "fast_internal.h"
#include "ref/ref_nn.h"
#include "x86/cnn_x86.h"

static bool is_conv(const op_node *n)
{
    return (strcmp(n->op_type, "Conv") == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, "FusedConv") == 0 && strcmp(n->domain, "com.strata") == 0);
}

static bool conv_common(const op_node *n, const strata_tensor *const *in)
{
    if (!is_conv(n) || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (strcmp(op_attr_string(n, "layout", "NCHW"), "NCHW") != 0) return false; /* NHWC: fast_conv_nhwc.c */
    if (in[0]->rank != 4 || in[1]->rank != 4) return false;
    if (n->n_inputs > 2 && in[2] && !fast_f32(in[2])) return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    fast_act a;
    return fast_activation(n, &a);
}

static bool supports_gemm(const op_node *n, const strata_tensor *const *in)
{
    if (!conv_common(n, in)) return false;
    int64_t g = op_attr_int(n, "group", 1);
    if (g < 1) return false;
    return !(g > 1 && g == in[0]->dims[1] && in[1]->dims[1] == 1 && in[1]->dims[0] == g); /* dw: below */
}

/* conv_f32_pw: a 1x1, stride-1, unpadded conv, whose input rows the GEMM reads in place. */
static bool supports_pw(const op_node *n, const strata_tensor *const *in)
{
    if (!supports_gemm(n, in) || in[1]->dims[2] != 1 || in[1]->dims[3] != 1) return false;
    size_t ns = 0, np = 0;
    const int64_t *st = op_attr_ints(n, "strides", &ns), *pads = op_attr_ints(n, "pads", &np);
    for (size_t i = 0; st && i < ns; i++)
        if (st[i] != 1) return false;
    for (size_t i = 0; pads && i < np; i++)
        if (pads[i] != 0) return false;
    return strcmp(op_attr_string(n, "auto_pad", "NOTSET"), "NOTSET") == 0 ||
           strcmp(op_attr_string(n, "auto_pad", "NOTSET"), "VALID") == 0;
}

static bool supports_dw(const op_node *n, const strata_tensor *const *in)
{
    if (!conv_common(n, in)) return false;
    int64_t g = op_attr_int(n, "group", 1);
    return g > 1 && g == in[0]->dims[1] && in[1]->dims[1] == 1 && in[1]->dims[0] == g;
}

typedef struct conv_shape {
    int64_t N, C, H, W, M, kh, kw, Ho, Wo, groups;
    nn_window win;
} conv_shape;

static strata_status conv_geometry(const op_node *n, const strata_tensor *const *in,
                                   const strata_tensor *y, conv_shape *s)
{
    const strata_tensor *x = in[0], *w = in[1];
    s->N = x->dims[0], s->C = x->dims[1], s->H = x->dims[2], s->W = x->dims[3];
    s->M = w->dims[0], s->kh = w->dims[2], s->kw = w->dims[3];
    s->groups = op_attr_int(n, "group", 1);
    strata_status st = nn_util_window(n, 2, &x->dims[2], &w->dims[2], false, &s->win);
    if (st != STRATA_OK) return st;
    s->Ho = s->win.out[0];
    s->Wo = s->win.out[1];
    if (y->dims[2] != s->Ho || y->dims[3] != s->Wo || y->dims[1] != s->M || s->C % s->groups || s->M % s->groups)
        return op_error(n, STRATA_INTERNAL, "conv geometry does not match the inferred output");
    return STRATA_OK;
}

/* ---- im2col straight into the GEMM's packed-B panels ------------------------------------------ */

/* One image and group: rows k = (c*kh + i)*kw + j of the virtual im2col matrix, columns the
 * output pixels oh*Wo + ow. */
typedef struct conv_pack {
    const conv_shape *s;
    const float *x; /* the image's first channel of the group */
} conv_pack;

/* dst[t] = row[iw0 + t*stride] for t < n, zero where the index leaves [0, W). */
static void gather_row(float *dst, const float *row, int64_t iw0, int64_t stride, int64_t n, int64_t W)
{
    if (stride == 1) {
        int64_t t = 0;
        for (; t < n && iw0 + t < 0; t++) dst[t] = 0.0f;
        int64_t end = W - iw0 < n ? W - iw0 : n;
        if (end > t) {
            memcpy(dst + t, row + iw0 + t, (size_t)(end - t) * sizeof *dst);
            t = end;
        }
        for (; t < n; t++) dst[t] = 0.0f;
        return;
    }
    for (int64_t t = 0; t < n; t++) {
        int64_t iw = iw0 + t * stride;
        dst[t] = iw >= 0 && iw < W ? row[iw] : 0.0f;
    }
}

static void im2col_panels(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr,
                          float *dst)
{
    const conv_pack *cp = ctx;
    const conv_shape *s = cp->s;
    const nn_window *w = &s->win;
    const int64_t khw = s->kh * s->kw, panels = (nc + nr - 1) / nr;
    for (int64_t k = k0; k < k0 + kc; k++) {
        int64_t c = k / khw, i = k % khw / s->kw, j = k % s->kw;
        const float *plane = cp->x + c * s->H * s->W;
        int64_t iw_off = -w->pb[1] + j * w->d[1];
        float *drow = dst + (k - k0) * nr;
        for (int64_t q = 0; q < panels; q++) {
            float *d = drow + q * kc * nr;
            int64_t p = j0 + q * nr, pend = p + nr < j0 + nc ? p + nr : j0 + nc;
            int64_t oh = p / s->Wo, ow = p % s->Wo;
            while (p < pend) {
                int64_t run = s->Wo - ow < pend - p ? s->Wo - ow : pend - p;
                int64_t ih = oh * w->s[0] - w->pb[0] + i * w->d[0];
                if (ih < 0 || ih >= s->H) memset(d, 0, (size_t)run * sizeof *d);
                else gather_row(d, plane + ih * s->W, ow * w->s[1] + iw_off, w->s[1], run, s->W);
                d += run;
                p += run;
                oh++;
                ow = 0;
            }
            if (q == panels - 1)
                for (int64_t t = nc - q * nr; t < nr; t++) drow[q * kc * nr + t] = 0.0f;
        }
    }
}

/* ---- prepacked weights: per group, A = W[g] as an mg x K matrix for the kernel's GEMM -------- */

static size_t group_stride(int64_t mg, int64_t K, gemm_isa isa)
{
    return (gemm_f32_packed_a_size(mg, K, isa) + 63) / 64 * 64;
}

/* mg, K and groups of a constant 4-D weight; false when there is nothing to pack. */
static bool const_w(const op_node *n, const strata_tensor *const *in, int64_t *mg, int64_t *K, int64_t *groups)
{
    const strata_tensor *w = in[1];
    if (!w || !w->data || w->rank != 4 || w->dtype != STRATA_DTYPE_F32) return false;
    *groups = op_attr_int(n, "group", 1);
    for (int d = 0; d < 4; d++)
        if (w->dims[d] <= 0) return false;
    if (*groups < 1 || w->dims[0] % *groups) return false;
    *mg = w->dims[0] / *groups;
    *K = w->dims[1] * w->dims[2] * w->dims[3];
    return true;
}

static size_t packed_size_w(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    int64_t mg, K, groups;
    if (!const_w(n, in, &mg, &K, &groups)) return 0;
    return (size_t)groups * group_stride(mg, K, k->gemm);
}

static strata_status pack_w(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    int64_t mg, K, groups;
    if (!const_w(n, in, &mg, &K, &groups)) return op_error(n, STRATA_INTERNAL, "no constant weight to pack");
    size_t stride = group_stride(mg, K, k->gemm);
    const float *w = in[1]->data;
    for (int64_t g = 0; g < groups; g++) {
        strata_status st = gemm_f32_pack_a(mg, K, w + g * mg * K, K, false, k->gemm, (char *)packed + g * stride);
        if (st != STRATA_OK) return st;
    }
    return STRATA_OK;
}

/* The packed weights for this node, or NULL (then the GEMM packs W itself); INVALID_ARGUMENT
 * when the attached bytes are too few for the weight. */
static strata_status packed_w(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              int64_t mg, int64_t K, int64_t groups, const char **out, size_t *stride)
{
    *out = fast_packed_input(n, in);
    *stride = group_stride(mg, K, k->gemm);
    if (!*out) return STRATA_OK;
    size_t have = (size_t)strata_tensor_numel(in[op_attr_int(n, "packed_input", 0)]);
    if (have < (size_t)groups * *stride)
        return op_error(n, STRATA_INVALID_ARGUMENT, "packed weights hold %zu bytes, %zu needed for %lld x %lld x %lld",
                        have, (size_t)groups * *stride, (long long)groups, (long long)mg, (long long)K);
    return STRATA_OK;
}

#define MAX_CONV_THREADS 64

/* One convolution as GEMMs, one per (image, group). */
typedef struct conv_gemm_job {
    const conv_shape *s;
    const fast_kernel *k;
    const float *x, *w;
    float *y;
    const float *bias, *z;             /* z: an exact-shape residual for the epilogue, or NULL */
    const fast_act *act;
    const char *pw;                    /* packed weights (NULL: w unpacked) */
    size_t pw_stride;
    int64_t cg, mg, K, HoWo;
    bool direct, tail;
    bool b_in_place;                   /* conv_f32_pw: the GEMM reads the input rows in place */
    char *ws;                          /* per-thread GEMM workspaces, ws_bytes each */
    size_t ws_bytes;
    strata_status st[MAX_CONV_THREADS];
} conv_gemm_job;

/* The GEMM of image img, group g (its im2col producer context lives in *cp). */
static gemm_args conv_gemm_args_cp(const conv_gemm_job *j, int64_t img, int64_t g, conv_pack *cp)
{
    const conv_shape *s = j->s;
    const float *xg = j->x + (img * s->C + g * j->cg) * s->H * s->W;
    cp->s = s, cp->x = xg;
    gemm_args a = gemm_args_make(j->mg, j->HoWo, j->K, j->w ? j->w + g * j->mg * j->K : NULL, xg,
                                 j->y + (img * s->M + g * j->mg) * j->HoWo);
    a.isa = j->k->gemm;
    if (!j->direct) {
        a.pack_b = im2col_panels;
        a.pack_b_ctx = cp;
    }
    if (j->bias) {
        a.epi.bias_kind = GEMM_BIAS_ROW;
        a.epi.bias = j->bias + g * j->mg;
    }
    a.b_in_place = j->b_in_place && j->direct;
    if (j->z == j->y) {
        a.beta = 1.0f; /* in place: C holds the residual, the GEMM adds to it */
    } else if (j->z) {
        a.epi.residual = j->z + (img * s->M + g * j->mg) * j->HoWo;
        a.epi.ldr = j->HoWo;
    }
    if (!j->tail) {
        a.epi.act = j->act->gemm;
        a.epi.act_min = j->act->act_min;
        a.epi.act_max = j->act->act_max;
    }
    return a;
}

static void conv_gemm_task(void *arg, int64_t t, int thread_index)
{
    conv_gemm_job *j = arg;
    int64_t img = t / j->s->groups, g = t % j->s->groups;
    conv_pack cp;
    gemm_args a = conv_gemm_args_cp(j, img, g, &cp);
    a.workspace = j->ws ? j->ws + (size_t)thread_index * j->ws_bytes : NULL;
    a.workspace_bytes = j->ws_bytes;
    strata_status st = j->pw ? gemm_f32_with_packed_a(&a, j->pw + g * j->pw_stride, NULL) : gemm_f32(&a, NULL);
    if (st != STRATA_OK && j->st[thread_index] == STRATA_OK) j->st[thread_index] = st;
}

static strata_status run_conv_gemm(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out, const kernel_ctx *ctx, bool b_in_place)
{
    strata_tensor *y = out[0];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    conv_shape s;
    strata_status st = conv_geometry(n, in, y, &s);
    if (st != STRATA_OK) return st;
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool tail = (z && !z_exact) || act.post != FAST_POST_NONE;
    if (z && z->data == y->data && tail) return fast_in_place_error(n, k->name);
    int64_t cg = s.C / s.groups, mg = s.M / s.groups, K = cg * s.kh * s.kw, HoWo = s.Ho * s.Wo;
    bool direct = s.kh == 1 && s.kw == 1 && s.win.s[0] == 1 && s.win.s[1] == 1 && s.win.pb[0] == 0 &&
                  s.win.pb[1] == 0 && s.win.pe[0] == 0 && s.win.pe[1] == 0 && s.Ho == s.H && s.Wo == s.W;
    const char *pw;
    size_t pw_stride;
    if ((st = packed_w(k, n, in, mg, K, s.groups, &pw, &pw_stride)) != STRATA_OK) return st;
    conv_gemm_job j = {&s, k, in[0]->data, in[1]->data, y->data, b ? b->data : NULL, NULL, &act, pw, pw_stride,
                       cg, mg, K, HoWo, direct, tail, b_in_place, NULL, 0, {STRATA_OK}};
    if (z_exact && !tail) j.z = z->data;
    int threads = ctx->n_threads > 0 ? ctx->n_threads : 1;
    int64_t n_tasks = s.N * s.groups;
    if (threads > 1 && n_tasks >= threads && threads <= MAX_CONV_THREADS) {
        /* a whole GEMM per task, one thread each: no synchronisation inside a GEMM (batch 8 on
         * 2 threads scaled 1.54x with every GEMM split over both threads) */
        conv_pack cp;
        gemm_args a = conv_gemm_args_cp(&j, 0, 0, &cp);
        j.ws_bytes = gemm_f32_workspace_size(&a, false, 1);
        if (j.ws_bytes && !(j.ws = mem_alloc_aligned(j.ws_bytes * (size_t)threads)))
            return op_error(n, STRATA_OUT_OF_MEMORY, "conv: out of memory for GEMM workspaces");
        thread_pool_parallel_for(ctx->pool, n_tasks, conv_gemm_task, &j);
        mem_free_aligned(j.ws);
        for (int t = 0; t < threads && st == STRATA_OK; t++) st = j.st[t];
    } else {
        for (int64_t img = 0; img < s.N && st == STRATA_OK; img++)
            for (int64_t g = 0; g < s.groups && st == STRATA_OK; g++) {
                conv_pack cp;
                gemm_args a = conv_gemm_args_cp(&j, img, g, &cp);
                st = pw ? gemm_f32_with_packed_a(&a, pw + g * pw_stride, ctx->pool) : gemm_f32(&a, ctx->pool);
            }
    }
    float *Y = y->data;
    if (st == STRATA_OK && tail) fast_tail(Y, y->dims, y->rank, z, &act);
    return st;
}

static strata_status run_gemm(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    return run_conv_gemm(k, n, in, out, ctx, false);
}

static strata_status run_pw(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                            strata_tensor *const *out, const kernel_ctx *ctx)
{
    return run_conv_gemm(k, n, in, out, ctx, true);
}

/* ---- depthwise ------------------------------------------------------------------------------ */

typedef struct dw_job {
    const conv_shape *s;
    const float *x, *w, *b, *z;
    float *y;
    const fast_act *act;
    bool apply_act;
} dw_job;

static void dw_channel(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const dw_job *j = arg;
    const conv_shape *s = j->s;
    const nn_window *w = &s->win;
    int64_t c = t % s->C;
    const float *x = j->x + t * s->H * s->W, *k = j->w + c * s->kh * s->kw;
    float *y = j->y + t * s->Ho * s->Wo;
    float bias = j->b ? j->b[c] : 0.0f;
    for (int64_t oh = 0; oh < s->Ho; oh++) {
        float *yr = y + oh * s->Wo;
        for (int64_t ow = 0; ow < s->Wo; ow++) yr[ow] = bias;
        for (int64_t i = 0; i < s->kh; i++) {
            int64_t ih = oh * w->s[0] - w->pb[0] + i * w->d[0];
            if (ih < 0 || ih >= s->H) continue;
            const float *xr = x + ih * s->W;
            for (int64_t jj = 0; jj < s->kw; jj++) {
                float kv = k[i * s->kw + jj];
                int64_t off = -w->pb[1] + jj * w->d[1];
                /* valid ow: 0 <= ow*stride + off < W */
                int64_t lo = off >= 0 ? 0 : (-off + w->s[1] - 1) / w->s[1];
                int64_t hi = (s->W - 1 - off) >= 0 ? (s->W - 1 - off) / w->s[1] + 1 : 0;
                if (hi > s->Wo) hi = s->Wo;
                if (w->s[1] == 1)
                    for (int64_t ow = lo; ow < hi; ow++) yr[ow] += kv * xr[ow + off];
                else
                    for (int64_t ow = lo; ow < hi; ow++) yr[ow] += kv * xr[ow * w->s[1] + off];
            }
        }
        if (j->z) {
            const float *zr = j->z + t * s->Ho * s->Wo + oh * s->Wo;
            for (int64_t ow = 0; ow < s->Wo; ow++) yr[ow] += zr[ow];
        }
        if (j->apply_act) {
            const fast_act *a = j->act;
            if (a->gemm == GEMM_ACT_RELU)
                for (int64_t ow = 0; ow < s->Wo; ow++) yr[ow] = yr[ow] > 0 ? yr[ow] : 0;
            else if (a->gemm == GEMM_ACT_CLIP)
                for (int64_t ow = 0; ow < s->Wo; ow++)
                    yr[ow] = yr[ow] < a->act_min ? a->act_min : yr[ow] > a->act_max ? a->act_max : yr[ow];
        }
    }
}

/* The SIMD form: per channel, a zero-padded copy of the rows the windows read, each row split
 * into stride phases (phase p holds padded columns p, p + s, p + 2s, ...), so that a tap of
 * any stride and dilation reads a contiguous run; then one vector row kernel per output row. */
#define DW_MAX_TAPS 64

typedef struct dw_simd_job {
    const conv_shape *s;
    const float *x, *w, *b, *z;
    float *y;
    int act;
    float lo, hi;
    gemm_isa isa;
    float *scratch;     /* per thread: rows * s[1] * lp floats, then 2 * lp */
    int64_t stride;     /* floats per thread */
    int64_t rows, lp;   /* padded rows the windows read; floats per phase row */
} dw_simd_job;

static void dw_fill(const dw_simd_job *j, const float *x, float *plane, float *tmp)
{
    const conv_shape *s = j->s;
    const int64_t sw = j->s->win.s[1], pb0 = s->win.pb[0], pb1 = s->win.pb[1];
    for (int64_t r = 0; r < j->rows; r++) {
        int64_t ih = r - pb0;
        for (int64_t ph = 0; ph < sw; ph++) {
            float *d = plane + (r * sw + ph) * j->lp;
            if (ih < 0 || ih >= s->H) {
                memset(d, 0, (size_t)j->lp * sizeof *d);
                continue;
            }
            const float *xr = x + ih * s->W;
            if (sw == 1) {
                gather_row(d, xr, -pb1, 1, j->lp, s->W);
                continue;
            }
#if defined(__x86_64__)
            if (sw == 2 && j->isa == GEMM_ISA_AVX512) { /* both phases at once */
                gather_row(tmp, xr, -pb1, 1, 2 * j->lp, s->W);
                dwconv_f32_split2__avx512(tmp, j->lp, d, d + j->lp);
                break;
            }
#endif
            for (int64_t t = 0; t < j->lp; t++) {
                int64_t iw = sw * t + ph - pb1;
                d[t] = iw >= 0 && iw < s->W ? xr[iw] : 0.0f;
            }
        }
    }
}

static void dw_simd_channel(void *arg, int64_t t, int thread_index)
{
    const dw_simd_job *j = arg;
    const conv_shape *s = j->s;
    const nn_window *w = &s->win;
    const int64_t c = t % s->C, sw = w->s[1], HoWo = s->Ho * s->Wo;
    const int ntaps = (int)(s->kh * s->kw);
    float *plane = j->scratch + thread_index * j->stride;
    dw_fill(j, j->x + t * s->H * s->W, plane, plane + j->rows * sw * j->lp);
    const float *k = j->w + c * ntaps;
    float bias = j->b ? j->b[c] : 0.0f;
    const float *src[DW_MAX_TAPS];
    for (int64_t oh = 0; oh < s->Ho; oh++) {
        for (int64_t i = 0; i < s->kh; i++)
            for (int64_t jj = 0; jj < s->kw; jj++) {
                int64_t r = oh * w->s[0] + i * w->d[0], c0 = jj * w->d[1];
                src[i * s->kw + jj] = plane + (r * sw + c0 % sw) * j->lp + c0 / sw;
            }
        float *y = j->y + t * HoWo + oh * s->Wo;
        const float *z = j->z ? j->z + t * HoWo + oh * s->Wo : NULL;
#if defined(__x86_64__)
        if (j->isa == GEMM_ISA_AVX512)
            dwconv_f32_row__avx512(y, s->Wo, src, k, ntaps, bias, z, j->act, j->lo, j->hi);
        else
            dwconv_f32_row__avx2(y, s->Wo, src, k, ntaps, bias, z, j->act, j->lo, j->hi);
#endif
    }
}

static strata_status run_dw(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                            strata_tensor *const *out, const kernel_ctx *ctx)
{
    strata_tensor *y = out[0];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    conv_shape s;
    strata_status st = conv_geometry(n, in, y, &s);
    if (st != STRATA_OK) return st;
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool simple_act = act.post == FAST_POST_NONE &&
                      (act.gemm == GEMM_ACT_NONE || act.gemm == GEMM_ACT_RELU || act.gemm == GEMM_ACT_CLIP);
    bool tail = (z && !z_exact) || !simple_act;
    bool simd = k->gemm != GEMM_ISA_SCALAR && s.kh * s.kw <= DW_MAX_TAPS && s.Ho > 0 && s.Wo > 0;
#if !defined(__x86_64__)
    simd = false;
#endif
    if (simd) {
        dw_simd_job j;
        memset(&j, 0, sizeof j);
        j.s = &s;
        j.x = in[0]->data, j.w = in[1]->data, j.b = b ? b->data : NULL;
        j.z = z_exact && !tail ? z->data : NULL;
        j.y = y->data;
        j.act = tail || act.gemm == GEMM_ACT_NONE ? DW_ACT_NONE : act.gemm == GEMM_ACT_RELU ? DW_ACT_RELU : DW_ACT_CLIP;
        j.lo = act.act_min, j.hi = act.act_max;
        j.isa = k->gemm;
        j.rows = (s.Ho - 1) * s.win.s[0] + (s.kh - 1) * s.win.d[0] + 1;
        j.lp = (s.Wo + (s.kw - 1) * s.win.d[1] / s.win.s[1] + 1 + 15) / 16 * 16;
        j.stride = j.rows * s.win.s[1] * j.lp + 2 * j.lp; /* the plane, then a padded row */
        j.scratch = mem_alloc_aligned((size_t)(j.stride * thread_pool_size(ctx->pool)) * sizeof(float));
        if (!j.scratch) return nn_util_oom(n);
        thread_pool_parallel_for(ctx->pool, s.N * s.C, dw_simd_channel, &j);
        mem_free_aligned(j.scratch);
        if (tail) fast_tail(y->data, y->dims, y->rank, z, &act);
        return STRATA_OK;
    }
    dw_job j = {&s, in[0]->data, in[1]->data, b ? b->data : NULL, z_exact && !tail ? z->data : NULL,
                y->data, &act, !tail};
    thread_pool_parallel_for(ctx->pool, s.N * s.C, dw_channel, &j);
    if (tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return STRATA_OK;
}

const fast_kernel fast_conv_kernels[] = {
    {"conv_f32_gemm__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_gemm, run_gemm, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_gemm__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_gemm, run_gemm, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_gemm__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_gemm, run_gemm, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_pw__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 29, supports_pw, run_pw, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_dw__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_dw, run_dw, NULL, NULL, NULL},
    {"conv_f32_dw__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_dw, run_dw, NULL, NULL, NULL},
    {"conv_f32_dw__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_dw, run_dw, NULL, NULL, NULL},
    {"conv_f32_gemm__avx512", "Conv", "", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_gemm, run_gemm, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_gemm__avx2", "Conv", "", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_gemm, run_gemm, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_gemm__scalar", "Conv", "", 0, GEMM_ISA_SCALAR, 10, supports_gemm, run_gemm, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_pw__avx512", "Conv", "", CPU_AVX512, GEMM_ISA_AVX512, 29, supports_pw, run_pw, packed_size_w, pack_w, fast_residual_in_epilogue},
    {"conv_f32_dw__avx512", "Conv", "", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_dw, run_dw, NULL, NULL, NULL},
    {"conv_f32_dw__avx2", "Conv", "", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_dw, run_dw, NULL, NULL, NULL},
    {"conv_f32_dw__scalar", "Conv", "", 0, GEMM_ISA_SCALAR, 10, supports_dw, run_dw, NULL, NULL, NULL},
};
const size_t fast_conv_count = ARRAY_LEN(fast_conv_kernels);
