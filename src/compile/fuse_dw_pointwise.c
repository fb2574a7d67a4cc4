/* compile/fuse_dw_pointwise.c — pass: an NHWC depthwise 3x3 FusedConv (stride 1 or 2, relu /
 * clip or no activation, no residual) whose output only an NHWC 1x1 stride-1 unpadded FusedConv
 * reads becomes one com.strata FusedDwPw (kernels/ref/fused_dwpw.c), so that the depthwise
 * output (MobileNetV2 batch 8: up to 14.5 MB a layer) never goes to memory: the fast kernel
 * keeps a few rows of it in cache and projects them at once. When the depthwise input comes
 * from a 1x1 "expand" conv that nothing else reads (MobileNetV2's inverted residual block), the
 * expand joins the node too, and its output (the block's widest tensor) stays in cache as well;
 * so does a stem conv of few input channels (MobileNetV2's 3x3 stride-2 conv of the image,
 * whose 1.6 MB output per image its first depthwise conv reads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_nhwc_conv(const ir_node *n)
{
    if (n->dead || strcmp(n->domain, STRATA_FUSED_DOMAIN) != 0 || strcmp(n->op_type, "FusedConv") != 0) return false;
    const attr *a = attr_find(n->attrs, n->n_attrs, "layout");
    return a && a->type == ATTR_STRING && strcmp(a->s, "NHWC") == 0 && n->n_outputs == 1 && n->outputs[0] >= 0 &&
           !attr_find(n->attrs, n->n_attrs, "packed_input");
}

static int64_t attr_int_or(const ir_node *n, const char *name, int64_t dflt)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    return a && a->type == ATTR_INT ? a->i : dflt;
}

/* INTS attribute name absent, or count entries each in [lo, hi]. */
static bool ints_within(const ir_node *n, const char *name, size_t count, int64_t lo, int64_t hi)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    if (!a) return true;
    if (a->type != ATTR_INTS || a->n != count) return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->ints[i] < lo || a->ints[i] > hi) return false;
    return true;
}

static bool no_auto_pad(const ir_node *n)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, "auto_pad");
    return !a || (a->type == ATTR_STRING && strcmp(a->s, "NOTSET") == 0);
}

/* Activation none, Relu or Clip (what the fused kernels apply in registers). */
static bool simple_activation(const ir_node *n)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, "activation");
    return !a || (a->type == ATTR_STRING && (strcmp(a->s, "Relu") == 0 || strcmp(a->s, "Clip") == 0));
}

static bool f32_4d(const ir_value *v)
{
    return v->dtype == STRATA_DTYPE_F32 && v->rank == 4;
}

/* Constant f32 weights of dims d0 x d1 x kh x kw. */
static bool const_weights(const ir_graph *g, int id, int64_t d0, int64_t d1, int64_t kh, int64_t kw)
{
    const strata_tensor *t = id >= 0 ? value_const(g, id) : NULL;
    return t && t->dtype == STRATA_DTYPE_F32 && t->rank == 4 && t->dims[0] == d0 && t->dims[1] == d1 &&
           t->dims[2] == kh && t->dims[3] == kw;
}

/* Absent, or a constant f32 vector of n entries. */
static bool bias_ok(const ir_graph *g, const ir_node *n, size_t slot, int64_t count)
{
    if (n->n_inputs <= slot || n->inputs[slot] < 0) return true;
    const ir_value *v = &g->values[n->inputs[slot]];
    return v->dtype == STRATA_DTYPE_F32 && v->rank == 1 && v->dims[0] == count;
}

/* Depthwise 3x3 FusedConv d that the fused kernel runs; *C its channels. */
static bool dw_fits(const ir_graph *g, const ir_node *d, int64_t *C)
{
    if (!is_nhwc_conv(d) || d->n_inputs < 2 || d->inputs[0] < 0) return false;
    if (d->n_inputs > 3 && d->inputs[3] >= 0) return false; /* residual */
    const ir_value *x = &g->values[d->inputs[0]], *y = &g->values[d->outputs[0]];
    if (!f32_4d(x) || !f32_4d(y) || x->dims[3] <= 0) return false;
    *C = x->dims[3];
    if (attr_int_or(d, "group", 1) != *C || y->dims[3] != *C) return false;
    if (!const_weights(g, d->inputs[1], *C, 1, 3, 3) || !bias_ok(g, d, 2, *C)) return false;
    return ints_within(d, "strides", 2, 1, 2) && ints_within(d, "pads", 4, 0, 2) && ints_within(d, "dilations", 2, 1, 1) &&
           ints_within(d, "kernel_shape", 2, 3, 3) && no_auto_pad(d) && simple_activation(d);
}

