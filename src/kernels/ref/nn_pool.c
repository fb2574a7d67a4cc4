/* kernels/ref/nn_pool.c — reference pooling over 1 to 14 spatial dims: MaxPool (with Indices,
 * storage_order), AveragePool (count_include_pad), LpPool, their Global forms, MaxUnpool and
 * MaxRoiPool. Values are staged as double; windows walk odometers over the spatial dims. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ref_nn.h"

typedef enum pool_kind { POOL_MAX, POOL_AVG, POOL_LP } pool_kind;

static int64_t prod(int n, const int64_t *d)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= d[i];
    return p;
}

static bool max_type_ok(strata_dtype t)
{
    return dtype_is_float(t) || t == STRATA_DTYPE_I8 || t == STRATA_DTYPE_U8;
}

/* Geometry and output shapes of a windowed pool; also checks the dtype. */
static strata_status pool_setup(const op_node *n, const strata_tensor *const *in, pool_kind kind,
                                nn_window *w)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input X");
    if (x->rank < 3)
        return op_error(n, STRATA_INVALID_ARGUMENT, "X has rank %d; need >= 3", x->rank);
    if (kind == POOL_MAX ? !max_type_ok(x->dtype) : !dtype_is_float(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "X has type %s", strata_dtype_name(x->dtype));
    bool ceil_mode = op_attr_int(n, "ceil_mode", 0) != 0;
    return nn_util_window(n, x->rank - 2, x->dims + 2, NULL, ceil_mode, w);
}

static strata_status pool_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out, pool_kind kind)
{
    nn_window w;
    strata_status st = pool_setup(n, in, kind, &w);
    if (st) return st;
    const strata_tensor *x = in[0];
    int64_t dims[STRATA_MAX_DIMS];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < w.n_sp; i++) dims[2 + i] = w.out[i];
    if ((st = tensor_set_shape(out[0], x->dtype, x->rank, dims))) return st;
    if (n->n_outputs > 1 && out[1]) {
        if (kind != POOL_MAX) return op_error(n, STRATA_INVALID_MODEL, "too many outputs");
        return tensor_set_shape(out[1], STRATA_DTYPE_I64, x->rank, dims);
    }
    return STRATA_OK;
}

/* Runs the pool over every (n, c) slab; yd receives values, yi (may be NULL) max indices. */
static void pool_run(const double *xd, int64_t slabs, const nn_window *w, pool_kind kind,
                     bool include_pad, double p, int storage_order, double *yd, int64_t *yi)
{
    int ns = w->n_sp;
    int64_t IP = prod(ns, w->in), OP = prod(ns, w->out), KP = prod(ns, w->k);
    int64_t oidx[NN_MAX_SPATIAL], kidx[NN_MAX_SPATIAL], cm_str[NN_MAX_SPATIAL];
    for (int i = 0; i < ns; i++) cm_str[i] = i == 0 ? 1 : cm_str[i - 1] * w->in[i - 1];
    for (int64_t sl = 0; sl < slabs; sl++) {
        const double *xs = xd + sl * IP;
        memset(oidx, 0, sizeof oidx);
        for (int64_t o = 0; o < OP; o++) {
            double acc = kind == POOL_MAX ? -INFINITY : 0.0;
            int64_t best = -1, count = 0;
            memset(kidx, 0, sizeof kidx);
            for (int64_t kp = 0; kp < KP; kp++) {
                int64_t off = 0, cm = 0;
                bool inside = true, in_pad = true;
                for (int i = 0; i < ns; i++) {
                    int64_t ii = oidx[i] * w->s[i] - w->pb[i] + kidx[i] * w->d[i];
                    if (ii < 0 || ii >= w->in[i]) inside = false;
                    if (ii < -w->pb[i] || ii >= w->in[i] + w->pe[i]) in_pad = false;
                    off = off * w->in[i] + ii;
                    cm += ii * cm_str[i];
                }
                if (inside) {
                    double v = xs[off];
                    count++;
                    if (kind == POOL_MAX) {
                        if (v > acc || best < 0) {
                            acc = v;
                            best = storage_order ? cm : off;
                        }
                    } else if (kind == POOL_AVG) {
                        acc += v;
                    } else {
                        acc += pow(fabs(v), p);
                    }
                } else if (include_pad && in_pad) {
                    count++;
                }
                for (int i = ns - 1; i >= 0; i--) {
                    if (++kidx[i] < w->k[i]) break;
                    kidx[i] = 0;
                }
            }
            double v = acc;
            if (kind == POOL_AVG) v = count > 0 ? acc / (double)count : 0.0;
            if (kind == POOL_LP) v = pow(acc, 1.0 / p);
            if (kind == POOL_MAX && best < 0) v = 0; /* window entirely in padding */
            yd[sl * OP + o] = v;
            if (yi) yi[sl * OP + o] = best < 0 ? -1 : sl * IP + best;
            for (int i = ns - 1; i >= 0; i--) {
                if (++oidx[i] < w->out[i]) break;
                oidx[i] = 0;
            }
        }
    }
}

