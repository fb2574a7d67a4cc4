/* kernels/ref/fused.c — reference versions of the fused ops the compiler creates (domain
 * "com.strata"): FusedConv / FusedGemm / FusedMatMul = the ONNX op, then an optional residual
 * input Z added, then an activation; Gelu (erf form) and LayerNormalization for graphs older
 * than the opsets that have them; NHWC forms of FusedConv and the pools (see "NHWC forms").
 * They are the oracle for the fast fused kernels and keep a fused graph runnable by ir/eval. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

#define STRATA_DOMAIN "com.strata"
#define BASE_OPSET 21 /* the ONNX opset whose Conv/Gemm/MatMul semantics the fused ops extend */

/* Activation named by the node's "activation" attribute, applied in place over n floats. */
typedef struct activation {
    int kind;          /* 0 none, 1 relu, 2 clip, 3 sigmoid, 4 leaky relu, 5 gelu, 6 silu, 7 tanh */
    float lo, hi;      /* clip bounds */
    float alpha;       /* leaky relu slope */
} activation;

static strata_status parse_activation(const op_node *n, activation *a)
{
    const char *name = op_attr_string(n, "activation", "");
    memset(a, 0, sizeof *a);
    a->lo = op_attr_float(n, "activation_min", -INFINITY);
    a->hi = op_attr_float(n, "activation_max", INFINITY);
    a->alpha = op_attr_float(n, "activation_alpha", 0.01f);
    static const char *const names[] = {"", "Relu", "Clip", "Sigmoid", "LeakyRelu", "Gelu", "Silu", "Tanh"};
    for (size_t k = 0; k < ARRAY_LEN(names); k++)
        if (strcmp(name, names[k]) == 0) {
            a->kind = (int)k;
            return STRATA_OK;
        }
    return op_error(n, STRATA_INVALID_MODEL, "unknown activation '%s'", name);
}

static double activate(const activation *a, double x)
{
    switch (a->kind) {
    case 1: return x > 0 ? x : 0;
    case 2: return x < a->lo ? a->lo : x > a->hi ? a->hi : x;
    case 3: return 1.0 / (1.0 + exp(-x));
    case 4: return x >= 0 ? x : a->alpha * x;
    case 5: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case 6: return x / (1.0 + exp(-x));
    case 7: return tanh(x);
    default: return x;
    }
}

/* The node as the underlying ONNX op sees it: at most base_inputs inputs. */
static const op_def *base_op(const op_node *n, size_t base_inputs, op_node *base)
{
    *base = *n;
    base->domain = "";
    base->opset = BASE_OPSET;
    base->op_type = strcmp(n->op_type, "FusedConv") == 0   ? "Conv"
                    : strcmp(n->op_type, "FusedGemm") == 0 ? "Gemm"
                                                            : "MatMul";
    if (base->n_inputs > base_inputs) base->n_inputs = base_inputs;
    return ref_op_find("", base->op_type, BASE_OPSET);
}

static size_t base_inputs_of(const op_node *n)
{
    if (strcmp(n->op_type, "FusedConv") == 0) return 3;  /* X, W, B | Z */
    if (strcmp(n->op_type, "FusedGemm") == 0) return 3;  /* A, B, C | Z */
    return 2;                                             /* A, B | bias, Z */
}

/* FusedMatMul with transB = 1 reads B with its last two dims swapped: the shape (always) and,
 * when data is set, a transposed copy in *copy (mem_free it). */
