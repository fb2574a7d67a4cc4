/* compile/fuse_activation.c — pass: Conv, Gemm and MatMul absorb what follows them when they
 * are its only reader: a residual Add of a same-shaped tensor (becomes input Z of the fused op),
 * then one activation (Relu, Clip with constant bounds, Sigmoid, LeakyRelu, Tanh, Gelu, and
 * Silu = x * Sigmoid(x)). The node becomes com.strata FusedConv / FusedGemm / FusedMatMul. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Can z be added to out (producing add_out) as a residual without changing out's shape? Dims
 * must match, or z's be 1; a symbolic dim (-1) matches only a symbolic dim in the same place
 * (the fused kernel checks at run time that z broadcasts into the output, else errors). */
static bool residual_fits(const ir_value *z, const ir_value *out, const ir_value *add_out)
{
    if (z->rank < 0 || out->rank < 0 || add_out->rank != out->rank || z->rank > out->rank) return false;
    if (z->dtype != out->dtype || add_out->dtype != out->dtype) return false;
    for (int d = 0; d < out->rank; d++) {
        if (add_out->dims[d] != out->dims[d]) return false;
        int zd = d - (out->rank - z->rank);
        int64_t zv = zd >= 0 ? z->dims[zd] : 1;
        if (zv != out->dims[d] && zv != 1) return false;
    }
    return true;
}

/* The single reader node of value id (and how many readers it has), or -1. */
static int sole_reader(const ir_graph *g, const int *uses, int id)
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

static const char *fused_name(const ir_node *n)
{
    if (node_is(n, "Conv")) return "FusedConv";
    if (node_is(n, "Gemm")) return "FusedGemm";
    if (node_is(n, "MatMul")) return "FusedMatMul";
    if (n->dead || strcmp(n->domain, STRATA_FUSED_DOMAIN) != 0) return NULL;
    if (strcmp(n->op_type, "FusedConv") == 0 || strcmp(n->op_type, "FusedGemm") == 0 ||
        strcmp(n->op_type, "FusedMatMul") == 0)
        return n->op_type;
    return NULL;
}

static strata_status make_fused(ir_model *m, ir_node *p)
{
    const char *name = fused_name(p);
    if (strcmp(p->domain, STRATA_FUSED_DOMAIN) == 0) return STRATA_OK;
    strata_status st = model_import_fused(m);
    if (st == STRATA_OK) st = node_make_fused(p, name);
    return st;
}

/* Pads p's inputs with absent (-1) up to count. */
static strata_status pad_inputs(ir_node *p, size_t count)
{
    while (p->n_inputs < count) {
        strata_status st = ir_node_add_input(p, -1);
        if (st != STRATA_OK) return st;
    }
    return STRATA_OK;
}

/* Absorbs reader r into producer p: p now writes r's output. */
static void absorb(ir_graph *g, int p, ir_node *r)
{
    g->nodes[p].outputs[0] = r->outputs[0];
    g->values[r->outputs[0]].producer = p;
    r->dead = true;
}

/* Constant scalar of value id into *v; false when not a constant scalar. */
static bool const_scalar(const ir_graph *g, int id, float *v)
{
    const strata_tensor *t = value_const(g, id);
    if (!t || strata_tensor_numel(t) != 1 || !dtype_is_float(t->dtype)) return false;
    *v = (float)tensor_get_f64(t, 0);
    return true;
}