static strata_status pool_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out, pool_kind kind)
{
    nn_window w;
    strata_status st = pool_setup(n, in, kind, &w);
    if (st) return st;
    const strata_tensor *x = in[0];
    int64_t ny = nn_util_numel(out[0]);
    double *xd = nn_util_f64_load(x), *yd = mem_alloc((size_t)(ny > 0 ? ny : 1) * sizeof *yd);
    if (!xd || !yd) {
        mem_free(xd);
        mem_free(yd);
        return nn_util_oom(n);
    }
    int64_t *yi = n->n_outputs > 1 && out[1] ? out[1]->data : NULL;
    bool include_pad = op_attr_int(n, "count_include_pad", 0) != 0;
    double p = (double)op_attr_int(n, "p", 2);
    int storage_order = (int)op_attr_int(n, "storage_order", 0);
    pool_run(xd, x->dims[0] * x->dims[1], &w, kind, include_pad, p, storage_order, yd, yi);
    nn_util_f64_store(out[0], yd);
    mem_free(xd);
    mem_free(yd);
    return STRATA_OK;
}

strata_status nn_pool_max_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    return pool_infer(n, in, out, POOL_MAX);
}

strata_status nn_pool_max_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    return pool_compute(n, in, out, POOL_MAX);
}

strata_status nn_pool_average_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    return pool_infer(n, in, out, POOL_AVG);
}

strata_status nn_pool_average_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    return pool_compute(n, in, out, POOL_AVG);
}

strata_status nn_pool_lp_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    return pool_infer(n, in, out, POOL_LP);
}

strata_status nn_pool_lp_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    return pool_compute(n, in, out, POOL_LP);
}

/* ---- global pools -------------------------------------------------------------------------------- */

static strata_status global_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out, pool_kind kind)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input X");
    if (x->rank < 2) return op_error(n, STRATA_INVALID_ARGUMENT, "X has rank %d; need >= 2", x->rank);
    if (kind == POOL_MAX ? !max_type_ok(x->dtype) : !dtype_is_float(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "X has type %s", strata_dtype_name(x->dtype));
    int64_t dims[STRATA_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    return tensor_set_shape(out[0], x->dtype, x->rank, dims);
}

static strata_status global_compute(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out, pool_kind kind)
{
    const strata_tensor *x = in[0];
    int64_t slabs = x->dims[0] * x->dims[1], S = prod(x->rank - 2, x->dims + 2);
    double p = (double)op_attr_int(n, "p", 2);
    double *xd = nn_util_f64_load(x), *yd = mem_alloc((size_t)(slabs > 0 ? slabs : 1) * sizeof *yd);
    if (!xd || !yd) {
        mem_free(xd);
        mem_free(yd);
        return nn_util_oom(n);
    }
    for (int64_t sl = 0; sl < slabs; sl++) {
        const double *xs = xd + sl * S;
        double acc = kind == POOL_MAX ? -INFINITY : 0.0;
        for (int64_t i = 0; i < S; i++) {
            if (kind == POOL_MAX) acc = xs[i] > acc ? xs[i] : acc;
            else if (kind == POOL_AVG) acc += xs[i];
            else acc += pow(fabs(xs[i]), p);
        }
        if (kind == POOL_AVG) acc = S > 0 ? acc / (double)S : 0;
        if (kind == POOL_LP) acc = pow(acc, 1.0 / p);
        yd[sl] = acc;
    }
    nn_util_f64_store(out[0], yd);
    mem_free(xd);
    mem_free(yd);
    return STRATA_OK;
}

strata_status nn_pool_global_average_infer(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    return global_infer(n, in, out, POOL_AVG);
}

strata_status nn_pool_global_average_compute(const op_node *n, const strata_tensor *const *in,
                                             strata_tensor *const *out)
{
    return global_compute(n, in, out, POOL_AVG);
}

strata_status nn_pool_global_max_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    return global_infer(n, in, out, POOL_MAX);
}

