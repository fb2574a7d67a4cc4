/* kernels/ref/nn_sample.c — reference sampling ops: GridSample (nearest / linear / cubic over 2-D
 * and 3-D, zeros / border / reflection padding), AffineGrid and RoiAlign (avg / max, half_pixel
 * or output_half_pixel). Computes in double. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ref_nn.h"

/* ---- GridSample ------------------------------------------------------------------------------------ */

typedef enum gs_mode { GS_NEAREST, GS_LINEAR, GS_CUBIC } gs_mode;
typedef enum gs_pad { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_pad;

static strata_status gs_options(const op_node *n, gs_mode *mode, gs_pad *pad)
{
    const char *m = op_attr_string(n, "mode", n->opset >= 20 ? "linear" : "bilinear");
    const char *p = op_attr_string(n, "padding_mode", "zeros");
    if (strcmp(m, "nearest") == 0) *mode = GS_NEAREST;
    else if (strcmp(m, "linear") == 0 || strcmp(m, "bilinear") == 0) *mode = GS_LINEAR;
    else if (strcmp(m, "cubic") == 0 || strcmp(m, "bicubic") == 0) *mode = GS_CUBIC;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown mode '%s'", m);
    if (strcmp(p, "zeros") == 0) *pad = GS_ZEROS;
    else if (strcmp(p, "border") == 0) *pad = GS_BORDER;
    else if (strcmp(p, "reflection") == 0) *pad = GS_REFLECTION;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown padding_mode '%s'", p);
    return STRATA_OK;
}

strata_status nn_sample_grid_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *g = op_input(n, in, 1);
    if (!x || !g) return op_error(n, STRATA_INVALID_MODEL, "needs inputs X and grid");
    strata_status st = nn_util_need_float(n, x, "X");
    if (!st) st = nn_util_need_float(n, g, "grid");
    if (st) return st;
    gs_mode mode;
    gs_pad pad;
    if ((st = gs_options(n, &mode, &pad))) return st;
    int r = x->rank - 2;
    if (r < 1 || r > 3 || g->rank != x->rank || (g->dims[g->rank - 1] >= 0 && g->dims[g->rank - 1] != r))
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "need X [N, C, D1..Dr] (r = 1..3) and grid [N, O1..Or, r]");
    if (x->dims[0] >= 0 && g->dims[0] >= 0 && x->dims[0] != g->dims[0])
        return op_error(n, STRATA_INVALID_ARGUMENT, "X and grid batch sizes differ");
    int64_t dims[STRATA_MAX_DIMS];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < r; i++) dims[2 + i] = g->dims[1 + i];
    return tensor_set_shape(out[0], x->dtype, x->rank, dims);
}