/* A 1x1 stride-1 unpadded group-1 FusedConv with C_in input and M output channels. */
static bool is_1x1(const ir_graph *g, const ir_node *p, int64_t C_in, int64_t M)
{
    const ir_value *y = &g->values[p->outputs[0]];
    if (!f32_4d(y) || y->dims[3] != M || attr_int_or(p, "group", 1) != 1) return false;
    if (!const_weights(g, p->inputs[1], M, C_in, 1, 1) || !bias_ok(g, p, 2, M)) return false;
    return p->n_inputs <= 4 && ints_within(p, "strides", 2, 1, 1) && ints_within(p, "pads", 4, 0, 0) &&
           ints_within(p, "dilations", 2, 1, 1) && ints_within(p, "kernel_shape", 2, 1, 1) && no_auto_pad(p) &&
           simple_activation(p);
}

/* 1x1 FusedConv p reading value `from` (C channels) as X only. */
static bool pw_fits(const ir_graph *g, const ir_node *p, int from, int64_t C)
{
    if (!is_nhwc_conv(p) || p->n_inputs < 2 || p->inputs[0] != from) return false;
    for (size_t k = 1; k < p->n_inputs; k++)
        if (p->inputs[k] == from) return false;
    const ir_value *y = &g->values[p->outputs[0]];
    if (!f32_4d(y) || y->dims[3] <= 0) return false;
    if (p->n_inputs > 3 && p->inputs[3] >= 0) {
        const ir_value *z = &g->values[p->inputs[3]];
        if (!f32_4d(z) || memcmp(z->dims, y->dims, 4 * sizeof z->dims[0]) != 0) return false;
    }
    return is_1x1(g, p, C, y->dims[3]);
}

/* A group-1 stem conv with C_in input and C output channels that the fused kernel makes rows of
 * by the direct conv row: a window of few channels (kw * C_in <= 32 floats a kernel row, as the
 * direct conv's stems), dilation 1, padding inside the window, relu / clip or none. */
static bool is_stem(const ir_graph *g, const ir_node *p, int64_t C_in, int64_t C)
{
    const ir_value *y = &g->values[p->outputs[0]];
    const strata_tensor *w = p->inputs[1] >= 0 ? value_const(g, p->inputs[1]) : NULL;
    if (!f32_4d(y) || y->dims[3] != C || C > 128 || attr_int_or(p, "group", 1) != 1 || !w) return false;
    if (w->rank != 4) return false;
    int64_t kh = w->dims[2], kw = w->dims[3], k_min = kh < kw ? kh : kw;
    if (kh < 1 || kw < 1 || kh > 7 || kw * C_in > 32 || !const_weights(g, p->inputs[1], C, C_in, kh, kw) ||
        !bias_ok(g, p, 2, C))
        return false;
    return p->n_inputs <= 3 && ints_within(p, "strides", 2, 1, 4) && ints_within(p, "pads", 4, 0, k_min - 1) &&
           ints_within(p, "dilations", 2, 1, 1) && no_auto_pad(p) && simple_activation(p);
}

/* The node making value `v` (C channels) when it is an expand the fused kernel can run (a 1x1
 * conv, or a stem): no residual, an f32 NHWC input; -1 otherwise. */
static int expand_of(const ir_graph *g, int v, int64_t C)
{
    int e = g->values[v].producer;
    if (e < 0 || (size_t)e >= g->n_nodes) return -1;
    const ir_node *n = &g->nodes[e];
    if (!is_nhwc_conv(n) || n->n_inputs < 2 || n->inputs[0] < 0 || (n->n_inputs > 3 && n->inputs[3] >= 0)) return -1;
    const ir_value *x = &g->values[n->inputs[0]];
    if (!f32_4d(x) || x->dims[3] <= 0 || n->inputs[1] == n->inputs[0]) return -1;
    return is_1x1(g, n, x->dims[3], C) || is_stem(g, n, x->dims[3], C) ? e : -1;
}

