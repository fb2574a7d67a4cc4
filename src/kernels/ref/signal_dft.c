/* kernels/ref/signal_dft.c — reference DFT (opset 17 with the axis attribute, opset 20 with the
 * axis input) and STFT (opset 17): direct O(n^2) transforms in double over real ([..., 1]) or
 * complex ([..., 2]) signals, with dft_length padding/truncation, onesided output, inverse and
 * the real-valued onesided inverse. */
#include <math.h>

#include "ref_signal.h"

/* ---- DFT ------------------------------------------------------------------------------------ */

typedef struct dft_geom {
    int axis;           /* signal axis */
    int64_t n_in;       /* input length along axis */
    int64_t n;          /* transform length (dft_length or from the input) */
    int64_t n_out;      /* output length along axis */
    bool inverse, onesided, real_out;
} dft_geom;

static strata_status dft_geometry(const op_node *n, const strata_tensor *const *in, dft_geom *g)
{
    const strata_tensor *x = op_input(n, in, 0), *len = op_input(n, in, 1);
    strata_status st;
    if ((st = transformer_util_need_float(n, x, "input"))) return st;
    if (x->rank < 2 || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2 &&
                        x->dims[x->rank - 1] >= 0)) {
        char buf[96];
        return op_error(n, STRATA_INVALID_ARGUMENT, "input %s must end in a dim of 1 (real) or "
                        "2 (complex)", tensor_describe(x, buf, sizeof buf));
    }
    int64_t axis;
    if (n->opset >= 20) {
        axis = -2;
        const strata_tensor *a = op_input(n, in, 2);
        if (a && (st = transformer_util_scalar_int(n, a, "axis", &axis))) return st;
    } else {
        axis = op_attr_int(n, "axis", 1);
    }
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > x->rank - 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "axis %lld out of range for a rank %d "
                        "signal (the last dim holds real/imaginary)", (long long)axis, x->rank);
    g->axis = (int)axis;
    g->inverse = op_attr_int(n, "inverse", 0) != 0;
    g->onesided = op_attr_int(n, "onesided", 0) != 0;
    g->real_out = g->inverse && g->onesided;
    g->n_in = x->dims[g->axis];
    if (len) {
        if ((st = transformer_util_scalar_int(n, len, "dft_length", &g->n))) return st;
        if (g->n < 1)
            return op_error(n, STRATA_INVALID_ARGUMENT, "dft_length %lld must be >= 1",
                            (long long)g->n);
    } else if (g->real_out) {
        g->n = g->n_in < 0 ? -1 : 2 * (g->n_in - 1);
        if (g->n_in == 1) g->n = 1;
    } else {
        g->n = g->n_in;
    }
    if (g->n < 0) g->n_out = -1;
    else if (g->onesided && !g->inverse) g->n_out = g->n / 2 + 1;
    else g->n_out = g->n;
    return STRATA_OK;
}

strata_status signal_dft_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    dft_geom g;
    strata_status st = dft_geometry(n, in, &g);
    if (st) return st;
    const strata_tensor *x = in[0];
    int64_t d[STRATA_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) d[i] = x->dims[i];
    d[g.axis] = g.n_out;
    d[x->rank - 1] = g.real_out ? 1 : 2;
    return tensor_set_shape(out[0], x->dtype, x->rank, d);
}

/* cos and sin of 2 pi m / nn for m < nn, interleaved; NULL when out of memory. */
static double *twiddles(int64_t nn)
{
    double *tw = mem_alloc((size_t)(2 * nn + 2) * sizeof *tw);
    for (int64_t m = 0; tw && m < nn; m++) {
        tw[2 * m] = cos(2.0 * M_PI * (double)m / (double)nn);
        tw[2 * m + 1] = sin(2.0 * M_PI * (double)m / (double)nn);
    }
    return tw;
}

/* One transform of length nn over src (re/im pairs, n_src of them, missing ones are 0) into
 * dst (n_dst pairs), with tw from twiddles(nn). hermitian: src is the first half of a
 * Hermitian spectrum. */
static void dft_line(const double *src, int64_t n_src, int64_t nn, bool inverse,
                     bool hermitian, double *dst, int64_t n_dst, const double *tw)
{
    double sign = inverse ? 1.0 : -1.0;
    for (int64_t k = 0; k < n_dst; k++) {
        double re = 0, im = 0;
        for (int64_t t = 0; t < nn; t++) {
            double xr, xi;
            if (hermitian && t > nn / 2) { /* X[t] = conj(X[nn - t]) */
                int64_t m = nn - t;
                xr = m < n_src ? src[2 * m] : 0;
                xi = m < n_src ? -src[2 * m + 1] : 0;
            } else {
                xr = t < n_src ? src[2 * t] : 0;
                xi = t < n_src ? src[2 * t + 1] : 0;
            }
            if (xr == 0 && xi == 0) continue;
            int64_t m = (k * t) % nn;
            double c = tw[2 * m], s = sign * tw[2 * m + 1];
            re += xr * c - xi * s;
            im += xr * s + xi * c;
        }
        if (inverse) {
            re /= (double)nn;
            im /= (double)nn;
        }
        dst[2 * k] = re;
        dst[2 * k + 1] = im;
    }
}

