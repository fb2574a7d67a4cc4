/* kernels/fast_conv.c — 2-D f32 convolution tactics (Conv / com.strata FusedConv):
 * conv_f32_gemm: im2col (skipped for 1x1 stride-1 unpadded convs) then the packed GEMM with
 * bias, residual and activation fused into its epilogue, per group; conv_f32_dw: depthwise
 * (groups == channels) as direct loops over output rows, threaded over channels. */
#include <string.h>

#include "fast_internal.h"
#include "ref/ref_nn.h"

static bool is_conv(const op_node *n)
{
    return (strcmp(n->op_type, "Conv") == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, "FusedConv") == 0 && strcmp(n->domain, "com.strata") == 0);
}

static bool conv_common(const op_node *n, const strata_tensor *const *in)
{
    if (!is_conv(n) || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
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

/* col[(c*kh + i)*kw + j][oh*Wo + ow] for channels [c0, c0 + cg) of one image. */
static void im2col(const float *x, const conv_shape *s, int64_t c0, int64_t cg, float *col)
{
    const nn_window *w = &s->win;
    int64_t HoWo = s->Ho * s->Wo;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t i = 0; i < s->kh; i++)
            for (int64_t j = 0; j < s->kw; j++) {
                float *dst = col + ((c * s->kh + i) * s->kw + j) * HoWo;
                const float *src = x + (c0 + c) * s->H * s->W;
                for (int64_t oh = 0; oh < s->Ho; oh++) {
                    int64_t ih = oh * w->s[0] - w->pb[0] + i * w->d[0];
                    float *drow = dst + oh * s->Wo;
                    if (ih < 0 || ih >= s->H) {
                        memset(drow, 0, (size_t)s->Wo * sizeof *drow);
                        continue;
                    }
                    const float *srow = src + ih * s->W;
                    int64_t iw0 = -w->pb[1] + j * w->d[1];
                    if (w->s[1] == 1) {
                        int64_t ow = 0;
                        for (; ow < s->Wo && iw0 + ow < 0; ow++) drow[ow] = 0;
                        int64_t end = s->W - iw0; /* first ow with iw >= W */
                        if (end > s->Wo) end = s->Wo;
                        if (end > ow) memcpy(drow + ow, srow + iw0 + ow, (size_t)(end - ow) * sizeof *drow);
                        for (ow = end > ow ? end : ow; ow < s->Wo; ow++) drow[ow] = 0;
                    } else {
                        for (int64_t ow = 0; ow < s->Wo; ow++) {
                            int64_t iw = iw0 + ow * w->s[1];
                            drow[ow] = iw >= 0 && iw < s->W ? srow[iw] : 0.0f;
                        }
                    }
                }
            }
}

static strata_status run_gemm(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
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
    bool tail = (z && !z_exact) || act.post != FAST_POST_NONE;
    int64_t cg = s.C / s.groups, mg = s.M / s.groups, K = cg * s.kh * s.kw, HoWo = s.Ho * s.Wo;
    bool direct = s.kh == 1 && s.kw == 1 && s.win.s[0] == 1 && s.win.s[1] == 1 && s.win.pb[0] == 0 &&
                  s.win.pb[1] == 0 && s.win.pe[0] == 0 && s.win.pe[1] == 0 && s.Ho == s.H && s.Wo == s.W;
    float *col = NULL;
    if (!direct) {
        col = mem_alloc_aligned((size_t)(K * HoWo) * sizeof *col);
        if (!col) return nn_util_oom(n);
    }
    const float *X = in[0]->data, *Wt = in[1]->data;
    float *Y = y->data;
    for (int64_t img = 0; img < s.N && st == STRATA_OK; img++)
        for (int64_t g = 0; g < s.groups && st == STRATA_OK; g++) {
            const float *xg = X + (img * s.C + g * cg) * s.H * s.W;
            if (!direct) im2col(X + img * s.C * s.H * s.W, &s, g * cg, cg, col);
            gemm_args a = gemm_args_make(mg, HoWo, K, Wt + g * mg * K, direct ? xg : col,
                                         Y + (img * s.M + g * mg) * HoWo);
            a.isa = k->gemm;
            if (b) {
                a.epi.bias_kind = GEMM_BIAS_ROW;
                a.epi.bias = (const float *)b->data + g * mg;
            }
            if (z_exact && !tail) {
                a.epi.residual = (const float *)z->data + (img * s.M + g * mg) * HoWo;
                a.epi.ldr = HoWo;
            }
            if (!tail) {
                a.epi.act = act.gemm;
                a.epi.act_min = act.act_min;
                a.epi.act_max = act.act_max;
            }
            st = gemm_f32(&a, ctx->pool);
        }
    mem_free_aligned(col);
    if (st == STRATA_OK && tail) fast_tail(Y, y->dims, y->rank, z, &act);
    return st;
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

static strata_status run_dw(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                            strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)k;
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
    dw_job j = {&s, in[0]->data, in[1]->data, b ? b->data : NULL, z_exact && !tail ? z->data : NULL,
                y->data, &act, !tail};
    thread_pool_parallel_for(ctx->pool, s.N * s.C, dw_channel, &j);
    if (tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return STRATA_OK;
}

const fast_kernel fast_conv_kernels[] = {
    {"conv_f32_gemm__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_gemm, run_gemm, NULL, NULL},
    {"conv_f32_gemm__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_gemm, run_gemm, NULL, NULL},
    {"conv_f32_gemm__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_gemm, run_gemm, NULL, NULL},
    {"conv_f32_dw__scalar", "FusedConv", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_dw, run_dw, NULL, NULL},
    {"conv_f32_gemm__avx512", "Conv", "", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_gemm, run_gemm, NULL, NULL},
    {"conv_f32_gemm__avx2", "Conv", "", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_gemm, run_gemm, NULL, NULL},
    {"conv_f32_gemm__scalar", "Conv", "", 0, GEMM_ISA_SCALAR, 10, supports_gemm, run_gemm, NULL, NULL},
    {"conv_f32_dw__scalar", "Conv", "", 0, GEMM_ISA_SCALAR, 10, supports_dw, run_dw, NULL, NULL},
};
const size_t fast_conv_count = ARRAY_LEN(fast_conv_kernels);
