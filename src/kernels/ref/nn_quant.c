/* kernels/ref/nn_quant.c — reference QuantizeLinear, DequantizeLinear (per tensor, per axis and
 * blocked scales; 2-, 4-, 8-, 16- and 32-bit integers, float8 and float4) and
 * DynamicQuantizeLinear (uint8). Arithmetic is in float32 as the ONNX reference does it, rounding
 * half to even; float8/float4 results are rounded by the 'saturate' rule. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

/* How a scale / zero point maps onto x: per tensor, per axis, or per block along axis. */
typedef struct quant_map {
    int64_t outer, A, inner; /* x viewed as [outer, A, inner] around axis */
    int64_t block;           /* 0: per tensor or per axis; else block size along axis */
    int64_t n_blocks;        /* blocks along axis (blocked) */
    bool per_tensor;         /* one scale */
} quant_map;

static strata_status quant_map_make(const op_node *n, const strata_tensor *x,
                                    const strata_tensor *scale, quant_map *m)
{
    memset(m, 0, sizeof *m);
    int64_t ns = nn_util_numel(scale);
    if (scale->rank == 0 || (scale->rank == 1 && ns == 1 && op_attr_int(n, "block_size", 0) == 0)) {
        m->per_tensor = true;
        return STRATA_OK;
    }
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", 1), x->rank, &axis);
    if (st) return st;
    m->outer = shape_numel(axis, x->dims);
    m->A = x->dims[axis];
    m->inner = shape_numel(x->rank - axis - 1, x->dims + axis + 1);
    int64_t bs = op_attr_int(n, "block_size", 0);
    if (bs < 0) return op_error(n, STRATA_INVALID_MODEL, "'block_size' is %lld", (long long)bs);
    if (bs == 0) {
        if (scale->rank != 1 || (m->A >= 0 && ns >= 0 && ns != m->A))
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "per-axis scale must be 1-D with %lld elements (axis %d)",
                            (long long)m->A, axis);
        return STRATA_OK;
    }
    m->block = bs;
    m->n_blocks = m->A >= 0 ? (m->A + bs - 1) / bs : -1;
    if (scale->rank != x->rank)
        return op_error(n, STRATA_INVALID_ARGUMENT, "blocked scale must have X's rank %d", x->rank);
    for (int i = 0; i < x->rank; i++) {
        int64_t want = i == axis ? m->n_blocks : x->dims[i];
        if (want >= 0 && scale->dims[i] >= 0 && scale->dims[i] != want)
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "blocked scale dim %d is %lld; want %lld (block_size %lld)", i,
                            (long long)scale->dims[i], (long long)want, (long long)bs);
    }
    return STRATA_OK;
}

/* Index into the scale / zero point for element i of x. */
static int64_t quant_map_index(const quant_map *m, int64_t i)
{
    if (m->per_tensor) return 0;
    int64_t r = i % m->inner, a = (i / m->inner) % m->A, o = i / (m->inner * m->A);
    if (!m->block) return a;
    return (o * m->n_blocks + a / m->block) * m->inner + r;
}

/* Range of a quantized integer type (the 4- and 2-bit ones too). */
static bool quant_int_range(strata_dtype t, int64_t *lo, int64_t *hi)
{
    switch (t) {
    case STRATA_DTYPE_I4: *lo = -8; *hi = 7; return true;
    case STRATA_DTYPE_U4: *lo = 0; *hi = 15; return true;
    case STRATA_DTYPE_I2: *lo = -2; *hi = 1; return true;
    case STRATA_DTYPE_U2: *lo = 0; *hi = 3; return true;
    default: return nn_util_int_range(t, lo, hi);
    }
}

/* The float8 and float4 types QuantizeLinear may produce (not e8m0: that is a scale type). */
static bool quant_float_type(strata_dtype t)
{
    return dtype_is_narrow_float(t) && t != STRATA_DTYPE_F8E8M0;
}

static bool zp_shape_ok(const strata_tensor *zp, const strata_tensor *scale)
{
    return !zp || (zp->rank == scale->rank &&
                   memcmp(zp->dims, scale->dims, (size_t)zp->rank * sizeof zp->dims[0]) == 0) ||
           (nn_util_numel(zp) == 1 && nn_util_numel(scale) == 1);
}

