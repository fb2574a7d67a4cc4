/* compile/eliminate_common.c — pass: common subexpression elimination. Two nodes with the
 * same op, domain, inputs and attributes compute the same values: readers of the later one's
 * outputs read the earlier one's, and eliminate_dead drops it. Nodes with subgraphs or random
 * ops are left alone. */
#include <string.h>

#include "internal.h"

static bool is_random(const ir_node *n)
{
    return n->domain[0] == 0 && (strncmp(n->op_type, "Random", 6) == 0 || strcmp(n->op_type, "Bernoulli") == 0 ||
                                 strcmp(n->op_type, "Multinomial") == 0);
}

static bool same_tensor(const strata_tensor *a, const strata_tensor *b)
{
    if (!a || !b) return a == b;
    if (a->dtype != b->dtype || a->rank != b->rank || a->n_bytes != b->n_bytes) return false;
    if (memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0]) != 0) return false;
    if (a->dtype == STRATA_DTYPE_STRING) return false; /* not worth comparing */
    return a->n_bytes == 0 || memcmp(a->data, b->data, a->n_bytes) == 0;
}

static bool same_attr(const attr *a, const attr *b)
{
    if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->n != b->n) return false;
    switch (a->type) {
    case ATTR_INT: return a->i == b->i;
    case ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case ATTR_STRING: return a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len) == 0;
    case ATTR_INTS: return a->n == 0 || memcmp(a->ints, b->ints, a->n * sizeof *a->ints) == 0;
    case ATTR_FLOATS: return a->n == 0 || memcmp(a->floats, b->floats, a->n * sizeof *a->floats) == 0;
    case ATTR_STRINGS:
        for (size_t k = 0; k < a->n; k++)
            if (strcmp(a->strings[k], b->strings[k]) != 0) return false;
        return true;
    case ATTR_TENSOR: return same_tensor(a->t, b->t);
    default: return false; /* graphs, sparse tensors, type protos: never merged */
    }
}

static bool same_node(const ir_node *a, const ir_node *b)
{
    if (strcmp(a->op_type, b->op_type) != 0 || strcmp(a->domain, b->domain) != 0) return false;
    if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs || a->n_attrs != b->n_attrs) return false;
    if (memcmp(a->inputs, b->inputs, a->n_inputs * sizeof *a->inputs) != 0) return false;
    for (size_t k = 0; k < a->n_outputs; k++)
        if ((a->outputs[k] < 0) != (b->outputs[k] < 0)) return false;
    for (size_t i = 0; i < a->n_attrs; i++) {
        const attr *other = attr_find(b->attrs, b->n_attrs, a->attrs[i].name);
        if (!other || !same_attr(&a->attrs[i], other)) return false;
    }
    return true;
}

static uint64_t node_key(const ir_node *n)
{
    uint64_t h = hash64(n->op_type, strlen(n->op_type), 0);
    h = hash64(n->domain, strlen(n->domain), h);
    return hash64(n->inputs, n->n_inputs * sizeof *n->inputs, h);
}

strata_status pass_eliminate_common(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)m;
    (void)o;
    uint64_t *keys = mem_calloc(g->n_nodes + 1, sizeof *keys);
    if (!keys) return error_set(STRATA_OUT_OF_MEMORY, "eliminate_common: out of memory");
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        keys[i] = node_key(n);
        bool skip = n->dead || is_random(n);
        for (size_t a = 0; a < n->n_attrs && !skip; a++)
            if (n->attrs[a].type == ATTR_GRAPH || n->attrs[a].type == ATTR_GRAPHS) skip = true;
        if (skip) continue;
        for (size_t j = 0; j < i; j++) { /* nodes are in topological order: j is computed first */
            ir_node *e = &g->nodes[j];
            if (e->dead || keys[j] != keys[i] || !same_node(e, n)) continue;
            bool rewired = true;
            for (size_t k = 0; k < n->n_outputs; k++) {
                int out = n->outputs[k];
                if (out < 0) continue;
                if (ir_graph_is_output(g, out)) {
                    rewired = false; /* keep the name the graph promises */
                    continue;
                }
                ir_graph_replace_uses(g, out, e->outputs[k]);
            }
            if (rewired) {
                n->dead = true;
                (*n_changed)++;
            }
            break;
        }
    }
    mem_free(keys);
    return STRATA_OK;
}
