/* ir/rewrite.c — small graph edits for the compiler's passes: use counts, rewiring readers,
 * adding initializers and attributes, dropping dead nodes. */
#include <stdio.h>
#include <string.h>

#include "ir.h"

static void count_outer(const ir_graph *g, const ir_graph *sub, int *counts, int depth)
{
    if (depth > STRATA_MAX_SUBGRAPH_DEPTH) return;
    for (size_t v = 0; v < sub->n_values; v++) {
        if (!sub->values[v].is_outer) continue;
        int id = ir_graph_find(g, sub->values[v].name);
        if (id >= 0) counts[id]++;
    }
    for (size_t i = 0; i < sub->n_nodes; i++)
        for (size_t a = 0; a < sub->nodes[i].n_attrs; a++) {
            const attr *at = &sub->nodes[i].attrs[a];
            if (at->type == ATTR_GRAPH && at->g) count_outer(g, at->g, counts, depth + 1);
            if (at->type == ATTR_GRAPHS)
                for (size_t k = 0; k < at->n; k++) count_outer(g, at->graphs[k], counts, depth + 1);
        }
}

void ir_graph_count_uses(const ir_graph *g, int *counts)
{
    memset(counts, 0, g->n_values * sizeof *counts);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) counts[n->inputs[k]]++;
        for (size_t a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].type == ATTR_GRAPH && n->attrs[a].g)
                count_outer(g, n->attrs[a].g, counts, 1);
            if (n->attrs[a].type == ATTR_GRAPHS)
                for (size_t k = 0; k < n->attrs[a].n; k++)
                    count_outer(g, n->attrs[a].graphs[k], counts, 1);
        }
    }
    for (size_t o = 0; o < g->n_outputs; o++) counts[g->outputs[o]]++;
}

void ir_graph_replace_uses(ir_graph *g, int old_id, int new_id)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == old_id) n->inputs[k] = new_id;
    }
}

bool ir_graph_is_output(const ir_graph *g, int id)
{
    for (size_t o = 0; o < g->n_outputs; o++)
        if (g->outputs[o] == id) return true;
    return false;
}

bool ir_graph_is_input(const ir_graph *g, int id)
{
    for (size_t i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == id) return true;
    return false;
}

strata_status ir_graph_compact(ir_graph *g)
{
    size_t w = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead) {
            mem_free(n->name);
            mem_free(n->op_type);
            mem_free(n->domain);
            mem_free(n->inputs);
            mem_free(n->outputs);
            for (size_t a = 0; a < n->n_attrs; a++) attr_release(&n->attrs[a], ir_graph_free_fn);
            mem_free(n->attrs);
            mem_free(n->doc_string);
            continue;
        }
        if (w != i) g->nodes[w] = *n;
        w++;
    }
    g->n_nodes = w;
    return ir_graph_verify(g, NULL);
}

strata_status ir_graph_add_initializer(ir_graph *g, const char *base, strata_tensor *t,
                                       int *id_out)
{
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    for (int k = 1; ir_graph_find(g, name) >= 0; k++) snprintf(name, sizeof name, "%.200s_%d", base, k);
    int id;
    strata_status st = ir_graph_value(g, name, &id);
    if (st != STRATA_OK) {
        strata_tensor_destroy(t);
        return st;
    }
    ir_value *v = &g->values[id];
    v->init = t;
    v->dtype = t->dtype;
    v->rank = t->rank;
    for (int d = 0; d < t->rank; d++) v->dims[d] = t->dims[d];
    *id_out = id;
    return STRATA_OK;
}

/* The attribute slot called name in n, released for reuse, or a new one. */
static attr *attr_slot(ir_node *n, const char *name)
{
    for (size_t a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].name && strcmp(n->attrs[a].name, name) == 0) {
            attr_release(&n->attrs[a], ir_graph_free_fn);
            n->attrs[a].name = mem_strdup(name);
            return n->attrs[a].name ? &n->attrs[a] : NULL;
        }
    attr *na = mem_realloc(n->attrs, (n->n_attrs + 1) * sizeof *na);
    if (!na) return NULL;
    n->attrs = na;
    attr *a = &na[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = mem_strdup(name);
    if (!a->name) return NULL;
    n->n_attrs++;
    return a;
}

strata_status ir_node_set_int(ir_node *n, const char *name, int64_t v)
{
    attr *a = attr_slot(n, name);
    if (!a) return error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
    a->type = ATTR_INT;
    a->i = v;
    return STRATA_OK;
}

strata_status ir_node_set_float(ir_node *n, const char *name, float v)
{
    attr *a = attr_slot(n, name);
    if (!a) return error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
    a->type = ATTR_FLOAT;
    a->f = v;
    return STRATA_OK;
}

strata_status ir_node_set_string(ir_node *n, const char *name, const char *v)
{
    attr *a = attr_slot(n, name);
    if (!a) return error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
    a->type = ATTR_STRING;
    a->s = mem_strdup(v);
    a->s_len = strlen(v);
    if (!a->s) return error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
    return STRATA_OK;
}

strata_status ir_node_set_ints(ir_node *n, const char *name, const int64_t *v, size_t count)
{
    attr *a = attr_slot(n, name);
    if (!a) return error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
    a->type = ATTR_INTS;
    a->ints = mem_alloc((count ? count : 1) * sizeof *a->ints);
    if (!a->ints) return error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
    if (count) memcpy(a->ints, v, count * sizeof *a->ints);
    a->n = count;
    return STRATA_OK;
}

strata_status ir_node_add_input(ir_node *n, int id)
{
    int *in = mem_realloc(n->inputs, (n->n_inputs + 1) * sizeof *in);
    if (!in) return error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
    in[n->n_inputs++] = id;
    n->inputs = in;
    return STRATA_OK;
}