/* ---- QuantizeLinear ------------------------------------------------------------------------------ */

strata_status nn_quant_quantize_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *sc = op_input(n, in, 1), *zp = op_input(n, in, 2);
    if (!x || !sc) return op_error(n, STRATA_INVALID_MODEL, "needs inputs x and y_scale");
    if (!dtype_is_float(x->dtype) && x->dtype != STRATA_DTYPE_I32)
        return op_error(n, STRATA_UNSUPPORTED, "x has type %s", strata_dtype_name(x->dtype));
    if (!dtype_is_float(sc->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "y_scale has type %s", strata_dtype_name(sc->dtype));
    int64_t odt = op_attr_int(n, "output_dtype", 0);
    strata_dtype yt = zp ? zp->dtype : odt ? (strata_dtype)odt : STRATA_DTYPE_U8;
    if (zp && odt && odt != (int64_t)zp->dtype)
        return op_error(n, STRATA_INVALID_MODEL, "'output_dtype' %lld differs from y_zero_point's type",
                        (long long)odt);
    int64_t lo, hi;
    bool int_ok = dtype_is_valid((int)yt) && quant_int_range(yt, &lo, &hi) &&
                  yt != STRATA_DTYPE_I32 && yt != STRATA_DTYPE_U32;
    if (!int_ok && !quant_float_type(yt))
        return op_error(n, STRATA_UNSUPPORTED,
                        "output type %s (only 2- to 16-bit integers, float8 and float4)",
                        dtype_is_valid((int)yt) ? strata_dtype_name(yt) : "(unknown)");
    quant_map m;
    strata_status st = quant_map_make(n, x, sc, &m);
    if (st) return st;
    if (!zp_shape_ok(zp, sc))
        return op_error(n, STRATA_INVALID_ARGUMENT, "y_zero_point shape differs from y_scale's");
    return tensor_set_shape(out[0], yt, x->rank, x->dims);
}

strata_status nn_quant_quantize_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *sc = in[1], *zp = op_input(n, in, 2);
    quant_map m;
    strata_status st = quant_map_make(n, x, sc, &m);
    if (st) return st;
    int64_t lo = 0, hi = 0, nx = nn_util_numel(x);
    strata_dtype yt = out[0]->dtype;
    bool to_float = quant_float_type(yt), saturate = op_attr_int(n, "saturate", 1) != 0;
    if (!to_float) quant_int_range(yt, &lo, &hi);
    for (int64_t i = 0; i < nx; i++) {
        int64_t k = quant_map_index(&m, i);
        float s = (float)tensor_get_f64(sc, k);
        double q;
        if (x->dtype == STRATA_DTYPE_F64) q = tensor_get_f64(x, i) / (double)s;
        else q = (double)((float)tensor_get_f64(x, i) / s);
        if (to_float) { /* y = x / scale + zero point, rounded once into the float8/4 type */
            if (zp) q = (double)((float)q + (float)tensor_get_f64(zp, k));
            ((uint8_t *)out[0]->data)[i] = dtype_f64_to_narrow(yt, q, saturate);
            continue;
        }
        q = nn_util_rint(q) + (zp ? (double)tensor_get_i64(zp, k) : 0.0);
        int64_t v = nn_util_saturate(q, lo, hi);
        tensor_set_i64(out[0], i, v);
    }
    return STRATA_OK;
}

/* ---- DequantizeLinear ----------------------------------------------------------------------------- */

