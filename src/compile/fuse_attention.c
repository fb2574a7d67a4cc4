/* compile/fuse_attention.c — pass: scaled dot-product attention as PyTorch exports it,
 * MatMul(Q, K^T) -> Mul/Div by a scalar -> [Add mask] -> Softmax(last axis) -> MatMul(., V) on
 * [B,H,S,D] tensors (K^T a plain value, a Transpose, or folded into FusedMatMul transB), becomes
 * one com.strata FusedAttention(Q, K, V [, mask]). When Q, K and V come from [B,S,H,D] through
 * Transposes and the result goes back through one, the node reads and writes [B,S,H,D] directly
 * (layout 1) and those Transposes die. The pieces are left for eliminate_dead. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* The value's shape is known, rank 4, float32. */
static bool f32_rank4(const ir_graph *g, int id)
{
    const ir_value *v = &g->values[id];
    return v->dtype == STRATA_DTYPE_F32 && v->rank == 4 && value_shape_known(v);
}

static bool scalar_const(const ir_graph *g, int id, double *out)
{
    const strata_tensor *t = value_const(g, id);
    if (!t || strata_tensor_numel(t) != 1 || !dtype_is_float(t->dtype)) return false;
    *out = tensor_get_f64(t, 0);
    return isfinite(*out) && *out != 0.0;
}

/* The node producing id when it is the ONNX op op_type with perm equal to want (4 entries). */
static int transpose_of(const ir_graph *g, int id, const int64_t *want)
{
    int p = node_producer(g, id);
    if (p < 0 || !node_is(&g->nodes[p], "Transpose")) return -1;
    const attr *perm = attr_find(g->nodes[p].attrs, g->nodes[p].n_attrs, "perm");
    if (!perm || perm->type != ATTR_INTS || perm->n != 4) return -1;
    for (int d = 0; d < 4; d++)
        if (perm->ints[d] != want[d]) return -1;
    return p;
}

/* The one node reading value id (as any input), or -1 when it has other readers or is a
 * graph output. */
static int only_reader(const ir_graph *g, const int *uses, int id)
{
    if (uses[id] != 1 || ir_graph_is_output(g, id)) return -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == id) return (int)i;
    }
    return -1;
}

/* The scores MatMul behind value x (x itself, or a Mul/Div of it by a scalar constant) with the
 * scale folded so far; -1 when x is not that. */
static int scores_node(const ir_graph *g, const int *uses, int x, double *scale)
{
    int p = node_producer(g, x);
    if (p < 0) return -1;
    const ir_node *n = &g->nodes[p];
    double c;
    *scale = 1.0;
    if ((node_is(n, "Mul") || node_is(n, "Div")) && n->n_inputs == 2) {
        int other = -1;
        if (scalar_const(g, n->inputs[1], &c)) other = n->inputs[0];
        else if (node_is(n, "Mul") && scalar_const(g, n->inputs[0], &c)) other = n->inputs[1];
        if (other < 0 || uses[other] != 1 || ir_graph_is_output(g, other)) return -1;
        *scale = node_is(n, "Div") ? 1.0 / c : c;
        p = node_producer(g, other);
        if (p < 0) return -1;
        n = &g->nodes[p];
    }
    bool fused = !n->dead && strcmp(n->domain, STRATA_FUSED_DOMAIN) == 0 && strcmp(n->op_type, "FusedMatMul") == 0;
    if (fused) { /* only the plain transB form: no bias, residual or activation */
        const attr *tb = attr_find(n->attrs, n->n_attrs, "transB");
        if (n->n_inputs != 2 || n->n_attrs != 1 || !tb || tb->type != ATTR_INT || tb->i != 1) return -1;
    } else if (!node_is(n, "MatMul") || n->n_inputs != 2) {
        return -1;
    }
    return p;
}

static const int64_t perm_bshd[4] = {0, 2, 1, 3}, perm_kt[4] = {0, 2, 3, 1}, perm_last[4] = {0, 1, 3, 2};

typedef struct attn_match {
    int q, k, v, mask;   /* value ids (mask -1 when none) */
    bool kt;             /* k is [B,H,D,Sk] */
    int layout;          /* 0 [B,H,S,D]; 1 [B,S,H,D] */
    int out_transpose;   /* layout 1: the node transposing the result back, else -1 */
    double scale;
} attn_match;