static strata_status swap_last_two(const op_node *n, const strata_tensor *b, strata_tensor *view, void **copy)
{
    *copy = NULL;
    if (!b || b->rank < 2) return op_error(n, STRATA_INVALID_MODEL, "transB needs B of rank >= 2");
    *view = *b;
    int r = b->rank;
    view->dims[r - 2] = b->dims[r - 1];
    view->dims[r - 1] = b->dims[r - 2];
    view->free_fn = NULL;
    if (!b->data || shape_numel(r, b->dims) < 0) return STRATA_OK;
    int64_t rows = b->dims[r - 2], cols = b->dims[r - 1], batch = shape_numel(r - 2, b->dims);
    size_t es = strata_dtype_size(b->dtype);
    uint8_t *dst = mem_alloc(b->n_bytes ? b->n_bytes : 1);
    if (!dst) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    const uint8_t *src = b->data;
    for (int64_t t = 0; t < batch; t++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                memcpy(dst + ((size_t)(t * rows * cols + j * rows + i)) * es,
                       src + ((size_t)(t * rows * cols + i * cols + j)) * es, es);
    view->data = dst;
    *copy = dst;
    return STRATA_OK;
}

static bool trans_b(const op_node *n)
{
    return strcmp(n->op_type, "FusedMatMul") == 0 && op_attr_int(n, "transB", 0) != 0;
}

static strata_status fused_infer_base(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    op_node base;
    const op_def *d = base_op(n, base_inputs_of(n), &base);
    if (!d) return op_error(n, STRATA_INTERNAL, "no reference op for %s", base.op_type);
    activation a;
    strata_status st = parse_activation(n, &a);
    if (st != STRATA_OK) return st;
    if (!trans_b(n)) return d->infer(&base, in, out);
    strata_tensor bt;
    void *copy;
    const strata_tensor *args[2] = {in[0], &bt};
    strata_tensor shape_only = *in[1];
    shape_only.data = NULL; /* the shape is all infer needs */
    if ((st = swap_last_two(n, &shape_only, &bt, &copy)) != STRATA_OK) return st;
    return d->infer(&base, args, out);
}

static strata_status fused_compute_base(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    op_node base;
    size_t nb = base_inputs_of(n);
    const op_def *d = base_op(n, nb, &base);
    activation a;
    strata_status st = parse_activation(n, &a);
    if (st != STRATA_OK) return st;
    if (!d) return op_error(n, STRATA_INTERNAL, "no reference op for %s", base.op_type);
    if (trans_b(n)) {
        strata_tensor bt;
        void *copy = NULL;
        const strata_tensor *args[2] = {in[0], &bt};
        st = swap_last_two(n, in[1], &bt, &copy);
        if (st == STRATA_OK) st = d->compute(&base, args, out);
        mem_free(copy);
    } else {
        st = d->compute(&base, in, out);
    }
    if (st != STRATA_OK) return st;
    strata_tensor *y = out[0];
    int64_t count = strata_tensor_numel(y);
    const strata_tensor *bias = NULL, *z = NULL;
    if (strcmp(n->op_type, "FusedMatMul") == 0) {
        bias = op_input(n, in, 2);
        z = op_input(n, in, 3);
    } else {
        z = op_input(n, in, 3);
    }
    if (!dtype_is_float(y->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "fused ops run on float tensors, not %s",
                        strata_dtype_name(y->dtype));
    if (bias && (bias->rank != 1 || y->rank < 1 || bias->dims[0] != y->dims[y->rank - 1]))
        return op_error(n, STRATA_INVALID_MODEL, "bias must be [N] with N the last output dim");
    int64_t zstr[STRATA_MAX_DIMS], ystr[STRATA_MAX_DIMS];
    if (z) { /* z must broadcast into y without changing y's shape */
        bool ok = z->rank <= y->rank;
        for (int k = 0; ok && k < z->rank; k++) {
            int64_t yd = y->dims[k + y->rank - z->rank];
            ok = z->dims[k] == yd || z->dims[k] == 1;
        }
        if (!ok) {
            char zs[160], ys[160];
            return op_error(n, STRATA_INVALID_ARGUMENT, "residual input %s does not broadcast into "
                            "the output %s", tensor_describe(z, zs, sizeof zs), tensor_describe(y, ys, sizeof ys));
        }
        shape_broadcast_strides(z->rank, z->dims, y->rank, zstr);
        shape_strides(y->rank, y->dims, ystr);
    }
    int64_t last = y->rank ? y->dims[y->rank - 1] : 1;
    for (int64_t i = 0; i < count; i++) {
        double v = tensor_get_f64(y, i);
        if (bias) v += tensor_get_f64(bias, i % last);
        if (z) {
            int64_t zi = 0, rem = i;
            for (int k = 0; k < y->rank; k++) {
                zi += (rem / ystr[k]) * zstr[k];
                rem %= ystr[k];
            }
            v += tensor_get_f64(z, zi);
        }
        tensor_set_f64(y, i, activate(&a, v));
    }
    return STRATA_OK;
}

/* ---- NHWC forms (compile/layout_nhwc.c) --------------------------------------------------------
 * com.strata FusedConv with the string attribute layout = "NHWC" reads X (input 0) and the
 * residual Z (input 3) as [N, H, W, C] and writes Y as [N, Ho, Wo, M]; the weights W stay
 * [M, C/group, kh, kw] (ONNX order) and the bias [M]. com.strata MaxPool, AveragePool and
 * GlobalAveragePool (with layout = "NHWC") are the ONNX ops (opset 22 semantics, attributes as
 * ONNX's, one output: no MaxPool Indices) on NHWC tensors. Without the attribute (or with
 * "NCHW") they are the ONNX ops unchanged. The reference transposes to NCHW, runs the NCHW op
 * and transposes back. */
#define NHWC_POOL_OPSET 22

static bool is_nhwc(const op_node *n)
{
    return strcmp(op_attr_string(n, "layout", "NCHW"), "NHWC") == 0;
}

/* dims of an NHWC tensor in NCHW order (nchw false: the reverse). */
static void permute_dims(const int64_t *src, int64_t *dst, bool to_nchw)
{
    if (to_nchw) dst[0] = src[0], dst[1] = src[3], dst[2] = src[1], dst[3] = src[2];
    else dst[0] = src[0], dst[1] = src[2], dst[2] = src[3], dst[3] = src[1];
}

/* Copies 4-D data between layouts: src has dims sd (its own layout); to_nchw: src is NHWC. */
static void permute_data(const strata_tensor *src, strata_tensor *dst, bool to_nchw)
{
    size_t es = strata_dtype_size(src->dtype);
    const int64_t *d = src->dims;
    const uint8_t *s = src->data;
    uint8_t *o = dst->data;
    for (int64_t a = 0; a < d[0]; a++)
        for (int64_t b = 0; b < d[1]; b++)
            for (int64_t c = 0; c < d[2]; c++)
                for (int64_t e = 0; e < d[3]; e++) {
                    int64_t si = ((a * d[1] + b) * d[2] + c) * d[3] + e, di;
                    if (to_nchw) di = ((a * d[3] + e) * d[1] + b) * d[2] + c; /* (n,h,w,c) -> n,c,h,w */
                    else di = ((a * d[2] + c) * d[3] + e) * d[1] + b;         /* (n,c,h,w) -> n,h,w,c */
                    memcpy(o + (size_t)di * es, s + (size_t)si * es, es);
                }
}

/* A tensor with src's data (when it has any) in the other layout: shape only, or a new copy
 * that the caller frees with tensor_release_data. */
static strata_status relayout(const op_node *n, const strata_tensor *src, strata_tensor *dst, bool to_nchw)
{
    memset(dst, 0, sizeof *dst);
    if (src->rank != 4) return op_error(n, STRATA_INVALID_MODEL, "NHWC layout needs 4-D tensors, got rank %d", src->rank);
    int64_t dims[4];
    permute_dims(src->dims, dims, to_nchw);
    strata_status st = tensor_set_shape(dst, src->dtype, 4, dims);
    if (st != STRATA_OK || !src->data) return st;
    if ((st = tensor_alloc_data(dst)) != STRATA_OK) return st;
    permute_data(src, dst, to_nchw);
    return STRATA_OK;
}

/* Which inputs of the op are in the layout: X and, for FusedConv, Z. */
static bool nhwc_input(const op_node *n, size_t i)
{
    return i == 0 || (i == 3 && strcmp(n->op_type, "FusedConv") == 0);
}

typedef strata_status (*nchw_fn)(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out);

/* Runs fn (infer when compute is false) on NCHW copies of the layout inputs; out[0] gets the
 * NHWC form of the result. */
static strata_status nhwc_call(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out,
                               nchw_fn fn, bool compute)
{
    enum { MAX_IN = 8 };
    if (n->n_inputs > MAX_IN || n->n_outputs != 1) return op_error(n, STRATA_INVALID_MODEL, "NHWC form takes at most %d inputs and one output", MAX_IN);
    strata_tensor copies[MAX_IN], y;
    const strata_tensor *args[MAX_IN];
    memset(copies, 0, sizeof copies);
    memset(&y, 0, sizeof y);
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < n->n_inputs && st == STRATA_OK; i++) {
        args[i] = in[i];
        if (!in[i] || !nhwc_input(n, i)) continue;
        strata_tensor shape_only = *in[i];
        if (!compute) shape_only.data = NULL;
        st = relayout(n, &shape_only, &copies[i], true);
        args[i] = &copies[i];
    }
    strata_tensor *yp = &y;
    if (st == STRATA_OK) st = fn(n, args, &yp);
    if (st == STRATA_OK && y.rank != 4) st = op_error(n, STRATA_INVALID_MODEL, "NHWC form gives a %d-D output", y.rank);
    if (st == STRATA_OK && !compute) {
        int64_t dims[4];
        permute_dims(y.dims, dims, false);
        st = tensor_set_shape(out[0], y.dtype, 4, dims);
    } else if (st == STRATA_OK) {
        permute_data(&y, out[0], false);
    }
    for (size_t i = 0; i < n->n_inputs && i < MAX_IN; i++) tensor_release_data(&copies[i]);
    tensor_release_data(&y);
    return st;
}

/* compute for nhwc_call: y's shape from infer, then storage, then the op. */
static strata_status run_with_output(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out,
                                     nchw_fn infer, nchw_fn compute)
{
    strata_status st = infer(n, in, out);
    if (st == STRATA_OK) st = tensor_alloc_data(out[0]);
    if (st == STRATA_OK) st = compute(n, in, out);
    return st;
}

static strata_status fused_conv_run_nchw(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    return run_with_output(n, in, out, fused_infer_base, fused_compute_base);
}

static strata_status fused_infer(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    if (strcmp(n->op_type, "FusedConv") == 0 && is_nhwc(n)) return nhwc_call(n, in, out, fused_infer_base, false);
    return fused_infer_base(n, in, out);
}

static strata_status fused_compute(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    if (strcmp(n->op_type, "FusedConv") == 0 && is_nhwc(n)) return nhwc_call(n, in, out, fused_conv_run_nchw, true);
    return fused_compute_base(n, in, out);
}

/* The ONNX pool op a com.strata pool node stands for, as node base. */
static const op_def *onnx_pool(const op_node *n, op_node *base)
{
    *base = *n;
    base->domain = "";
    base->opset = NHWC_POOL_OPSET;
    return ref_op_find("", n->op_type, NHWC_POOL_OPSET);
}

static strata_status pool_infer_nchw(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    op_node base;
    const op_def *d = onnx_pool(n, &base);
    return d ? d->infer(&base, in, out) : op_error(n, STRATA_INTERNAL, "no reference %s", n->op_type);
}

static strata_status pool_compute_nchw(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    op_node base;
    const op_def *d = onnx_pool(n, &base);
    return d ? d->compute(&base, in, out) : op_error(n, STRATA_INTERNAL, "no reference %s", n->op_type);
}

static strata_status pool_run_nchw(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    return run_with_output(n, in, out, pool_infer_nchw, pool_compute_nchw);
}

static strata_status pool_infer(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    if (n->n_inputs < 1 || !in[0]) return op_error(n, STRATA_INVALID_MODEL, "needs an input");
    return is_nhwc(n) ? nhwc_call(n, in, out, pool_infer_nchw, false) : pool_infer_nchw(n, in, out);
}

static strata_status pool_compute(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    if (n->n_inputs < 1 || !in[0]) return op_error(n, STRATA_INVALID_MODEL, "needs an input");
    return is_nhwc(n) ? nhwc_call(n, in, out, pool_run_nchw, true) : pool_compute_nchw(n, in, out);
}

static strata_status gelu_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    if (n->n_inputs < 1 || !in[0]) return op_error(n, STRATA_INVALID_MODEL, "needs an input");
    if (!dtype_is_float(in[0]->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "Gelu runs on float tensors");
    return tensor_set_shape(out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
}

static strata_status gelu_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    activation a = {5, 0, 0, 0};
    int64_t count = strata_tensor_numel(in[0]);
    for (int64_t i = 0; i < count; i++) tensor_set_f64(out[0], i, activate(&a, tensor_get_f64(in[0], i)));
    return STRATA_OK;
}

/* com.strata LayerNormalization: ONNX's (opset 17) for graphs of any opset (fuse_layernorm). */
static const op_def *onnx_layernorm(const op_node *n, op_node *base)
{
    *base = *n;
    base->domain = "";
    base->opset = 17;
    return ref_op_find("", "LayerNormalization", 17);
}

static strata_status layernorm_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    op_node base;
    const op_def *d = onnx_layernorm(n, &base);
    return d ? d->infer(&base, in, out) : op_error(n, STRATA_INTERNAL, "no LayerNormalization");
}

