/* kernels/ref/tensor_resize.c — reference Resize (nearest/linear/cubic, every coordinate
 * transformation mode, antialias, axes, keep_aspect_ratio_policy) and Upsample. Interpolation is
 * separable: one pass per resized axis over a double buffer, each output coordinate a short
 * list of (source index, weight) taps computed once per axis. */
#include <math.h>
#include <string.h>

#include "ref_tensor.h"

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } interp_mode;
typedef enum {
    CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS,
    CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN, CT_TF_CROP_AND_RESIZE
} coord_mode;
typedef enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE } nearest_mode;

typedef struct resize_plan {
    int rank;                         /* input rank */
    int64_t in[STRATA_MAX_DIMS];      /* input extents */
    int64_t out[STRATA_MAX_DIMS];     /* output extents */
    double scale[STRATA_MAX_DIMS];    /* scale per axis used by the coordinate transform */
    double out_f[STRATA_MAX_DIMS];    /* resized length before flooring (in * scale) */
    double roi_start[STRATA_MAX_DIMS], roi_end[STRATA_MAX_DIMS]; /* tf_crop_and_resize */
    interp_mode mode;
    coord_mode ct;
    nearest_mode nm;
    double cubic_a;                   /* cubic_coeff_a */
    bool exclude_outside;             /* zero the taps outside the input and renormalise */
    bool antialias;                   /* widen linear/cubic kernels when downsampling */
    double extrapolation;             /* value outside the crop (tf_crop_and_resize) */
} resize_plan;

static strata_status parse_attrs(const op_node *n, resize_plan *p, bool upsample)
{
    const char *m = op_attr_string(n, "mode", "nearest");
    if (strcmp(m, "nearest") == 0) p->mode = MODE_NEAREST;
    else if (strcmp(m, "linear") == 0 || strcmp(m, "bilinear") == 0) p->mode = MODE_LINEAR;
    else if (strcmp(m, "cubic") == 0 && !upsample) p->mode = MODE_CUBIC;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown mode '%s'", m);
    if (upsample || n->opset < 11) {
        p->ct = CT_ASYMMETRIC;
        p->nm = NM_SIMPLE;
    } else {
        const char *c = op_attr_string(n, "coordinate_transformation_mode", "half_pixel");
        static const char *const cts[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                          "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                                          "tf_crop_and_resize"};
        size_t i = 0;
        while (i < ARRAY_LEN(cts) && strcmp(c, cts[i]) != 0) i++;
        if (i == ARRAY_LEN(cts))
            return op_error(n, STRATA_INVALID_MODEL, "unknown coordinate_transformation_mode '%s'", c);
        p->ct = (coord_mode)i;
        const char *nm = op_attr_string(n, "nearest_mode", "round_prefer_floor");
        if (strcmp(nm, "round_prefer_floor") == 0) p->nm = NM_ROUND_PREFER_FLOOR;
        else if (strcmp(nm, "round_prefer_ceil") == 0) p->nm = NM_ROUND_PREFER_CEIL;
        else if (strcmp(nm, "floor") == 0) p->nm = NM_FLOOR;
        else if (strcmp(nm, "ceil") == 0) p->nm = NM_CEIL;
        else return op_error(n, STRATA_INVALID_MODEL, "unknown nearest_mode '%s'", nm);
    }
    p->cubic_a = op_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = op_attr_int(n, "exclude_outside", 0) != 0;
    p->antialias = op_attr_int(n, "antialias", 0) != 0;
    p->extrapolation = op_attr_float(n, "extrapolation_value", 0.0f);
    return STRATA_OK;
}

/* Reads a float tensor of at most cap entries; *count 0 when absent or empty. */
static strata_status read_floats(const op_node *n, const strata_tensor *t, const char *what,
                                 double *buf, size_t cap, size_t *count)
{
    *count = 0;
    if (!t) return STRATA_OK;
    int64_t ne = tensor_util_numel(t);
    if (ne < 0) return STRATA_NOT_FOUND;
    if (ne == 0) return STRATA_OK;
    if (!dtype_is_float(t->dtype))
        return op_error(n, STRATA_INVALID_MODEL, "'%s' must be a float tensor", what);
    if ((uint64_t)ne > cap)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' has %lld entries, at most %zu expected",
                        what, (long long)ne, cap);
    if (!t->data) return STRATA_NOT_FOUND;
    for (int64_t i = 0; i < ne; i++) buf[i] = tensor_get_f64(t, i);
    *count = (size_t)ne;
    return STRATA_OK;
}