strata_status pass_fuse_activation(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)o;
    int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
    if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "fuse_activation: out of memory");
    ir_graph_count_uses(g, uses);
    strata_status st = STRATA_OK;
    for (size_t pi = 0; pi < g->n_nodes && st == STRATA_OK; pi++) {
        ir_node *p = &g->nodes[pi];
        if (!fused_name(p) || p->n_outputs != 1 || p->outputs[0] < 0) continue;
        if (attr_find(p->attrs, p->n_attrs, "activation")) continue;
        if (g->values[p->outputs[0]].dtype != STRATA_DTYPE_F32) continue;
        bool is_conv = strstr(p->op_type, "Conv") != NULL;
        size_t z_slot = 3;
        /* residual Add */
        int out = p->outputs[0];
        int r = sole_reader(g, uses, out);
        if (r >= 0 && node_is(&g->nodes[r], "Add") && g->nodes[r].n_inputs == 2 &&
            (p->n_inputs <= z_slot || p->inputs[z_slot] < 0)) {
            ir_node *add = &g->nodes[r];
            int z = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
            if (z != out && residual_fits(&g->values[z], &g->values[out], &g->values[add->outputs[0]])) {
                if ((st = make_fused(m, p)) != STRATA_OK) break;
                if ((st = pad_inputs(p, z_slot + 1)) != STRATA_OK) break;
                p = &g->nodes[pi];
                p->inputs[z_slot] = z;
                absorb(g, (int)pi, add);
                out = p->outputs[0];
                (*n_changed)++;
            }
        }
        (void)is_conv;
        /* activation */
        r = sole_reader(g, uses, out);
        const char *act = NULL;
        float lo = -INFINITY, hi = INFINITY, alpha = 0.01f;
        ir_node *rn = r >= 0 ? &g->nodes[r] : NULL;
        int silu_mul = -1;
        if (rn && (node_is(rn, "Relu") || node_is(rn, "Sigmoid") || node_is(rn, "Tanh"))) {
            act = rn->op_type;
        } else if (rn && node_is(rn, "LeakyRelu")) {
            const attr *a = attr_find(rn->attrs, rn->n_attrs, "alpha");
            alpha = a && a->type == ATTR_FLOAT ? a->f : 0.01f;
            act = "LeakyRelu";
        } else if (rn && node_is(rn, "Clip")) {
            const attr *amin = attr_find(rn->attrs, rn->n_attrs, "min"), *amax = attr_find(rn->attrs, rn->n_attrs, "max");
            bool ok = true;
            if (amin && amin->type == ATTR_FLOAT) lo = amin->f;
            if (amax && amax->type == ATTR_FLOAT) hi = amax->f;
            if (rn->n_inputs > 1 && rn->inputs[1] >= 0) ok &= const_scalar(g, rn->inputs[1], &lo);
            if (rn->n_inputs > 2 && rn->inputs[2] >= 0) ok &= const_scalar(g, rn->inputs[2], &hi);
            if (ok) act = "Clip";
        } else if (rn && ((strcmp(rn->domain, STRATA_FUSED_DOMAIN) == 0 && strcmp(rn->op_type, "Gelu") == 0) ||
                          (node_is(rn, "Gelu") && strcmp("none", attr_find(rn->attrs, rn->n_attrs, "approximate")
                                                                     ? attr_find(rn->attrs, rn->n_attrs, "approximate")->s
                                                                     : "none") == 0))) {
            act = "Gelu";
        } else if (uses[out] == 2 && !ir_graph_is_output(g, out)) {
            /* Silu: Mul(out, Sigmoid(out)) */
            int sig = -1, mul = -1;
            for (size_t i = 0; i < g->n_nodes; i++) {
                const ir_node *n = &g->nodes[i];
                if (n->dead || n->n_inputs < 1) continue;
                bool reads = false;
                for (size_t k = 0; k < n->n_inputs; k++) reads |= n->inputs[k] == out;
                if (!reads) continue;
                if (node_is(n, "Sigmoid")) sig = (int)i;
                else if (node_is(n, "Mul")) mul = (int)i;
            }
            if (sig >= 0 && mul >= 0) {
                const ir_node *mn = &g->nodes[mul];
                int so = g->nodes[sig].outputs[0];
                if (mn->n_inputs == 2 && uses[so] == 1 &&
                    ((mn->inputs[0] == out && mn->inputs[1] == so) || (mn->inputs[1] == out && mn->inputs[0] == so))) {
                    act = "Silu";
                    silu_mul = mul;
                    g->nodes[sig].dead = true;
                    rn = &g->nodes[mul];
                }
            }
        }
        if (!act) continue;
        if ((st = make_fused(m, p)) != STRATA_OK) break;
        p = &g->nodes[pi];
        if ((st = ir_node_set_string(p, "activation", act)) != STRATA_OK) break;
        if (strcmp(act, "Clip") == 0) {
            if ((st = ir_node_set_float(p, "activation_min", lo)) != STRATA_OK) break;
            if ((st = ir_node_set_float(p, "activation_max", hi)) != STRATA_OK) break;
        }
        if (strcmp(act, "LeakyRelu") == 0 && (st = ir_node_set_float(p, "activation_alpha", alpha)) != STRATA_OK) break;
        (void)silu_mul;
        absorb(g, (int)pi, rn);
        (*n_changed)++;
    }
    mem_free(uses);
    return st;
}