/* Does softmax node s start the pattern? Fills the match and returns the final MatMul, or -1. */
static int match(const ir_graph *g, const int *uses, const ir_node *s, attn_match *a)
{
    if (s->n_inputs != 1 || s->n_outputs != 1 || !f32_rank4(g, s->inputs[0])) return -1;
    const attr *ax = attr_find(s->attrs, s->n_attrs, "axis");
    int64_t opset = ir_model_opset(g->model, "");
    int64_t axis = ax && ax->type == ATTR_INT ? ax->i : (opset < 13 ? 1 : -1);
    if (axis != -1 && axis != 3) return -1;
    int x = s->inputs[0];
    if (uses[x] != 1 || ir_graph_is_output(g, x)) return -1;
    a->mask = -1;
    int mm = scores_node(g, uses, x, &a->scale);
    if (mm < 0) { /* [Add mask] between the scaled scores and the Softmax */
        int p = node_producer(g, x);
        if (p < 0 || !node_is(&g->nodes[p], "Add") || g->nodes[p].n_inputs != 2) return -1;
        for (int k = 0; k < 2 && mm < 0; k++) {
            int sc = g->nodes[p].inputs[k], mk = g->nodes[p].inputs[1 - k];
            if (uses[sc] != 1 || ir_graph_is_output(g, sc) || sc == mk) continue;
            const ir_value *mv = &g->values[mk];
            if (mv->dtype != STRATA_DTYPE_F32 || mv->rank < 0 || mv->rank > 4 || !value_shape_known(mv)) continue;
            mm = scores_node(g, uses, sc, &a->scale);
            if (mm >= 0) a->mask = mk;
        }
        if (mm < 0) return -1;
    }
    const ir_node *m1 = &g->nodes[mm];
    int pv = only_reader(g, uses, s->outputs[0]);
    if (pv < 0) return -1;
    const ir_node *m2 = &g->nodes[pv];
    if (!node_is(m2, "MatMul") || m2->n_inputs != 2 || m2->inputs[0] != s->outputs[0]) return -1;
    if (uses[m1->outputs[0]] != 1 || ir_graph_is_output(g, m1->outputs[0])) return -1;
    a->q = m1->inputs[0];
    a->v = m2->inputs[1];
    int kx = m1->inputs[1];
    a->kt = false;
    if (node_is(m1, "MatMul")) { /* kx is K^T */
        int t = transpose_of(g, kx, perm_last);
        if (t >= 0) a->k = g->nodes[t].inputs[0];
        else a->k = kx, a->kt = true;
    } else {
        a->k = kx; /* FusedMatMul transB: kx is K */
    }
    if (!f32_rank4(g, a->q) || !f32_rank4(g, a->k) || !f32_rank4(g, a->v) || !f32_rank4(g, m2->outputs[0]))
        return -1;
    const int64_t *q = g->values[a->q].dims, *k = g->values[a->k].dims, *v = g->values[a->v].dims;
    int64_t sk = a->kt ? k[3] : k[2], kd = a->kt ? k[2] : k[3];
    if (q[0] != k[0] || q[0] != v[0] || q[1] != k[1] || q[1] != v[1] || q[3] != kd || v[2] != sk) return -1;
    if (a->mask >= 0) { /* the mask broadcasts to the scores [B,H,Sq,Sk] */
        const ir_value *mv = &g->values[a->mask];
        int64_t want[4] = {q[0], q[1], q[2], sk};
        for (int d = 0; d < mv->rank; d++)
            if (mv->dims[d] != 1 && mv->dims[d] != want[d + 4 - mv->rank]) return -1;
    }
    /* layout 1: everything arrives from [B,S,H,D] and goes back there */
    a->layout = 0;
    a->out_transpose = -1;
    int tq = transpose_of(g, a->q, perm_bshd), tv = transpose_of(g, a->v, perm_bshd);
    int tk = a->kt ? transpose_of(g, a->k, perm_kt) : transpose_of(g, a->k, perm_bshd);
    int to = only_reader(g, uses, m2->outputs[0]);
    if (tq >= 0 && tv >= 0 && tk >= 0 && to >= 0 && node_is(&g->nodes[to], "Transpose") &&
        g->nodes[to].n_inputs == 1) {
        const attr *perm = attr_find(g->nodes[to].attrs, g->nodes[to].n_attrs, "perm");
        bool ok = perm && perm->type == ATTR_INTS && perm->n == 4;
        for (int d = 0; ok && d < 4; d++) ok = perm->ints[d] == perm_bshd[d];
        if (ok) {
            a->layout = 1;
            a->out_transpose = to;
            a->q = g->nodes[tq].inputs[0];
            a->k = g->nodes[tk].inputs[0];
            a->v = g->nodes[tv].inputs[0];
            a->kt = false;
        }
    }
    return pv;
}

strata_status pass_fuse_attention(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)o;
    int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
    if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "fuse_attention: out of memory");
    ir_graph_count_uses(g, uses);
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < g->n_nodes && st == STRATA_OK; i++) {
        ir_node *s = &g->nodes[i];
        if (!node_is(s, "Softmax")) continue;
        attn_match a;
        int pv = match(g, uses, s, &a);
        if (pv < 0) continue;
        ir_node *n = &g->nodes[pv];
        if ((st = model_import_fused(m)) != STRATA_OK) break;
        if ((st = node_make_fused(n, "FusedAttention")) != STRATA_OK) break;
        n->inputs[0] = a.q;
        n->inputs[1] = a.k;
        if ((st = ir_node_add_input(n, a.v)) != STRATA_OK) break;
        if (a.mask >= 0 && (st = ir_node_add_input(n, a.mask)) != STRATA_OK) break;
        if ((st = ir_node_set_float(n, "scale", (float)a.scale)) != STRATA_OK) break;
        if ((st = ir_node_set_int(n, "layout", a.layout)) != STRATA_OK) break;
        if (a.kt && (st = ir_node_set_int(n, "k_transposed", 1)) != STRATA_OK) break;
        if (a.out_transpose >= 0) { /* write the transposed value directly */
            ir_node *t = &g->nodes[a.out_transpose];
            n->outputs[0] = t->outputs[0];
            t->dead = true;
        }
        /* the consumed chain now has no reader: keep later matches from counting it */
        ir_graph_count_uses(g, uses);
        (*n_changed)++;
    }
    mem_free(uses);
    return st;
}