static double gs_reflect(double x, double lo, double hi)
{
    double rng = hi - lo;
    if (rng <= 0) return lo;
    if (x < lo) {
        double dx = lo - x;
        int64_t k = (int64_t)(dx / rng);
        double r = dx - (double)k * rng;
        return k % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi;
        int64_t k = (int64_t)(dx / rng);
        double r = dx - (double)k * rng;
        return k % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

/* Index i along a dim of extent d after padding; false when it reads as zero. */
static bool gs_index(int64_t i, int64_t d, gs_pad pad, double lo, double hi, int64_t *out)
{
    if (pad == GS_ZEROS) {
        *out = i;
        return i >= 0 && i < d;
    }
    if (pad == GS_BORDER) {
        *out = i < 0 ? 0 : i >= d ? d - 1 : i;
        return true;
    }
    int64_t k = (int64_t)gs_reflect((double)i, lo, hi);
    *out = k < 0 ? 0 : k >= d ? d - 1 : k;
    return true;
}

static void cubic_coeffs(double t, double *c)
{
    const double a = -0.75;
    double x = fabs(t);
    c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
    c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
    c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
    c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

strata_status nn_sample_grid_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *g = in[1];
    gs_mode mode;
    gs_pad pad;
    strata_status st = gs_options(n, &mode, &pad);
    if (st) return st;
    bool align = op_attr_int(n, "align_corners", 0) != 0;
    int r = x->rank - 2;
    int64_t N = x->dims[0], C = x->dims[1], IP = 1, OP = 1;
    const int64_t *xd = x->dims + 2;
    for (int i = 0; i < r; i++) IP *= xd[i], OP *= g->dims[1 + i];
    double *xv = nn_util_f64_load(x), *gv = nn_util_f64_load(g);
    int64_t ny = nn_util_numel(out[0]);
    double *y = mem_calloc((size_t)(ny > 0 ? ny : 1), sizeof *y);
    if (!xv || !gv || !y) {
        st = nn_util_oom(n);
        goto done;
    }
    double lo[3], hi[3];
    for (int i = 0; i < r; i++) {
        lo[i] = align ? 0.0 : -0.5;
        hi[i] = align ? (double)xd[i] - 1 : (double)xd[i] - 0.5;
    }
    int taps = mode == GS_NEAREST ? 1 : mode == GS_LINEAR ? 2 : 4;
    for (int64_t b = 0; b < N; b++)
        for (int64_t o = 0; o < OP; o++) {
            const double *gp = gv + (b * OP + o) * r;
            int64_t base[3];
            double coef[3][4];
            for (int i = 0; i < r; i++) {
                double nv = gp[r - 1 - i]; /* grid's last component is the first spatial dim */
                double len = (double)xd[i];
                double v = align ? (nv + 1) / 2.0 * (len - 1) : ((nv + 1) * len - 1) / 2.0;
                if (mode == GS_NEAREST) v = nearbyint(v);
                if (v < lo[i] || v > hi[i]) {
                    if (pad == GS_BORDER) v = v < 0 ? 0 : v > len - 1 ? len - 1 : v;
                    else if (pad == GS_REFLECTION) v = gs_reflect(v, lo[i], hi[i]);
                }
                double f = floor(v);
                if (mode == GS_NEAREST) {
                    base[i] = (int64_t)v;
                    coef[i][0] = 1;
                } else if (mode == GS_LINEAR) {
                    base[i] = (int64_t)f;
                    coef[i][0] = 1 - (v - f);
                    coef[i][1] = v - f;
                } else {
                    base[i] = (int64_t)f - 1;
                    cubic_coeffs(v - f, coef[i]);
                }
            }
            int n_comb = 1;
            for (int i = 0; i < r; i++) n_comb *= taps;
            for (int64_t c = 0; c < C; c++) {
                const double *xc = xv + (b * C + c) * IP;
                double acc = 0;
                /* separable interpolation: every combination of taps, weight = product */
                for (int comb = 0; comb < n_comb; comb++) {
                    int rest = comb;
                    double w = 1;
                    int64_t idx[3];
                    bool ok = true;
                    for (int i = r - 1; i >= 0; i--) {
                        int t = rest % taps;
                        rest /= taps;
                        if (!gs_index(base[i] + t, xd[i], pad, lo[i], hi[i], &idx[i])) ok = false;
                        w *= coef[i][t];
                    }
                    if (!ok) continue;
                    int64_t off = 0;
                    for (int i = 0; i < r; i++) off = off * xd[i] + idx[i];
                    acc += w * xc[off];
                }
                y[(b * C + c) * OP + o] = acc;
            }
        }
    nn_util_f64_store(out[0], y);
done:
    mem_free(xv);
    mem_free(gv);
    mem_free(y);
    return st;
}

/* ---- AffineGrid ------------------------------------------------------------------------------------ */

strata_status nn_sample_affine_grid_infer(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    const strata_tensor *th = op_input(n, in, 0), *sz = op_input(n, in, 1);
    if (!th || !sz) return op_error(n, STRATA_INVALID_MODEL, "needs inputs theta and size");
    strata_status st = nn_util_need_float(n, th, "theta");
    if (st) return st;
    if (sz->dtype != STRATA_DTYPE_I64 || sz->rank != 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "size must be a 1-D int64 tensor");
    if (!sz->data) return STRATA_NOT_FOUND;
    int64_t k = nn_util_numel(sz);
    if (k != 4 && k != 5) return op_error(n, STRATA_INVALID_ARGUMENT, "size has %lld entries; want 4 or 5", (long long)k);
    int r = (int)k - 2;
    if (th->rank != 3 || (th->dims[1] >= 0 && th->dims[1] != r) || (th->dims[2] >= 0 && th->dims[2] != r + 1))
        return op_error(n, STRATA_INVALID_ARGUMENT, "theta must be [N, %d, %d]", r, r + 1);
    const int64_t *s = sz->data;
    if (th->dims[0] >= 0 && s[0] != th->dims[0])
        return op_error(n, STRATA_INVALID_ARGUMENT, "size[0] %lld differs from theta's batch %lld",
                        (long long)s[0], (long long)th->dims[0]);
    int64_t dims[5];
    dims[0] = s[0];
    for (int i = 0; i < r; i++) {
        if (s[2 + i] < 0 || s[2 + i] > STRATA_MAX_ELEMENTS)
            return op_error(n, STRATA_INVALID_ARGUMENT, "size[%d] is %lld", 2 + i, (long long)s[2 + i]);
        dims[1 + i] = s[2 + i];
    }
    dims[1 + r] = r;
    return tensor_set_shape(out[0], th->dtype, r + 2, dims);
}

strata_status nn_sample_affine_grid_compute(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    const strata_tensor *th = in[0];
    const int64_t *s = in[1]->data;
    bool align = op_attr_int(n, "align_corners", 0) != 0;
    int r = out[0]->rank - 2;
    int64_t N = s[0], sp[3], P = 1;
    for (int i = 0; i < r; i++) P *= (sp[i] = s[2 + i]);
    double *tv = nn_util_f64_load(th);
    if (!tv) return nn_util_oom(n);
    for (int64_t b = 0; b < N; b++) {
        const double *t = tv + b * r * (r + 1);
        for (int64_t p = 0; p < P; p++) {
            /* base coordinates in the order x (last dim), y, z, then 1 */
            double base[4];
            int64_t rest = p;
            for (int i = r - 1; i >= 0; i--) {
                int64_t idx = rest % sp[i], L = sp[i];
                rest /= sp[i];
                double v;
                if (align) v = L > 1 ? -1.0 + 2.0 * (double)idx / (double)(L - 1) : -1.0;
                else v = (2.0 * (double)idx + 1.0) / (double)L - 1.0;
                base[r - 1 - i] = v;
            }
            base[r] = 1.0;
            for (int j = 0; j < r; j++) {
                double acc = 0;
                for (int k = 0; k <= r; k++) acc += t[j * (r + 1) + k] * base[k];
                tensor_set_f64(out[0], (b * P + p) * r + j, acc);
            }
        }
    }
    mem_free(tv);
    return STRATA_OK;
}

/* ---- RoiAlign -------------------------------------------------------------------------------------- */

strata_status nn_sample_roi_align_infer(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *rois = op_input(n, in, 1);
    const strata_tensor *bi = op_input(n, in, 2);
    if (!x || !rois || !bi) return op_error(n, STRATA_INVALID_MODEL, "needs X, rois, batch_indices");
    strata_status st = nn_util_need_float(n, x, "X");
    if (st) return st;
    if (x->rank != 4 || rois->rank != 2 || (rois->dims[1] >= 0 && rois->dims[1] != 4) ||
        bi->rank != 1 || !dtype_is_int(bi->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "need X [N,C,H,W], rois [R,4] and integer batch_indices [R]");
    int64_t oh = op_attr_int(n, "output_height", 1), ow = op_attr_int(n, "output_width", 1);
    if (oh < 1 || ow < 1 || oh > (1 << 20) || ow > (1 << 20))
        return op_error(n, STRATA_INVALID_MODEL, "bad output_height/width");
    const char *m = op_attr_string(n, "mode", "avg");
    if (strcmp(m, "avg") != 0 && strcmp(m, "max") != 0)
        return op_error(n, STRATA_INVALID_MODEL, "unknown mode '%s'", m);
    int64_t dims[4] = {rois->dims[0], x->dims[1], oh, ow};
    return tensor_set_shape(out[0], x->dtype, 4, dims);
}

strata_status nn_sample_roi_align_compute(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *rois = in[1], *bi = in[2];
    bool is_max = strcmp(op_attr_string(n, "mode", "avg"), "max") == 0;
    const char *ctm = op_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    bool half = strcmp(ctm, "half_pixel") == 0;
    double scale = op_attr_float(n, "spatial_scale", 1.0f);
    int64_t sr = op_attr_int(n, "sampling_ratio", 0);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t R = rois->dims[0], OH = out[0]->dims[2], OW = out[0]->dims[3];
    if (nn_util_numel(bi) != R)
        return op_error(n, STRATA_INVALID_ARGUMENT, "batch_indices has %lld entries for %lld rois",
                        (long long)nn_util_numel(bi), (long long)R);
    if ((H == 0 || W == 0) && R > 0 && C > 0 && OH > 0 && OW > 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input X is %lld x %lld: no pixels to sample",
                        (long long)H, (long long)W);
    if (sr > 65536)
        return op_error(n, STRATA_INVALID_ARGUMENT, "sampling_ratio %lld is over 65536",
                        (long long)sr);
    double *xv = nn_util_f64_load(x);
    if (!xv) return nn_util_oom(n);
    double off = half ? 0.5 : 0.0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = tensor_get_i64(bi, r);
        if (b < 0 || b >= N) {
            mem_free(xv);
            return op_error(n, STRATA_INVALID_ARGUMENT, "roi %lld has batch index %lld of %lld",
                            (long long)r, (long long)b, (long long)N);
        }
        double x1 = tensor_get_f64(rois, r * 4) * scale - off;
        double y1 = tensor_get_f64(rois, r * 4 + 1) * scale - off;
        double x2 = tensor_get_f64(rois, r * 4 + 2) * scale - off;
        double y2 = tensor_get_f64(rois, r * 4 + 3) * scale - off;
        if (!isfinite(x1) || !isfinite(y1) || !isfinite(x2) || !isfinite(y2)) {
            mem_free(xv);
            return op_error(n, STRATA_INVALID_ARGUMENT, "roi %lld has a non-finite coordinate",
                            (long long)r);
        }
        double rw = x2 - x1, rh = y2 - y1;
        if (!half) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        double bh = rh / (double)OH, bw = rw / (double)OW;
        if (sr <= 0 && (ceil(rh / (double)OH) > 65536 || ceil(rw / (double)OW) > 65536)) {
            mem_free(xv);
            return op_error(n, STRATA_INVALID_ARGUMENT, "roi %lld spans %g x %g pixels a bin: "
                            "over 65536 samples a side", (long long)r, rh / (double)OH,
                            rw / (double)OW);
        }
        int64_t gh = sr > 0 ? sr : (int64_t)ceil(rh / (double)OH);
        int64_t gw = sr > 0 ? sr : (int64_t)ceil(rw / (double)OW);
        double count = (double)(gh * gw > 1 ? gh * gw : 1);
        for (int64_t c = 0; c < C; c++) {
            const double *xc = xv + (b * C + c) * H * W;
            for (int64_t ph = 0; ph < OH; ph++)
                for (int64_t pw = 0; pw < OW; pw++) {
                    double acc = is_max ? -DBL_MAX : 0.0;
                    bool any = false;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double yy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double xx = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double v1 = 0, v2 = 0, v3 = 0, v4 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0;
                            if (!(yy < -1.0 || yy > (double)H || xx < -1.0 || xx > (double)W)) {
                                double yc = yy <= 0 ? 0 : yy, xc2 = xx <= 0 ? 0 : xx;
                                int64_t yl = (int64_t)yc, xl = (int64_t)xc2, yh, xh;
                                if (yl >= H - 1) yh = yl = H - 1, yc = (double)yl;
                                else yh = yl + 1;
                                if (xl >= W - 1) xh = xl = W - 1, xc2 = (double)xl;
                                else xh = xl + 1;
                                double ly = yc - (double)yl, lx = xc2 - (double)xl;
                                double hy = 1 - ly, hx = 1 - lx;
                                w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx;
                                v1 = xc[yl * W + xl], v2 = xc[yl * W + xh];
                                v3 = xc[yh * W + xl], v4 = xc[yh * W + xh];
                            }
                            if (is_max) {
                                double m = fmax(fmax(fmax(w1 * v1, w2 * v2), w3 * v3), w4 * v4);
                                acc = any ? fmax(acc, m) : m;
                                any = true;
                            } else {
                                acc += w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4;
                            }
                        }
                    }
                    double v = is_max ? (any ? acc : 0) : acc / count;
                    tensor_set_f64(out[0], ((r * C + c) * OH + ph) * OW + pw, v);
                }
        }
    }
    mem_free(xv);
    return STRATA_OK;
}
