/* kernels/ref/fused_dwpw.c — reference com.strata FusedDwPw (compile/fuse_dw_pointwise.c): an
 * NHWC depthwise FusedConv followed by an NHWC 1x1 FusedConv, run as those two reference ops.
 * Inputs: X [N,H,W,C], dw weights [C,1,kh,kw], dw bias [C] (optional), pw weights [M,C,1,1],
 * pw bias [M] (optional), residual Z [N,Ho,Wo,M] (optional; input 5 unless packed_input is 5).
 * Attributes: the depthwise conv's (strides, pads, dilations, activation...) prefixed "dw_", the
 * pointwise conv's activation attributes prefixed "pw_", layout = "NHWC". */
#include <string.h>

#include "kernels/kernels.h"

#define MAX_SUB_ATTRS 24

/* One of the two FusedConv nodes the op stands for, with attributes that borrow the op's. */
typedef struct sub_conv {
    op_node n;
    attr attrs[MAX_SUB_ATTRS];
} sub_conv;

static char layout_nhwc[] = "NHWC";

/* The FusedConv node of the attributes prefixed `prefix` (prefix stripped), group, NHWC. */
static strata_status make_sub(const op_node *n, const char *prefix, int64_t group, size_t n_inputs, sub_conv *s)
{
    size_t k = 0, plen = strlen(prefix);
    memset(s->attrs, 0, sizeof s->attrs);
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (strncmp(n->attrs[i].name, prefix, plen) != 0) continue;
        if (k + 2 >= MAX_SUB_ATTRS) return op_error(n, STRATA_INVALID_MODEL, "too many %s attributes", prefix);
        s->attrs[k] = n->attrs[i];
        s->attrs[k].name = n->attrs[i].name + plen;
        k++;
    }
    s->attrs[k].name = "group";
    s->attrs[k].type = ATTR_INT;
    s->attrs[k].i = group;
    k++;
    s->attrs[k].name = "layout";
    s->attrs[k].type = ATTR_STRING;
    s->attrs[k].s = layout_nhwc;
    s->attrs[k].s_len = 4;
    k++;
    op_node sub = {n->name, "FusedConv", "com.strata", 1, s->attrs, k, n_inputs, 1};
    s->n = sub;
    return STRATA_OK;
}

/* The residual input, or NULL: input 5 unless the compiler's packed weights sit there. */
static const strata_tensor *residual_of(const op_node *n, const strata_tensor *const *in)
{
    if (n->n_inputs < 6 || op_attr_int(n, "packed_input", -1) == 5) return NULL;
    return in[5];
}

/* Checks the inputs and builds the two conv nodes. */
static strata_status prepare(const op_node *n, const strata_tensor *const *in, sub_conv *dw, sub_conv *pw,
                             const op_def **conv)
{
    if (n->n_inputs < 4 || !in[0] || !in[1] || !in[3])
        return op_error(n, STRATA_INVALID_MODEL, "needs inputs X, dw weights, dw bias, pw weights [, pw bias, residual]");
    if (strcmp(op_attr_string(n, "layout", "NHWC"), "NHWC") != 0)
        return op_error(n, STRATA_INVALID_MODEL, "only layout NHWC is defined");
    if (in[0]->rank != 4 || in[1]->rank != 4 || in[3]->rank != 4)
        return op_error(n, STRATA_INVALID_MODEL, "X and both weights must be 4-D (ranks %d, %d, %d)", in[0]->rank,
                        in[1]->rank, in[3]->rank);
    int64_t C = in[0]->dims[3];
    if (C >= 0 && (in[1]->dims[0] != C || in[1]->dims[1] != 1))
        return op_error(n, STRATA_INVALID_MODEL, "dw weights [%lld, %lld, ...] are not depthwise for %lld channels",
                        (long long)in[1]->dims[0], (long long)in[1]->dims[1], (long long)C);
    if (in[3]->dims[2] != 1 || in[3]->dims[3] != 1)
        return op_error(n, STRATA_INVALID_MODEL, "pw weights must be 1x1, not %lldx%lld", (long long)in[3]->dims[2],
                        (long long)in[3]->dims[3]);
    *conv = ref_op_find("com.strata", "FusedConv", 1);
    if (!*conv) return op_error(n, STRATA_INTERNAL, "no reference FusedConv");
    strata_status st = make_sub(n, "dw_", in[1]->dims[0], 3, dw);
    if (st == STRATA_OK) st = make_sub(n, "pw_", 1, 4, pw);
    return st;
}

static strata_status dwpw_infer(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    sub_conv dw, pw;
    const op_def *conv;
    strata_status st = prepare(n, in, &dw, &pw, &conv);
    if (st != STRATA_OK) return st;
    strata_tensor t;
    memset(&t, 0, sizeof t);
    strata_tensor *tp = &t;
    const strata_tensor *dw_in[3] = {in[0], in[1], n->n_inputs > 2 ? in[2] : NULL};
    if ((st = conv->infer(&dw.n, dw_in, &tp)) != STRATA_OK) return st;
    const strata_tensor *pw_in[4] = {&t, in[3], n->n_inputs > 4 ? in[4] : NULL, residual_of(n, in)};
    return conv->infer(&pw.n, pw_in, out);
}

static strata_status dwpw_compute(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    sub_conv dw, pw;
    const op_def *conv;
    strata_status st = prepare(n, in, &dw, &pw, &conv);
    if (st != STRATA_OK) return st;
    if (!in[1]->data || !in[3]->data) return op_error(n, STRATA_INVALID_ARGUMENT, "weights have no values");
    strata_tensor t;
    memset(&t, 0, sizeof t);
    strata_tensor *tp = &t;
    const strata_tensor *dw_in[3] = {in[0], in[1], n->n_inputs > 2 ? in[2] : NULL};
    if ((st = conv->infer(&dw.n, dw_in, &tp)) != STRATA_OK) return st;
    if ((st = tensor_alloc_data(&t)) != STRATA_OK) return op_error(n, st, "out of memory");
    st = conv->compute(&dw.n, dw_in, &tp);
    const strata_tensor *pw_in[4] = {&t, in[3], n->n_inputs > 4 ? in[4] : NULL, residual_of(n, in)};
    if (st == STRATA_OK) st = conv->compute(&pw.n, pw_in, out);
    tensor_release_data(&t);
    return st;
}

const op_def ref_ops_fused_dwpw[] = {
    {"FusedDwPw", "com.strata", 1, dwpw_infer, dwpw_compute},
    {NULL, NULL, 0, NULL, NULL},
};