static strata_status make_plan(const op_node *n, const strata_tensor *const *in, bool upsample,
                               resize_plan *p)
{
    memset(p, 0, sizeof *p);
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input 'X'");
    if (!dtype_is_float(x->dtype) && !dtype_is_int(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "dtype %s", strata_dtype_name(x->dtype));
    strata_status st = parse_attrs(n, p, upsample);
    if (st != STRATA_OK) return st;
    int r = x->rank;
    p->rank = r;
    for (int d = 0; d < r; d++) {
        p->in[d] = x->dims[d];
        p->out[d] = x->dims[d];
        p->scale[d] = 1.0;
        p->out_f[d] = (double)x->dims[d];
        p->roi_start[d] = 0.0;
        p->roi_end[d] = 1.0;
    }
    /* axes (opset 18) */
    int axes[STRATA_MAX_DIMS];
    size_t na = (size_t)r;
    for (int d = 0; d < r; d++) axes[d] = d;
    size_t nax = 0;
    const int64_t *ax = upsample ? NULL : op_attr_ints(n, "axes", &nax);
    if (ax) {
        if (nax > (size_t)r) return op_error(n, STRATA_INVALID_MODEL, "more axes than rank %d", r);
        bool seen[STRATA_MAX_DIMS] = {false};
        for (size_t i = 0; i < nax; i++) {
            st = op_axis(n, ax[i], r, &axes[i]);
            if (st != STRATA_OK) return st;
            if (seen[axes[i]]) return op_error(n, STRATA_INVALID_MODEL, "axis %d repeated", axes[i]);
            seen[axes[i]] = true;
        }
        na = nax;
    }
    double scales[STRATA_MAX_DIMS], roi[2 * STRATA_MAX_DIMS];
    size_t ns = 0, nr = 0, nz = 0;
    int64_t sizes[STRATA_MAX_DIMS];
    if (upsample && n->opset < 9) {
        size_t k;
        const float *f = op_attr_floats(n, "scales", &k);
        if (!f || k > STRATA_MAX_DIMS) return op_error(n, STRATA_INVALID_MODEL, "missing 'scales'");
        for (size_t i = 0; i < k; i++) scales[i] = f[i];
        ns = k;
    } else if (upsample || n->opset < 11) {
        st = read_floats(n, op_input(n, in, 1), "scales", scales, STRATA_MAX_DIMS, &ns);
    } else {
        st = read_floats(n, op_input(n, in, 1), "roi", roi, 2 * STRATA_MAX_DIMS, &nr);
        if (st == STRATA_OK)
            st = read_floats(n, op_input(n, in, 2), "scales", scales, STRATA_MAX_DIMS, &ns);
        const strata_tensor *sz = op_input(n, in, 3);
        if (st == STRATA_OK && sz && tensor_util_numel(sz) != 0)
            st = tensor_util_ints(n, sz, "sizes", sizes, STRATA_MAX_DIMS, &nz);
    }
    if (st != STRATA_OK) return st;
    if (ns && nz) return op_error(n, STRATA_INVALID_MODEL, "both scales and sizes are given");
    if (!ns && !nz) return op_error(n, STRATA_INVALID_MODEL, "neither scales nor sizes is given");
    if ((ns && ns != na) || (nz && nz != na))
        return op_error(n, STRATA_INVALID_MODEL, "scales/sizes have %zu entries for %zu axes",
                        ns ? ns : nz, na);
    if (nr) {
        if (nr != 2 * na)
            return op_error(n, STRATA_INVALID_MODEL, "roi has %zu entries, expected %zu", nr, 2 * na);
        for (size_t i = 0; i < na; i++) {
            p->roi_start[axes[i]] = roi[i];
            p->roi_end[axes[i]] = roi[i + na];
        }
    }
    for (size_t i = 0; i < na; i++)
        if (p->in[axes[i]] < 0) {
            for (size_t j = 0; j < na; j++) p->out[axes[j]] = -1;
            return STRATA_OK; /* unknown input extent: unknown output extent */
        }
    if (ns) {
        for (size_t i = 0; i < na; i++) {
            int a = axes[i];
            if (!(scales[i] > 0))
                return op_error(n, STRATA_INVALID_ARGUMENT, "scale %g on axis %d must be positive",
                                scales[i], a);
            p->scale[a] = scales[i];
            double len = (double)p->in[a] * scales[i];
            if (p->ct == CT_TF_CROP_AND_RESIZE) len *= p->roi_end[a] - p->roi_start[a];
            if (!(len < (double)STRATA_MAX_ELEMENTS))
                return op_error(n, STRATA_INVALID_ARGUMENT, "scale %g makes axis %d too large",
                                scales[i], a);
            p->out[a] = (int64_t)floor(len);
            p->out_f[a] = (double)p->in[a] * scales[i];
            if (p->out[a] < 0) p->out[a] = 0;
        }
        return STRATA_OK;
    }
    const char *policy = upsample ? "stretch" : op_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    bool larger = strcmp(policy, "not_larger") == 0, smaller = strcmp(policy, "not_smaller") == 0;
    if (!larger && !smaller && strcmp(policy, "stretch") != 0)
        return op_error(n, STRATA_INVALID_MODEL, "unknown keep_aspect_ratio_policy '%s'", policy);
    double common = 0;
    for (size_t i = 0; i < na; i++) {
        int a = axes[i];
        if (sizes[i] < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "sizes[%zu] is negative", i);
        double s = p->in[a] ? (double)sizes[i] / (double)p->in[a] : 1.0;
        if (i == 0) common = s;
        else if (larger) common = s < common ? s : common;
        else if (smaller) common = s > common ? s : common;
        p->out[a] = sizes[i];
        p->out_f[a] = (double)sizes[i];
        p->scale[a] = s;
    }
    if (larger || smaller)
        for (size_t i = 0; i < na; i++) {
            int a = axes[i];
            p->scale[a] = common;
            double len = floor(common * (double)p->in[a] + 0.5);
            if (!(len < (double)STRATA_MAX_ELEMENTS))
                return op_error(n, STRATA_INVALID_ARGUMENT, "sizes make axis %d too large", a);
            p->out[a] = (int64_t)len;
            p->out_f[a] = common * (double)p->in[a];
        }
    return STRATA_OK;
}

/* Source coordinate of output coordinate x on an axis. Like the ONNX reference, align_corners
 * and tf_crop_and_resize divide by the unfloored resized length (in * scale). */
static double source_coord(const resize_plan *p, int a, int64_t x)
{
    double s = p->scale[a], xi = (double)x, in = (double)p->in[a], out = (double)p->out[a];
    double out_f = p->out_f[a];
    switch (p->ct) {
    case CT_HALF_PIXEL: return (xi + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adj = out / (s * in), center = in / 2;
        return center * (1 - adj) + (xi + 0.5) / s - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? (xi + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return out == 1 ? 0.0 : xi * (in - 1) / (out_f - 1);
    case CT_ASYMMETRIC: return xi / s;
    case CT_TF_HALF_PIXEL_FOR_NN: return (xi + 0.5) / s;
    case CT_TF_CROP_AND_RESIZE: {
        double st = p->roi_start[a], en = p->roi_end[a];
        return out > 1 ? st * (in - 1) + xi * (en - st) * (in - 1) / (out_f - 1)
                       : 0.5 * (st + en) * (in - 1);
    }
    }
    return xi;
}

static double cubic_kernel(double x, double A)
{
    x = fabs(x);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

/* Taps of one axis: for each output coordinate, n_taps (index, weight) pairs; extrap[o] marks
 * coordinates outside the crop. */
typedef struct axis_taps {
    int64_t n_taps;   /* taps per output coordinate */
    int64_t *idx;     /* [out * n_taps] source indices, clamped */
    double *w;        /* [out * n_taps] weights */
    bool *extrap;     /* [out] use the extrapolation value */
} axis_taps;

static void taps_free(axis_taps *t)
{
    mem_free(t->idx);
    mem_free(t->w);
    mem_free(t->extrap);
}

static strata_status make_taps(const op_node *n, const resize_plan *p, int a, axis_taps *t)
{
    int64_t in = p->in[a], out = p->out[a];
    double s = p->scale[a];
    bool aa = p->antialias && s < 1 && p->mode != MODE_NEAREST;
    int64_t taps;
    if (p->mode == MODE_NEAREST) taps = 1;
    else if (!aa) taps = p->mode == MODE_LINEAR ? 2 : 4;
    else if (p->mode == MODE_LINEAR) taps = 2 - 2 * (int64_t)(floor(-1 / s) + 1);
    else taps = 2 - 2 * (int64_t)(floor(-2 / s) + 1);
    if (taps > 4096 || taps < 1)
        return op_error(n, STRATA_UNSUPPORTED, "scale %g needs %lld taps", s, (long long)taps);
    if (in == 0 && out > 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "axis %d: cannot resize an empty axis to %lld "
                        "elements", a, (long long)out);
    t->n_taps = taps;
    t->idx = mem_alloc((size_t)(out * taps + 1) * sizeof *t->idx);
    t->w = mem_alloc((size_t)(out * taps + 1) * sizeof *t->w);
    t->extrap = mem_calloc((size_t)out + 1, sizeof *t->extrap);
    if (!t->idx || !t->w || !t->extrap) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    for (int64_t o = 0; o < out; o++) {
        double x = source_coord(p, a, o);
        if (!isfinite(x) || fabs(x) > 0x1p62)
            return op_error(n, STRATA_INVALID_ARGUMENT, "axis %d: output %lld maps to input "
                            "coordinate %g (check scales and roi)", a, (long long)o, x);
        int64_t *ix = t->idx + o * taps;
        double *w = t->w + o * taps;
        if (p->ct == CT_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(in - 1))) t->extrap[o] = true;
        if (p->mode == MODE_NEAREST) {
            double f = floor(x), frac = x - f, r;
            switch (p->nm) {
            case NM_ROUND_PREFER_FLOOR: r = frac == 0.5 ? f : floor(x + 0.5); break;
            case NM_ROUND_PREFER_CEIL: r = frac == 0.5 ? f + 1 : floor(x + 0.5); break;
            case NM_FLOOR: r = f; break;
            case NM_CEIL: r = ceil(x); break;
            default: r = s < 1 ? ceil(x) : f; break;
            }
            int64_t k = (int64_t)r;
            ix[0] = k < 0 ? 0 : k >= in ? in - 1 : k;
            w[0] = 1;
            continue;
        }
        /* x0 = the tap just left of x, ratio in (0, 1] (an exact hit uses ratio 1) */
        double f = floor(x), ratio = x - f;
        if (ratio == 0) {
            f -= 1;
            ratio = 1;
        }
        int64_t x0 = (int64_t)f, first = x0 - (taps / 2 - 1);
        double sum = 0;
        for (int64_t j = 0; j < taps; j++) {
            int64_t k = first + j;
            double c;
            if (p->mode == MODE_LINEAR)
                c = aa ? fmax(0, 1 - fabs(((double)k - x) * s)) : (k == x0 ? 1 - ratio : ratio);
            else
                c = aa ? cubic_kernel(((double)k - x) * s, p->cubic_a)
                       : cubic_kernel((double)k - x, p->cubic_a);
            if (p->exclude_outside && (k < 0 || k >= in)) c = 0;
            ix[j] = k < 0 ? 0 : k >= in ? in - 1 : k;
            w[j] = c;
            sum += c;
        }
        if ((aa || p->exclude_outside) && sum != 0)
            for (int64_t j = 0; j < taps; j++) w[j] /= sum;
    }
    return STRATA_OK;
}

static strata_status resize_run(const op_node *n, const strata_tensor *x, const resize_plan *p,
                                strata_tensor *y)
{
    int r = p->rank;
    int64_t cur_dims[STRATA_MAX_DIMS];
    memcpy(cur_dims, p->in, sizeof cur_dims);
    int64_t ne = tensor_util_numel(x);
    double *cur = mem_alloc((size_t)(ne + 1) * sizeof *cur);
    if (!cur) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < ne; i++) cur[i] = tensor_get_f64(x, i);
    strata_status st = STRATA_OK;
    for (int a = 0; a < r && st == STRATA_OK; a++) {
        bool identity = p->in[a] == p->out[a] && p->ct != CT_TF_CROP_AND_RESIZE;
        for (int64_t o = 0; identity && o < p->out[a]; o++)
            if (source_coord(p, a, o) != (double)o) identity = false;
        if (identity) continue;
        axis_taps t = {0, NULL, NULL, NULL};
        st = make_taps(n, p, a, &t);
        int64_t outer = tensor_util_prod(cur_dims, 0, a), inner = tensor_util_prod(cur_dims, a + 1, r);
        int64_t in = cur_dims[a], out = p->out[a];
        double *next = st == STRATA_OK ? mem_alloc((size_t)(outer * out * inner + 1) * sizeof *next) : NULL;
        if (st == STRATA_OK && !next) st = op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
        if (st == STRATA_OK) {
            for (int64_t b = 0; b < outer; b++)
                for (int64_t o = 0; o < out; o++) {
                    double *dst = next + (b * out + o) * inner;
                    if (t.extrap[o]) {
                        for (int64_t i = 0; i < inner; i++) dst[i] = p->extrapolation;
                        continue;
                    }
                    for (int64_t i = 0; i < inner; i++) dst[i] = 0;
                    for (int64_t j = 0; j < t.n_taps; j++) {
                        double w = t.w[o * t.n_taps + j];
                        if (w == 0) continue;
                        const double *src = cur + (b * in + t.idx[o * t.n_taps + j]) * inner;
                        for (int64_t i = 0; i < inner; i++) dst[i] += w * src[i];
                    }
                }
            mem_free(cur);
            cur = next;
            cur_dims[a] = out;
        }
        taps_free(&t);
    }
    if (st == STRATA_OK) {
        int64_t no = tensor_util_numel(y);
        bool round_int = !dtype_is_float(y->dtype);
        for (int64_t i = 0; i < no; i++)
            tensor_set_f64(y, i, round_int ? nearbyint(cur[i]) : cur[i]);
    }
    mem_free(cur);
    return st;
}

static strata_status infer_common(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out, bool upsample)
{
    resize_plan p;
    strata_status st = make_plan(n, in, upsample, &p);
    if (st != STRATA_OK) return st;
    return tensor_util_shape(n, out[0], in[0]->dtype, p.rank, p.out);
}

static strata_status compute_common(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out, bool upsample)
{
    resize_plan p;
    strata_status st = make_plan(n, in, upsample, &p);
    if (st != STRATA_OK) return st;
    return resize_run(n, in[0], &p, out[0]);
}

strata_status tensor_resize_resize_infer(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    return infer_common(n, in, out, false);
}

strata_status tensor_resize_resize_compute(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    return compute_common(n, in, out, false);
}

strata_status tensor_resize_upsample_infer(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    return infer_common(n, in, out, true);
}

strata_status tensor_resize_upsample_compute(const op_node *n, const strata_tensor *const *in,
                                             strata_tensor *const *out)
{
    return compute_common(n, in, out, true);
}
