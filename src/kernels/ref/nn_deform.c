/* kernels/ref/nn_deform.c — reference DeformConv (2-D): each kernel tap samples X bilinearly at
 * its regular position plus a learned offset (per offset group), optionally scaled by a mask;
 * the sampled columns then go through the plain f32 GEMM like Conv's im2col. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

/* Inputs: X [N, C, H, W], W [M, C/group, kH, kW], offset [N, og*2*kH*kW, oH, oW], B [M] (opt),
 * mask [N, og*kH*kW, oH, oW] (opt). */
static strata_status deform_check(const op_node *n, const strata_tensor *const *in, nn_window *win)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1), *off = op_input(n, in, 2);
    const strata_tensor *b = op_input(n, in, 3), *mask = op_input(n, in, 4);
    if (!x || !w || !off) return op_error(n, STRATA_INVALID_MODEL, "needs inputs X, W and offset");
    strata_status st = nn_util_need_float(n, x, "X");
    if (st) return st;
    if (x->rank != 4 || w->rank != 4 || off->rank != 4)
        return op_error(n, STRATA_UNSUPPORTED, "only 2-D: X, W and offset must be 4-D");
    int64_t group = op_attr_int(n, "group", 1), og = op_attr_int(n, "offset_group", 1);
    int64_t C = x->dims[1], M = w->dims[0], kh = w->dims[2], kw = w->dims[3];
    if (group < 1 || og < 1 || (C >= 0 && (C % og != 0 || w->dims[1] * group != C)) ||
        (M >= 0 && M % group != 0))
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "channels %lld, W %lldx%lld, group %lld, offset_group %lld do not fit",
                        (long long)C, (long long)M, (long long)w->dims[1], (long long)group,
                        (long long)og);
    if (kh < 0 || kw < 0) return op_error(n, STRATA_UNSUPPORTED, "kernel extent unknown");
    if ((st = nn_util_window(n, 2, x->dims + 2, w->dims + 2, false, win))) return st;
    int64_t want[4] = {x->dims[0], og * 2 * kh * kw, win->out[0], win->out[1]};
    for (int i = 0; i < 4; i++)
        if (want[i] >= 0 && off->dims[i] >= 0 && off->dims[i] != want[i])
            return op_error(n, STRATA_INVALID_ARGUMENT, "offset dim %d is %lld; want %lld", i,
                            (long long)off->dims[i], (long long)want[i]);
    want[1] = og * kh * kw;
    if (mask)
        for (int i = 0; i < 4; i++)
            if (mask->rank != 4 || (want[i] >= 0 && mask->dims[i] >= 0 && mask->dims[i] != want[i]))
                return op_error(n, STRATA_INVALID_ARGUMENT, "mask must be [N, %lld, oH, oW]",
                                (long long)want[1]);
    if (b && (b->rank != 1 || (M >= 0 && b->dims[0] >= 0 && b->dims[0] != M)))
        return op_error(n, STRATA_INVALID_ARGUMENT, "B must be [%lld]", (long long)M);
    return STRATA_OK;
}

strata_status nn_deform_conv_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    nn_window win;
    strata_status st = deform_check(n, in, &win);
    if (st) return st;
    int64_t dims[4] = {in[0]->dims[0], in[1]->dims[0], win.out[0], win.out[1]};
    return tensor_set_shape(out[0], in[0]->dtype, 4, dims);
}

/* Bilinear sample of plane [H][W] at (h, w); zero outside, as torchvision does. */
static float sample(const float *p, int64_t H, int64_t W, double h, double w)
{
    if (h <= -1 || h >= (double)H || w <= -1 || w >= (double)W) return 0.0f;
    int64_t h0 = (int64_t)floor(h), w0 = (int64_t)floor(w), h1 = h0 + 1, w1 = w0 + 1;
    double lh = h - (double)h0, lw = w - (double)w0, v = 0;
    if (h0 >= 0 && w0 >= 0) v += (1 - lh) * (1 - lw) * p[h0 * W + w0];
    if (h0 >= 0 && w1 < W) v += (1 - lh) * lw * p[h0 * W + w1];
    if (h1 < H && w0 >= 0) v += lh * (1 - lw) * p[h1 * W + w0];
    if (h1 < H && w1 < W) v += lh * lw * p[h1 * W + w1];
    return (float)v;
}

