/* kernels/ref/fused_dwpw.c — reference com.strata FusedDwPw (compile/fuse_dw_pointwise.c): an
 * NHWC depthwise FusedConv followed by an NHWC 1x1 FusedConv, optionally preceded by an NHWC
 * group-1 "expand" FusedConv (a 1x1 one: MobileNetV2's whole inverted-residual block; or the
 * network's stem conv), run as those reference ops.
 * Inputs: X [N,H,W,C] ([N,Hx,Wx,Cin] with an expand), dw weights [C,1,kh,kw], dw bias [C]
 * (optional), pw weights [M,C,1,1], pw bias [M] (optional), residual Z [N,Ho,Wo,M] (optional),
 * expand weights [C,Cin,ekh,ekw] (optional: a 1x1 expand, or a stem conv with "ex_" strides,
 * pads...), expand bias [C] (optional). An input the compiler's packed weights occupy
 * (attribute packed_input) is not one of these.
 * Attributes: the depthwise conv's (strides, pads, dilations, activation...) prefixed "dw_", the
 * pointwise conv's activation attributes prefixed "pw_", the expand's prefixed "ex_", layout =
 * "NHWC". */
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

/* Optional input i, or NULL when absent or when the compiler's packed weights sit there. */
static const strata_tensor *optional_in(const op_node *n, const strata_tensor *const *in, size_t i)
{
    if (n->n_inputs <= i || op_attr_int(n, "packed_input", -1) == (int64_t)i) return NULL;
    return in[i];
}

static const strata_tensor *residual_of(const op_node *n, const strata_tensor *const *in)
{
    return optional_in(n, in, 5);
}

/* The expand stage's output shape in *t (no data), with its conv node in *ex; false without one. */
static strata_status expand_prepare(const op_node *n, const strata_tensor *const *in, sub_conv *ex, strata_tensor *t,
                                    const strata_tensor *ex_in[3])
{
    const strata_tensor *we = optional_in(n, in, 6);
    memset(t, 0, sizeof *t);
    ex_in[0] = in[0], ex_in[1] = we, ex_in[2] = optional_in(n, in, 7);
    if (!we) return STRATA_OK;
    if (we->rank != 4)
        return op_error(n, STRATA_INVALID_MODEL, "expand weights must be [C, Cin, kh, kw] (rank %d)", we->rank);
    const op_def *conv = ref_op_find("com.strata", "FusedConv", 1);
    if (!conv) return op_error(n, STRATA_INTERNAL, "no reference FusedConv");
    strata_status st = make_sub(n, "ex_", 1, 3, ex);
    strata_tensor *tp = t;
    return st == STRATA_OK ? conv->infer(&ex->n, ex_in, &tp) : st;
}

/* Checks the inputs and builds the two conv nodes. */
static strata_status prepare(const op_node *n, const strata_tensor *const *in, const strata_tensor *x, sub_conv *dw,
                             sub_conv *pw, const op_def **conv)
{
    if (n->n_inputs < 4 || !x || !in[1] || !in[3])
        return op_error(n, STRATA_INVALID_MODEL, "needs inputs X, dw weights, dw bias, pw weights [, pw bias, residual]");
    if (strcmp(op_attr_string(n, "layout", "NHWC"), "NHWC") != 0)
        return op_error(n, STRATA_INVALID_MODEL, "only layout NHWC is defined");
    if (x->rank != 4 || in[1]->rank != 4 || in[3]->rank != 4)
        return op_error(n, STRATA_INVALID_MODEL, "X and both weights must be 4-D (ranks %d, %d, %d)", x->rank,
                        in[1]->rank, in[3]->rank);
    int64_t C = x->dims[3];
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

/* The node's parts: the expand (when there is one: its output shape in e), depthwise and
 * pointwise conv nodes, and the depthwise input x (X, or e). */
typedef struct dwpw_parts {
    sub_conv ex, dw, pw;
    const op_def *conv;
    strata_tensor e;
    const strata_tensor *ex_in[3], *x;
} dwpw_parts;

static strata_status parts_of(const op_node *n, const strata_tensor *const *in, dwpw_parts *p)
{
    memset(p, 0, sizeof *p);
    if (n->n_inputs < 1 || !in[0]) return op_error(n, STRATA_INVALID_MODEL, "needs an input X");
    strata_status st = expand_prepare(n, in, &p->ex, &p->e, p->ex_in);
    p->x = p->ex_in[1] ? &p->e : in[0];
    return st == STRATA_OK ? prepare(n, in, p->x, &p->dw, &p->pw, &p->conv) : st;
}

static strata_status dwpw_infer(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    dwpw_parts p;
    strata_status st = parts_of(n, in, &p);
    if (st != STRATA_OK) return st;
    strata_tensor t;
    memset(&t, 0, sizeof t);
    strata_tensor *tp = &t;
    const strata_tensor *dw_in[3] = {p.x, in[1], n->n_inputs > 2 ? in[2] : NULL};
    if ((st = p.conv->infer(&p.dw.n, dw_in, &tp)) != STRATA_OK) return st;
    const strata_tensor *pw_in[4] = {&t, in[3], n->n_inputs > 4 ? in[4] : NULL, residual_of(n, in)};
    return p.conv->infer(&p.pw.n, pw_in, out);
}

static strata_status dwpw_compute(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    dwpw_parts p;
    strata_status st = parts_of(n, in, &p);
    if (st != STRATA_OK) return st;
    if (!in[1]->data || !in[3]->data || (p.ex_in[1] && !p.ex_in[1]->data))
        return op_error(n, STRATA_INVALID_ARGUMENT, "weights have no values");
    if (p.ex_in[1]) {
        strata_tensor *ep = &p.e;
        if ((st = tensor_alloc_data(&p.e)) != STRATA_OK) return op_error(n, st, "out of memory");
        if ((st = p.conv->compute(&p.ex.n, p.ex_in, &ep)) != STRATA_OK) {
            tensor_release_data(&p.e);
            return st;
        }
    }
    strata_tensor t;
    memset(&t, 0, sizeof t);
    strata_tensor *tp = &t;
    const strata_tensor *dw_in[3] = {p.x, in[1], n->n_inputs > 2 ? in[2] : NULL};
    if ((st = p.conv->infer(&p.dw.n, dw_in, &tp)) == STRATA_OK && (st = tensor_alloc_data(&t)) != STRATA_OK)
        st = op_error(n, st, "out of memory");
    if (st == STRATA_OK) st = p.conv->compute(&p.dw.n, dw_in, &tp);
    const strata_tensor *pw_in[4] = {&t, in[3], n->n_inputs > 4 ? in[4] : NULL, residual_of(n, in)};
    if (st == STRATA_OK) st = p.conv->compute(&p.pw.n, pw_in, out);
    tensor_release_data(&t);
    if (p.ex_in[1]) tensor_release_data(&p.e);
    return st;
}

const op_def ref_ops_fused_dwpw[] = {
    {"FusedDwPw", "com.strata", 1, dwpw_infer, dwpw_compute},
    {NULL, NULL, 0, NULL, NULL},
};
