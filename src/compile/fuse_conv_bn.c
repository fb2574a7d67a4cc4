/* compile/fuse_conv_bn.c — pass: Conv(X, W, B) followed by BatchNormalization (inference form,
 * constant scale/bias/mean/var) becomes one Conv with W' = W * s and B' = (B - mean) * s + beta,
 * where s = scale / sqrt(var + epsilon) per output channel. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static bool f32_const(const strata_tensor *t, int64_t n)
{
    return t && t->dtype == STRATA_DTYPE_F32 && strata_tensor_numel(t) == n;
}

strata_status pass_fuse_conv_bn(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)m;
    (void)o;
    int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
    if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "fuse_conv_bn: out of memory");
    ir_graph_count_uses(g, uses);
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < g->n_nodes && st == STRATA_OK; i++) {
        ir_node *bn = &g->nodes[i];
        if (!node_is(bn, "BatchNormalization") || bn->n_inputs != 5) continue;
        bool extra_out = false;
        for (size_t k = 1; k < bn->n_outputs; k++) extra_out |= bn->outputs[k] >= 0;
        if (extra_out || attr_find(bn->attrs, bn->n_attrs, "training_mode")) {
            const attr *tm = attr_find(bn->attrs, bn->n_attrs, "training_mode");
            if (extra_out || (tm && tm->i)) continue;
        }
        int y = bn->inputs[0];
        int p = node_producer(g, y);
        if (p < 0 || uses[y] != 1 || ir_graph_is_output(g, y)) continue;
        ir_node *conv = &g->nodes[p];
        if (!node_is(conv, "Conv") || conv->n_outputs != 1) continue;
        const strata_tensor *w = conv->n_inputs > 1 ? value_const(g, conv->inputs[1]) : NULL;
        const strata_tensor *b = conv->n_inputs > 2 && conv->inputs[2] >= 0 ? value_const(g, conv->inputs[2]) : NULL;
        if (!w || w->dtype != STRATA_DTYPE_F32 || w->rank < 3) continue;
        if (conv->n_inputs > 2 && conv->inputs[2] >= 0 && !b) continue;
        int64_t cout = w->dims[0];
        const strata_tensor *sc = value_const(g, bn->inputs[1]), *beta = value_const(g, bn->inputs[2]);
        const strata_tensor *mean = value_const(g, bn->inputs[3]), *var = value_const(g, bn->inputs[4]);
        if (!f32_const(sc, cout) || !f32_const(beta, cout) || !f32_const(mean, cout) ||
            !f32_const(var, cout) || (b && !f32_const(b, cout)))
            continue;
        const attr *ea = attr_find(bn->attrs, bn->n_attrs, "epsilon");
        double eps = ea && ea->type == ATTR_FLOAT ? ea->f : 1e-5;
        strata_tensor *nw = NULL, *nb = NULL;
        int64_t bdims[1] = {cout};
        if ((st = tensor_clone(w, &nw)) != STRATA_OK) break;
        if ((st = strata_tensor_create(STRATA_DTYPE_F32, 1, bdims, &nb)) != STRATA_OK) {
            strata_tensor_destroy(nw);
            break;
        }
        int64_t per = strata_tensor_numel(w) / cout;
        const float *fs = sc->data, *fb = beta->data, *fm = mean->data, *fv = var->data;
        float *W = nw->data, *B = nb->data;
        for (int64_t c = 0; c < cout; c++) {
            double s = fs[c] / sqrt((double)fv[c] + eps);
            for (int64_t k = 0; k < per; k++) W[c * per + k] = (float)(W[c * per + k] * s);
            double b0 = b ? ((const float *)b->data)[c] : 0.0;
            B[c] = (float)((b0 - fm[c]) * s + fb[c]);
        }
        char base[300];
        int wid, bid;
        snprintf(base, sizeof base, "%s_bnfold_w", g->values[conv->inputs[1]].name);
        if ((st = ir_graph_add_initializer(g, base, nw, &wid)) != STRATA_OK) {
            strata_tensor_destroy(nb);
            break;
        }
        snprintf(base, sizeof base, "%s_bnfold_b", g->values[conv->inputs[1]].name);
        if ((st = ir_graph_add_initializer(g, base, nb, &bid)) != STRATA_OK) break;
        conv = &g->nodes[p];
        bn = &g->nodes[i];
        conv->inputs[1] = wid;
        if (conv->n_inputs > 2) conv->inputs[2] = bid;
        else if ((st = ir_node_add_input(conv, bid)) != STRATA_OK) break;
        conv->outputs[0] = bn->outputs[0];
        g->values[bn->outputs[0]].producer = p;
        bn->dead = true;
        (*n_changed)++;
    }
    mem_free(uses);
    return st;
}