strata_status signal_dft_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    dft_geom g;
    strata_status st = dft_geometry(n, in, &g);
    if (st) return st;
    const strata_tensor *x = in[0];
    int64_t comp = x->dims[x->rank - 1], outer = 1, inner = 1;
    for (int i = 0; i < g.axis; i++) outer *= x->dims[i];
    for (int i = g.axis + 1; i < x->rank - 1; i++) inner *= x->dims[i];
    int64_t n_src = g.n_in < g.n ? g.n_in : g.n;
    if (g.real_out && n_src > g.n / 2 + 1) n_src = g.n / 2 + 1;
    double *xd = transformer_util_load(x);
    double *y = mem_calloc((size_t)(outer * g.n_out * inner * 2 + 1), sizeof *y);
    double *src = mem_calloc((size_t)(2 * (n_src + 1)), sizeof *src);
    double *dst = mem_calloc((size_t)(2 * (g.n_out + 1)), sizeof *dst);
    double *tw = twiddles(g.n);
    if (!xd || !y || !src || !dst || !tw) {
        st = transformer_util_oom(n);
        goto done;
    }
    int64_t oc = g.real_out ? 1 : 2;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t t = 0; t < n_src; t++) {
                const double *p = xd + ((o * g.n_in + t) * inner + i) * comp;
                src[2 * t] = p[0];
                src[2 * t + 1] = comp == 2 ? p[1] : 0.0;
            }
            dft_line(src, n_src, g.n, g.inverse, g.real_out, dst, g.n_out, tw);
            for (int64_t k = 0; k < g.n_out; k++) {
                double *q = y + ((o * g.n_out + k) * inner + i) * oc;
                q[0] = dst[2 * k];
                if (oc == 2) q[1] = dst[2 * k + 1];
            }
        }
    transformer_util_store(out[0], y);
done:
    mem_free(xd);
    mem_free(y);
    mem_free(src);
    mem_free(dst);
    mem_free(tw);
    return st;
}

/* ---- STFT ----------------------------------------------------------------------------------- */

typedef struct stft_geom {
    int64_t B, L, comp, step, flen, frames, bins;
    bool onesided;
} stft_geom;

static strata_status stft_geometry(const op_node *n, const strata_tensor *const *in,
                                   stft_geom *g)
{
    const strata_tensor *x = op_input(n, in, 0), *step = op_input(n, in, 1),
                        *win = op_input(n, in, 2), *flen = op_input(n, in, 3);
    strata_status st;
    if ((st = transformer_util_need_float(n, x, "signal"))) return st;
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2)) {
        char buf[96];
        return op_error(n, STRATA_INVALID_ARGUMENT, "signal %s must be [batch, length, 1 or 2]",
                        tensor_describe(x, buf, sizeof buf));
    }
    g->B = x->dims[0];
    g->L = x->dims[1];
    g->comp = x->dims[2];
    g->onesided = op_attr_int(n, "onesided", 1) != 0;
    if ((st = transformer_util_scalar_int(n, step, "frame_step", &g->step))) return st;
    if (g->step < 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "frame_step %lld must be >= 1",
                        (long long)g->step);
    g->flen = -1;
    if (win) {
        if ((st = transformer_util_need_float(n, win, "window"))) return st;
        if (win->rank != 1)
            return op_error(n, STRATA_INVALID_ARGUMENT, "window must be 1-D");
        g->flen = win->dims[0];
    }
    if (flen) {
        int64_t f;
        if ((st = transformer_util_scalar_int(n, flen, "frame_length", &f))) return st;
        if (g->flen >= 0 && f != g->flen)
            return op_error(n, STRATA_INVALID_ARGUMENT, "frame_length %lld != window length "
                            "%lld", (long long)f, (long long)g->flen);
        g->flen = f;
    }
    if (!win && !flen)
        return op_error(n, STRATA_INVALID_MODEL, "STFT needs a window or a frame_length");
    if (g->flen < 1 || (g->L >= 0 && g->flen > g->L))
        return op_error(n, STRATA_INVALID_ARGUMENT, "frame length %lld must be in [1, %lld]",
                        (long long)g->flen, (long long)g->L);
    if (g->onesided && g->comp == 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "onesided STFT needs a real signal");
    g->frames = g->L < 0 ? -1 : (g->L - g->flen) / g->step + 1;
    g->bins = g->onesided ? g->flen / 2 + 1 : g->flen;
    return STRATA_OK;
}

strata_status signal_dft_stft_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    stft_geom g;
    strata_status st = stft_geometry(n, in, &g);
    if (st) return st;
    int64_t d[4] = {g.B, g.frames, g.bins, 2};
    return tensor_set_shape(out[0], in[0]->dtype, 4, d);
}

strata_status signal_dft_stft_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    stft_geom g;
    strata_status st = stft_geometry(n, in, &g);
    if (st) return st;
    const strata_tensor *win = op_input(n, in, 2);
    double *xd = transformer_util_load(in[0]), *wd = win ? transformer_util_load(win) : NULL;
    double *y = mem_calloc((size_t)(g.B * g.frames * g.bins * 2 + 1), sizeof *y);
    double *src = mem_calloc((size_t)(2 * g.flen + 2), sizeof *src);
    double *tw = twiddles(g.flen);
    if (!xd || (win && !wd) || !y || !src || !tw) {
        st = transformer_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t f = 0; f < g.frames; f++) {
            for (int64_t t = 0; t < g.flen; t++) {
                const double *p = xd + (b * g.L + f * g.step + t) * g.comp;
                double w = wd ? wd[t] : 1.0;
                src[2 * t] = p[0] * w;
                src[2 * t + 1] = g.comp == 2 ? p[1] * w : 0.0;
            }
            dft_line(src, g.flen, g.flen, false, false, y + (b * g.frames + f) * g.bins * 2,
                     g.bins, tw);
        }
    transformer_util_store(out[0], y);
done:
    mem_free(xd);
    mem_free(wd);
    mem_free(y);
    mem_free(src);
    mem_free(tw);
    return st;
}