strata_status nn_quant_dequantize_infer(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *sc = op_input(n, in, 1), *zp = op_input(n, in, 2);
    if (!x || !sc) return op_error(n, STRATA_INVALID_MODEL, "needs inputs x and x_scale");
    int64_t lo, hi;
    if (!quant_int_range(x->dtype, &lo, &hi) && !quant_float_type(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "x has type %s", strata_dtype_name(x->dtype));
    if (!dtype_is_float(sc->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "x_scale has type %s", strata_dtype_name(sc->dtype));
    if (zp && zp->dtype != x->dtype)
        return op_error(n, STRATA_INVALID_ARGUMENT, "x_zero_point type %s differs from x's %s",
                        strata_dtype_name(zp->dtype), strata_dtype_name(x->dtype));
    int64_t odt = op_attr_int(n, "output_dtype", 0);
    strata_dtype yt = odt ? (strata_dtype)odt : sc->dtype;
    if (!dtype_is_valid((int)yt) || !dtype_is_float(yt))
        return op_error(n, STRATA_UNSUPPORTED, "output_dtype %lld", (long long)odt);
    quant_map m;
    strata_status st = quant_map_make(n, x, sc, &m);
    if (st) return st;
    if (!zp_shape_ok(zp, sc))
        return op_error(n, STRATA_INVALID_ARGUMENT, "x_zero_point shape differs from x_scale's");
    return tensor_set_shape(out[0], yt, x->rank, x->dims);
}

strata_status nn_quant_dequantize_compute(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *sc = in[1], *zp = op_input(n, in, 2);
    quant_map m;
    strata_status st = quant_map_make(n, x, sc, &m);
    if (st) return st;
    int64_t nx = nn_util_numel(x);
    if (quant_float_type(x->dtype)) { /* y = (x - zero point) * scale, in float32 */
        for (int64_t i = 0; i < nx; i++) {
            int64_t k = quant_map_index(&m, i);
            float v = (float)tensor_get_f64(x, i) - (zp ? (float)tensor_get_f64(zp, k) : 0.0f);
            double y = sc->dtype == STRATA_DTYPE_F64 ? (double)v * tensor_get_f64(sc, k)
                                                     : (double)(v * (float)tensor_get_f64(sc, k));
            tensor_set_f64(out[0], i, y);
        }
        return STRATA_OK;
    }
    for (int64_t i = 0; i < nx; i++) {
        int64_t k = quant_map_index(&m, i);
        int64_t v = tensor_get_i64(x, i) - (zp ? tensor_get_i64(zp, k) : 0);
        double y = sc->dtype == STRATA_DTYPE_F64 ? (double)v * tensor_get_f64(sc, k)
                                                 : (double)((float)v * (float)tensor_get_f64(sc, k));
        tensor_set_f64(out[0], i, y);
    }
    return STRATA_OK;
}

/* ---- DynamicQuantizeLinear ------------------------------------------------------------------------ */

strata_status nn_quant_dynamic_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input x");
    if (x->dtype != STRATA_DTYPE_F32)
        return op_error(n, STRATA_UNSUPPORTED, "x has type %s; need float32", strata_dtype_name(x->dtype));
    strata_status st = tensor_set_shape(out[0], STRATA_DTYPE_U8, x->rank, x->dims);
    if (!st && n->n_outputs > 1 && out[1]) st = tensor_set_shape(out[1], STRATA_DTYPE_F32, 0, NULL);
    if (!st && n->n_outputs > 2 && out[2]) st = tensor_set_shape(out[2], STRATA_DTYPE_U8, 0, NULL);
    return st;
}

strata_status nn_quant_dynamic_compute(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    const float *xf = x->data;
    int64_t nx = nn_util_numel(x);
    float mn = 0.0f, mx = 0.0f;
    for (int64_t i = 0; i < nx; i++) {
        if (xf[i] < mn) mn = xf[i];
        if (xf[i] > mx) mx = xf[i];
    }
    float scale = mx == mn ? 1.0f : (mx - mn) / 255.0f;
    float zpf = 0.0f - mn / scale;
    zpf = zpf < 0.0f ? 0.0f : zpf > 255.0f ? 255.0f : zpf;
    uint8_t zp = (uint8_t)nn_util_rint(zpf);
    uint8_t *y = out[0]->data;
    for (int64_t i = 0; i < nx; i++) {
        double q = nn_util_rint((double)(xf[i] / scale)) + zp;
        y[i] = (uint8_t)(isnan(q) ? 0 : q < 0 ? 0 : q > 255 ? 255 : q);
    }
    if (n->n_outputs > 1 && out[1]) *(float *)out[1]->data = scale;
    if (n->n_outputs > 2 && out[2]) *(uint8_t *)out[2]->data = zp;
    return STRATA_OK;
}