static strata_status layernorm_compute(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    op_node base;
    const op_def *d = onnx_layernorm(n, &base);
    return d ? d->compute(&base, in, out) : op_error(n, STRATA_INTERNAL, "no LayerNormalization");
}

/* com.strata FusedAttention(Q, K, V [, mask]) = softmax(scale * Q K^T + mask) V over the last
 * two dims of [B, H, S, D] tensors (what fuse_attention makes of the exported pattern).
 * layout 0: Q [B,H,Sq,D], K [B,H,Sk,D] ([B,H,D,Sk] when k_transposed), V [B,H,Sk,Dv],
 * Y [B,H,Sq,Dv]; layout 1: Q [B,Sq,H,D], K [B,Sk,H,D], V [B,Sk,H,Dv], Y [B,Sq,H,Dv]. The
 * mask broadcasts to [B,H,Sq,Sk]. */
typedef struct attn_dims {
    int64_t B, H, Sq, Sk, D, Dv;
    int layout;
    bool kt;
} attn_dims;

/* Flat element index of (b, h, s, d) in a tensor of the layout whose sizes are h_n, s_n, d_n. */
static int64_t attn_at(const attn_dims *a, int64_t b, int64_t h, int64_t s, int64_t d, int64_t s_n, int64_t d_n)
{
    return a->layout == 1 ? ((b * s_n + s) * a->H + h) * d_n + d : ((b * a->H + h) * s_n + s) * d_n + d;
}