/* Copies attribute `name` of src (if present) to dst as prefix+name. */
static strata_status copy_attr(ir_node *dst, const ir_node *src, const char *prefix, const char *name)
{
    const attr *a = attr_find(src->attrs, src->n_attrs, name);
    if (!a) return STRATA_OK;
    char full[64];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    if (a->type == ATTR_STRING) return ir_node_set_string(dst, full, a->s);
    if (a->type == ATTR_FLOAT) return ir_node_set_float(dst, full, a->f);
    if (a->type == ATTR_INT) return ir_node_set_int(dst, full, a->i);
    if (a->type != ATTR_INTS) return error_set(STRATA_INTERNAL, "fuse_dw_pointwise: attribute %s of unexpected type", name);
    attr *grown = mem_realloc(dst->attrs, (dst->n_attrs + 1) * sizeof *grown);
    if (!grown) return error_set(STRATA_OUT_OF_MEMORY, "fuse_dw_pointwise: out of memory");
    dst->attrs = grown;
    attr *t = &dst->attrs[dst->n_attrs];
    memset(t, 0, sizeof *t);
    t->name = mem_strdup(full);
    t->ints = mem_alloc((a->n ? a->n : 1) * sizeof *t->ints);
    if (!t->name || !t->ints) {
        mem_free(t->name);
        mem_free(t->ints);
        return error_set(STRATA_OUT_OF_MEMORY, "fuse_dw_pointwise: out of memory");
    }
    t->type = ATTR_INTS;
    t->n = a->n;
    memcpy(t->ints, a->ints, a->n * sizeof *t->ints);
    dst->n_attrs++;
    return STRATA_OK;
}

/* FusedDwPw(X, Wd, Bd, Wp, Bp, Z [, We, Be]) in place of depthwise node di, pointwise node pi
 * and, when ei >= 0, the expand node ei (X is then its input). */
static strata_status fuse(ir_graph *g, int ei, int di, int pi)
{
    char name[300];
    snprintf(name, sizeof name, "%.280s__%s", g->nodes[pi].name[0] ? g->nodes[pi].name : "conv", ei >= 0 ? "ir" : "dwpw");
    int idx, n_in = ei >= 0 ? 8 : 6;
    strata_status st = ir_graph_add_node(g, "FusedDwPw", STRATA_FUSED_DOMAIN, name, (size_t)n_in, 1, 0, &idx);
    if (st != STRATA_OK) return st;
    ir_node *n = &g->nodes[idx], *d = &g->nodes[di], *p = &g->nodes[pi], *e = ei >= 0 ? &g->nodes[ei] : NULL;
    int slot_of[8][2] = {{ei >= 0 ? ei : di, 0}, {di, 1}, {di, 2}, {pi, 1}, {pi, 2}, {pi, 3}, {ei, 1}, {ei, 2}};
    for (int k = 0; k < n_in; k++) {
        const ir_node *src = &g->nodes[slot_of[k][0]];
        size_t s = (size_t)slot_of[k][1];
        n->inputs[k] = s < src->n_inputs ? src->inputs[s] : -1;
    }
    n->outputs[0] = p->outputs[0];
    static const char *const dw_attrs[] = {"strides", "pads", "dilations", "activation", "activation_min", "activation_max"};
    static const char *const act_attrs[] = {"activation", "activation_min", "activation_max"};
    static const char *const ex_attrs[] = {"strides", "pads", "dilations", "kernel_shape", "activation",
                                           "activation_min", "activation_max"};
    for (size_t a = 0; a < ARRAY_LEN(dw_attrs) && st == STRATA_OK; a++) st = copy_attr(n, d, "dw_", dw_attrs[a]);
    for (size_t a = 0; a < ARRAY_LEN(act_attrs) && st == STRATA_OK; a++) st = copy_attr(n, p, "pw_", act_attrs[a]);
    for (size_t a = 0; e && a < ARRAY_LEN(ex_attrs) && st == STRATA_OK; a++) st = copy_attr(n, e, "ex_", ex_attrs[a]);
    if (st == STRATA_OK) st = ir_node_set_string(n, "layout", "NHWC");
    if (st != STRATA_OK) return st;
    g->values[n->outputs[0]].producer = idx;
    g->values[d->outputs[0]].producer = -1;
    d->dead = true;
    p->dead = true;
    if (e) {
        g->values[e->outputs[0]].producer = -1;
        e->dead = true;
    }
    return STRATA_OK;
}