strata_status nn_deform_conv_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    nn_window win;
    strata_status st = deform_check(n, in, &win);
    if (st) return st;
    const strata_tensor *x = in[0], *w = in[1], *b = op_input(n, in, 3), *mk = op_input(n, in, 4);
    int64_t group = op_attr_int(n, "group", 1), og = op_attr_int(n, "offset_group", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], M = w->dims[0];
    int64_t KH = w->dims[2], KW = w->dims[3], OH = win.out[0], OW = win.out[1];
    int64_t Cg = C / group, Mg = M / group, Cog = C / og, KP = KH * KW, OP = OH * OW;
    float *sx = NULL, *sw = NULL, *so = NULL, *sb = NULL, *sm = NULL, *sy = NULL;
    const float *xf = nn_util_f32_in(x, &sx), *wf = nn_util_f32_in(w, &sw);
    const float *of = nn_util_f32_in(in[2], &so);
    const float *bf = b ? nn_util_f32_in(b, &sb) : NULL, *mf = mk ? nn_util_f32_in(mk, &sm) : NULL;
    float *yf = nn_util_f32_out(out[0], &sy);
    float *col = mem_alloc((size_t)(Cg * KP * OP > 0 ? Cg * KP * OP : 1) * sizeof *col);
    if (!xf || !wf || !of || (b && !bf) || (mk && !mf) || !yf || !col) {
        st = nn_util_oom(n);
        goto done;
    }
    for (int64_t bi = 0; bi < N; bi++)
        for (int64_t g = 0; g < group; g++) {
            for (int64_t c = 0; c < Cg; c++) {
                int64_t ch = g * Cg + c, o_g = ch / Cog;
                const float *plane = xf + (bi * C + ch) * H * W;
                for (int64_t kp = 0; kp < KP; kp++) {
                    int64_t ki = kp / KW, kj = kp % KW;
                    const float *oh_ = of + ((bi * og + o_g) * 2 * KP + 2 * kp) * OP;
                    const float *ow_ = oh_ + OP;
                    const float *m_ = mf ? mf + ((bi * og + o_g) * KP + kp) * OP : NULL;
                    float *row = col + (c * KP + kp) * OP;
                    for (int64_t o = 0; o < OP; o++) {
                        int64_t oy = o / OW, ox = o % OW;
                        double hh = (double)(oy * win.s[0] - win.pb[0] + ki * win.d[0]) + oh_[o];
                        double ww = (double)(ox * win.s[1] - win.pb[1] + kj * win.d[1]) + ow_[o];
                        float v = sample(plane, H, W, hh, ww);
                        row[o] = m_ ? v * m_[o] : v;
                    }
                }
            }
            float *yg = yf + (bi * M + g * Mg) * OP;
            for (int64_t m = 0; m < Mg; m++)
                for (int64_t j = 0; j < OP; j++) yg[m * OP + j] = bf ? bf[g * Mg + m] : 0.0f;
            if (!nn_util_gemm_f32(Mg, OP, Cg * KP, 1.0f, wf + g * Mg * Cg * KP, Cg * KP, false, col,
                                  OP, false, yg, OP)) {
                st = nn_util_oom(n);
                goto done;
            }
        }
    nn_util_f32_store(out[0], yf);
done:
    mem_free(col);
    mem_free(sx);
    mem_free(sw);
    mem_free(so);
    mem_free(sb);
    mem_free(sm);
    mem_free(sy);
    return st;
}