static strata_status attention_dims(const op_node *n, const strata_tensor *const *in, attn_dims *a)
{
    if (n->n_inputs < 3 || n->n_inputs > 4 || !in[0] || !in[1] || !in[2])
        return op_error(n, STRATA_INVALID_MODEL, "needs inputs Q, K, V and an optional mask");
    for (int i = 0; i < 3; i++) {
        if (in[i]->rank != 4) return op_error(n, STRATA_INVALID_MODEL, "input %d must have rank 4 (has %d)", i, in[i]->rank);
        if (!dtype_is_float(in[i]->dtype)) return op_error(n, STRATA_UNSUPPORTED, "input %d is not a float tensor", i);
    }
    a->layout = (int)op_attr_int(n, "layout", 0);
    a->kt = op_attr_int(n, "k_transposed", 0) != 0;
    if (a->layout != 0 && a->layout != 1) return op_error(n, STRATA_INVALID_MODEL, "layout must be 0 or 1");
    if (a->layout == 1 && a->kt) return op_error(n, STRATA_INVALID_MODEL, "k_transposed needs layout 0");
    const int64_t *q = in[0]->dims, *k = in[1]->dims, *v = in[2]->dims;
    int si = a->layout == 1 ? 1 : 2, hi = a->layout == 1 ? 2 : 1;
    a->B = q[0], a->H = q[hi], a->Sq = q[si], a->D = q[3], a->Dv = v[3];
    a->Sk = a->kt ? k[3] : k[si];
    int64_t kd = a->kt ? k[2] : k[3];
    int64_t want[][2] = {{k[0], a->B}, {v[0], a->B}, {k[hi], a->H}, {v[hi], a->H}, {kd, a->D}, {v[si], a->Sk}};
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        if (want[i][0] >= 0 && want[i][1] >= 0 && want[i][0] != want[i][1])
            return op_error(n, STRATA_INVALID_ARGUMENT, "Q, K and V shapes do not fit together (check %zu: %lld vs %lld)",
                            i, (long long)want[i][0], (long long)want[i][1]);
    const strata_tensor *m = n->n_inputs > 3 ? in[3] : NULL;
    if (m) {
        int64_t sd[4] = {a->B, a->H, a->Sq, a->Sk};
        if (m->rank > 4) return op_error(n, STRATA_INVALID_ARGUMENT, "mask rank %d > 4", m->rank);
        for (int d = 0; d < m->rank; d++) {
            int64_t md = m->dims[d], wd = sd[d + 4 - m->rank];
            if (md != 1 && md >= 0 && wd >= 0 && md != wd)
                return op_error(n, STRATA_INVALID_ARGUMENT, "mask dim %d (%lld) does not broadcast to %lld", d,
                                (long long)md, (long long)wd);
        }
    }
    return STRATA_OK;
}