/* The fusion pays where the depthwise output would leave the caches: MobileNetV2 batch 8 ran
 * 0.92x (1 thread) / 0.97x (2 threads) of the unfused time, batch 1 (outputs of 0.4-1.8 MB)
 * 1.03x. So by default only blocks whose depthwise output is at least this big fuse;
 * STRATA_FUSE_DWPW=all fuses every match (tests), =off none. */
#define DWPW_MIN_BYTES (4u << 20)

/* An expand joins where its output is at least this big per image: MobileNetV2 batch 1, 1
 * thread, fused / unfused block time: 56x56 and 28x28 blocks 0.72-0.90, 14x14 (451 KB) 0.97,
 * 7x7 (188 KB, 49-pixel rows fill the tiles poorly; oneDNN runs the unfused convs) 1.12-1.19.
 * STRATA_FUSE_IR=all / off overrides. */
#define IR_MIN_BYTES_PER_IMAGE (256u << 10)

static double value_bytes(const ir_graph *g, int v)
{
    const ir_value *y = &g->values[v];
    double bytes = 4.0;
    for (int d = 0; d < y->rank; d++) bytes *= y->dims[d] > 0 ? (double)y->dims[d] : 1.0;
    return bytes;
}

static bool env_is(const char *name, const char *value)
{
    const char *e = getenv(name);
    return e && strcmp(e, value) == 0;
}

static bool worth_fusing(const ir_graph *g, int out)
{
    if (env_is("STRATA_FUSE_DWPW", "all")) return true;
    if (env_is("STRATA_FUSE_DWPW", "off")) return false;
    return value_bytes(g, out) >= DWPW_MIN_BYTES;
}

static bool worth_expanding(const ir_graph *g, int expanded)
{
    if (env_is("STRATA_FUSE_IR", "all")) return true;
    if (env_is("STRATA_FUSE_IR", "off")) return false;
    const ir_value *v = &g->values[expanded];
    double images = v->rank > 0 && v->dims[0] > 0 ? (double)v->dims[0] : 1.0;
    return value_bytes(g, expanded) / images >= IR_MIN_BYTES_PER_IMAGE;
}

strata_status pass_fuse_dw_pointwise(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    /* bf16 plans too: bf16 allows lower precision where it is faster, and the fused f32 kernel
     * beats oneDNN's bf16 primitives layer by layer on these blocks (MobileNetV2 batch 8, 1
     * thread: 53 vs 71 ms), which they run when the node is not fused */
    (void)o;
    int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
    if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "fuse_dw_pointwise: out of memory");
    ir_graph_count_uses(g, uses);
    strata_status st = model_import_fused(m);
    size_t n_nodes = g->n_nodes;
    for (size_t di = 0; di < n_nodes && st == STRATA_OK; di++) {
        int64_t C;
        if (!dw_fits(g, &g->nodes[di], &C)) continue;
        int out = g->nodes[di].outputs[0], in = g->nodes[di].inputs[0];
        if (uses[out] != 1 || ir_graph_is_output(g, out)) continue;
        /* the expand joins when the depthwise conv is its only reader */
        int ei = uses[in] == 1 && !ir_graph_is_output(g, in) ? expand_of(g, in, C) : -1;
        if (ei >= 0 && !worth_expanding(g, in)) ei = -1;
        if (ei < 0 && !worth_fusing(g, out)) continue;
        int pi = -1;
        for (size_t i = 0; i < n_nodes && pi < 0; i++) {
            const ir_node *r = &g->nodes[i];
            if (r->dead) continue;
            for (size_t k = 0; k < r->n_inputs; k++)
                if (r->inputs[k] == out) pi = (int)i;
        }
        if (pi < 0 || !pw_fits(g, &g->nodes[pi], out, C)) continue;
        if ((st = fuse(g, ei, (int)di, pi)) == STRATA_OK) (*n_changed)++;
    }
    mem_free(uses);
    return st;
}