strata_status nn_pool_global_max_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    return global_compute(n, in, out, POOL_MAX);
}

strata_status nn_pool_global_lp_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    return global_infer(n, in, out, POOL_LP);
}

strata_status nn_pool_global_lp_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    return global_compute(n, in, out, POOL_LP);
}

/* ---- MaxUnpool ------------------------------------------------------------------------------------ */

/* The output shape MaxUnpool derives from kernel, strides and pads (the indices refer to it). */
static strata_status unpool_default_dims(const op_node *n, const strata_tensor *x, int64_t *dims)
{
    nn_window w;
    int ns = x->rank - 2;
    strata_status st = nn_util_window(n, ns, x->dims + 2, NULL, false, &w);
    if (st) return st;
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < ns; i++)
        dims[2 + i] = x->dims[2 + i] < 0 ? -1
                      : (x->dims[2 + i] - 1) * w.s[i] - w.pb[i] - w.pe[i] + w.k[i];
    return STRATA_OK;
}

strata_status nn_pool_max_unpool_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *idx = op_input(n, in, 1);
    const strata_tensor *os = op_input(n, in, 2);
    if (!x || !idx) return op_error(n, STRATA_INVALID_MODEL, "needs inputs X and I");
    if (x->rank < 3) return op_error(n, STRATA_INVALID_ARGUMENT, "X has rank %d; need >= 3", x->rank);
    if (idx->dtype != STRATA_DTYPE_I64 || idx->rank != x->rank)
        return op_error(n, STRATA_INVALID_ARGUMENT, "I must be int64 with X's shape");
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = unpool_default_dims(n, x, dims);
    if (st) return st;
    if (os) {
        if (!os->data) return STRATA_NOT_FOUND;
        if (os->rank != 1 || nn_util_numel(os) != x->rank)
            return op_error(n, STRATA_INVALID_ARGUMENT, "output_shape must have %d entries", x->rank);
        for (int i = 0; i < x->rank; i++) {
            dims[i] = tensor_get_i64(os, i);
            if (dims[i] < 0 || dims[i] > STRATA_MAX_ELEMENTS)
                return op_error(n, STRATA_INVALID_ARGUMENT, "output_shape[%d] is %lld", i,
                                (long long)dims[i]);
        }
    }
    return tensor_set_shape(out[0], x->dtype, x->rank, dims);
}

strata_status nn_pool_max_unpool_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *idx = in[1];
    int64_t nx = nn_util_numel(x), def[STRATA_MAX_DIMS];
    const int64_t *ix = idx->data;
    strata_status st = unpool_default_dims(n, x, def);
    if (st) return st;
    int64_t nd = shape_numel(x->rank, def);
    if (nn_util_numel(idx) != nx) return op_error(n, STRATA_INVALID_ARGUMENT, "I and X sizes differ");
    for (int64_t i = 0; i < nx; i++) {
        if (ix[i] < 0 || ix[i] >= nd)
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "index %lld at %lld is outside the unpooled shape (%lld elements)",
                            (long long)ix[i], (long long)i, (long long)nd);
        /* the index is into the default shape; re-linearise it into the output's */
        int64_t rest = ix[i], o = 0, mul = 1;
        for (int d = x->rank - 1; d >= 0; d--) {
            int64_t c = rest % def[d];
            rest /= def[d];
            if (c >= out[0]->dims[d])
                return op_error(n, STRATA_INVALID_ARGUMENT, "index %lld falls outside output_shape",
                                (long long)ix[i]);
            o += c * mul;
            mul *= out[0]->dims[d];
        }
        tensor_set_f64(out[0], o, tensor_get_f64(x, i));
    }
    return STRATA_OK;
}