static strata_status attention_infer(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    attn_dims a;
    strata_status st = attention_dims(n, in, &a);
    if (st != STRATA_OK) return st;
    int64_t dims[4] = {a.B, a.H, a.Sq, a.Dv};
    if (a.layout == 1) dims[1] = a.Sq, dims[2] = a.H;
    return tensor_set_shape(out[0], in[0]->dtype, 4, dims);
}

static strata_status attention_compute(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    attn_dims a;
    strata_status st = attention_dims(n, in, &a);
    if (st != STRATA_OK) return st;
    const strata_tensor *m = n->n_inputs > 3 ? in[3] : NULL;
    int64_t ms[4] = {0, 0, 0, 0};
    if (m) shape_broadcast_strides(m->rank, m->dims, 4, ms);
    double scale = op_attr_float(n, "scale", 1.0f / sqrtf((float)a.D));
    double *p = mem_alloc((size_t)(a.Sk > 0 ? a.Sk : 1) * sizeof *p);
    if (!p) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    for (int64_t b = 0; b < a.B; b++)
        for (int64_t h = 0; h < a.H; h++)
            for (int64_t i = 0; i < a.Sq; i++) {
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < a.Sk; j++) {
                    double s = 0;
                    for (int64_t e = 0; e < a.D; e++) {
                        int64_t ki = a.kt ? attn_at(&a, b, h, e, j, a.D, a.Sk) : attn_at(&a, b, h, j, e, a.Sk, a.D);
                        s += tensor_get_f64(in[0], attn_at(&a, b, h, i, e, a.Sq, a.D)) * tensor_get_f64(in[1], ki);
                    }
                    s *= scale;
                    if (m) s += tensor_get_f64(m, b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3]);
                    p[j] = s;
                    if (s > mx) mx = s;
                }
                if (isinf(mx)) mx = 0;
                for (int64_t j = 0; j < a.Sk; j++) sum += (p[j] = exp(p[j] - mx));
                for (int64_t c = 0; c < a.Dv; c++) {
                    double y = 0;
                    for (int64_t j = 0; j < a.Sk; j++) y += p[j] * tensor_get_f64(in[2], attn_at(&a, b, h, j, c, a.Sk, a.Dv));
                    tensor_set_f64(out[0], attn_at(&a, b, h, i, c, a.Sq, a.Dv), y / sum);
                }
            }
    mem_free(p);
    return STRATA_OK;
}

const op_def ref_ops_fused[] = {
    {"LayerNormalization", STRATA_DOMAIN, 1, layernorm_infer, layernorm_compute},
    {"FusedConv", STRATA_DOMAIN, 1, fused_infer, fused_compute},
    {"FusedGemm", STRATA_DOMAIN, 1, fused_infer, fused_compute},
    {"FusedMatMul", STRATA_DOMAIN, 1, fused_infer, fused_compute},
    {"Gelu", STRATA_DOMAIN, 1, gelu_infer, gelu_compute},
    {"FusedAttention", STRATA_DOMAIN, 1, attention_infer, attention_compute},
    {"MaxPool", STRATA_DOMAIN, 1, pool_infer, pool_compute},
    {"AveragePool", STRATA_DOMAIN, 1, pool_infer, pool_compute},
    {"GlobalAveragePool", STRATA_DOMAIN, 1, pool_infer, pool_compute},
    {NULL, NULL, 0, NULL, NULL},
};