/* ---- MaxRoiPool ---------------------------------------------------------------------------------- */

strata_status nn_pool_max_roi_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *rois = op_input(n, in, 1);
    if (!x || !rois) return op_error(n, STRATA_INVALID_MODEL, "needs inputs X and rois");
    strata_status st = nn_util_need_float(n, x, "X");
    if (st) return st;
    if (x->rank != 4 || rois->rank != 2 || (rois->dims[1] >= 0 && rois->dims[1] != 5))
        return op_error(n, STRATA_INVALID_ARGUMENT, "need X [N,C,H,W] and rois [R,5]");
    size_t np = 0;
    const int64_t *ps = op_attr_ints(n, "pooled_shape", &np);
    if (!ps || np != 2 || ps[0] < 1 || ps[1] < 1)
        return op_error(n, STRATA_INVALID_MODEL, "'pooled_shape' must be two positive ints");
    int64_t dims[4] = {rois->dims[0], x->dims[1], ps[0], ps[1]};
    return tensor_set_shape(out[0], x->dtype, 4, dims);
}

strata_status nn_pool_max_roi_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *rois = in[1];
    double scale = op_attr_float(n, "spatial_scale", 1.0f);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t R = rois->dims[0], PH = out[0]->dims[2], PW = out[0]->dims[3];
    for (int64_t r = 0; r < R; r++) {
        int64_t b = (int64_t)tensor_get_f64(rois, r * 5);
        if (b < 0 || b >= N)
            return op_error(n, STRATA_INVALID_ARGUMENT, "roi %lld has batch index %lld of %lld",
                            (long long)r, (long long)b, (long long)N);
        int64_t x1 = (int64_t)round(tensor_get_f64(rois, r * 5 + 1) * scale);
        int64_t y1 = (int64_t)round(tensor_get_f64(rois, r * 5 + 2) * scale);
        int64_t x2 = (int64_t)round(tensor_get_f64(rois, r * 5 + 3) * scale);
        int64_t y2 = (int64_t)round(tensor_get_f64(rois, r * 5 + 4) * scale);
        double bh = (double)(y2 - y1 + 1 > 1 ? y2 - y1 + 1 : 1) / (double)PH;
        double bw = (double)(x2 - x1 + 1 > 1 ? x2 - x1 + 1 : 1) / (double)PW;
        for (int64_t c = 0; c < C; c++)
            for (int64_t ph = 0; ph < PH; ph++)
                for (int64_t pw = 0; pw < PW; pw++) {
                    int64_t hs = (int64_t)floor((double)ph * bh) + y1;
                    int64_t he = (int64_t)ceil((double)(ph + 1) * bh) + y1;
                    int64_t ws = (int64_t)floor((double)pw * bw) + x1;
                    int64_t we = (int64_t)ceil((double)(pw + 1) * bw) + x1;
                    hs = hs < 0 ? 0 : hs > H ? H : hs;
                    he = he < 0 ? 0 : he > H ? H : he;
                    ws = ws < 0 ? 0 : ws > W ? W : ws;
                    we = we < 0 ? 0 : we > W ? W : we;
                    double m = (he <= hs || we <= ws) ? 0 : -DBL_MAX;
                    for (int64_t h = hs; h < he; h++)
                        for (int64_t w = ws; w < we; w++) {
                            double v = tensor_get_f64(x, ((b * C + c) * H + h) * W + w);
                            if (v > m) m = v;
                        }
                    tensor_set_f64(out[0], ((r * C + c) * PH + ph) * PW + pw, m);
                }
    }
    return STRATA_OK;
}
