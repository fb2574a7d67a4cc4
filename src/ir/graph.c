/* ir/graph.c — models, graphs, values and nodes: construction, lookup by name (a hash index)
 * and destruction. Everything a graph holds is owned by it. */
#include <string.h>

#include "ir.h"

ir_model *ir_model_create(void)
{
    ir_model *m = mem_calloc(1, sizeof *m);
    return m;
}

void ir_model_destroy(ir_model *m)
{
    if (!m) return;
    /* The graph first: its tensors may point into the mappings. */
    ir_graph_destroy(m->graph);
    for (size_t i = 0; i < m->n_opsets; i++) mem_free(m->opsets[i].domain);
    mem_free(m->opsets);
    for (size_t i = 0; i < m->n_metadata; i++) {
        mem_free(m->metadata[i].key);
        mem_free(m->metadata[i].value);
    }
    mem_free(m->metadata);
    mem_free(m->producer_name);
    mem_free(m->producer_version);
    mem_free(m->domain);
    mem_free(m->doc_string);
    mem_free(m->path);
    for (size_t i = 0; i < m->n_extra_files; i++) mapped_file_close(m->extra_files[i]);
    mem_free(m->extra_files);
    mapped_file_close(m->file);
    mem_free(m);
}

int64_t ir_model_opset(const ir_model *m, const char *domain)
{
    if (!m) return -1;
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    for (size_t i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain ? m->opsets[i].domain : "";
        if (strcmp(d, "ai.onnx") == 0) d = "";
        if (strcmp(d, domain) == 0) return m->opsets[i].version;
    }
    return -1;
}

ir_graph *ir_graph_create(ir_graph *parent, const ir_model *model)
{
    ir_graph *g = mem_calloc(1, sizeof *g);
    if (!g) return NULL;
    g->parent = parent;
    g->model = model;
    return g;
}

static void value_release(ir_value *v)
{
    mem_free(v->name);
    for (int d = 0; d < STRATA_MAX_DIMS; d++) mem_free(v->dim_names[d]);
    strata_tensor_destroy(v->init);
    mem_free(v->doc_string);
}

static void node_release(ir_node *n)
{
    mem_free(n->name);
    mem_free(n->op_type);
    mem_free(n->domain);
    mem_free(n->inputs);
    mem_free(n->outputs);
    for (size_t a = 0; a < n->n_attrs; a++) attr_release(&n->attrs[a], ir_graph_free_fn);
    mem_free(n->attrs);
    mem_free(n->doc_string);
}

void ir_graph_destroy(ir_graph *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_nodes; i++) node_release(&g->nodes[i]);
    for (size_t i = 0; i < g->n_values; i++) value_release(&g->values[i]);
    mem_free(g->nodes);
    mem_free(g->values);
    mem_free(g->inputs);
    mem_free(g->outputs);
    mem_free(g->index);
    mem_free(g->name);
    mem_free(g->doc_string);
    mem_free(g);
}

void ir_graph_free_fn(void *g)
{
    ir_graph_destroy(g);
}

/* ---- name index: open addressing over value ids, capacity a power of two ------------------- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static strata_status index_rebuild(ir_graph *g, size_t cap)
{
    int *idx = mem_alloc(cap * sizeof *idx);
    if (!idx) return error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory for name index");
    for (size_t i = 0; i < cap; i++) idx[i] = -1;
    for (size_t v = 0; v < g->n_values; v++) {
        size_t h = (size_t)hash_name(g->values[v].name) & (cap - 1);
        while (idx[h] >= 0) h = (h + 1) & (cap - 1);
        idx[h] = (int)v;
    }
    mem_free(g->index);
    g->index = idx;
    g->n_index = cap;
    return STRATA_OK;
}

int ir_graph_find(const ir_graph *g, const char *name)
{
    if (!g || !name || g->n_index == 0) return -1;
    size_t h = (size_t)hash_name(name) & (g->n_index - 1);
    while (g->index[h] >= 0) {
        if (strcmp(g->values[g->index[h]].name, name) == 0) return g->index[h];
        h = (h + 1) & (g->n_index - 1);
    }
    return -1;
}

strata_status ir_graph_value(ir_graph *g, const char *name, int *id_out)
{
    int id = ir_graph_find(g, name);
    if (id >= 0) {
        *id_out = id;
        return STRATA_OK;
    }
    if (g->n_values >= (size_t)INT32_MAX / 2)
        return error_set(STRATA_INVALID_MODEL, "graph '%s': too many values", g->name ? g->name : "");
    if (g->n_values == g->cap_values) {
        size_t cap = g->cap_values ? g->cap_values * 2 : 16;
        ir_value *nv = mem_realloc(g->values, cap * sizeof *nv);
        if (!nv) return error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory for values");
        g->values = nv;
        g->cap_values = cap;
    }
    ir_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = mem_strdup(name);
    if (!v->name) return error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory for value name");
    v->kind = VALUE_TENSOR;
    v->rank = -1;
    v->producer = -1;
    g->n_values++;
    /* keep the load factor under 1/2 */
    if (g->n_values * 2 > g->n_index) {
        strata_status st = index_rebuild(g, g->n_index ? g->n_index * 2 : 32);
        if (st != STRATA_OK) {
            value_release(v);
            g->n_values--;
            return st;
        }
    } else {
        size_t h = (size_t)hash_name(v->name) & (g->n_index - 1);
        while (g->index[h] >= 0) h = (h + 1) & (g->n_index - 1);
        g->index[h] = (int)(g->n_values - 1);
    }
    *id_out = (int)(g->n_values - 1);
    return STRATA_OK;
}

strata_status ir_graph_add_node(ir_graph *g, const char *op_type, const char *domain,
                                const char *name, size_t n_inputs, size_t n_outputs,
                                size_t n_attrs, int *index_out)
{
    if (g->n_nodes >= (size_t)INT32_MAX / 2)
        return error_set(STRATA_INVALID_MODEL, "graph '%s': too many nodes", g->name ? g->name : "");
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 16;
        ir_node *nn = mem_realloc(g->nodes, cap * sizeof *nn);
        if (!nn) return error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory for nodes");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    ir_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op_type = mem_strdup(op_type ? op_type : "");
    n->domain = mem_strdup(domain ? domain : "");
    n->name = mem_strdup(name ? name : "");
    n->inputs = mem_calloc(n_inputs ? n_inputs : 1, sizeof(int));
    n->outputs = mem_calloc(n_outputs ? n_outputs : 1, sizeof(int));
    n->attrs = mem_calloc(n_attrs ? n_attrs : 1, sizeof(attr));
    if (!n->op_type || !n->domain || !n->name || !n->inputs || !n->outputs || !n->attrs) {
        node_release(n);
        return error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory for node '%s'",
                         name ? name : "");
    }
    for (size_t i = 0; i < n_inputs; i++) n->inputs[i] = -1;
    for (size_t i = 0; i < n_outputs; i++) n->outputs[i] = -1;
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    n->n_attrs = n_attrs;
    *index_out = (int)g->n_nodes++;
    return STRATA_OK;
}

static strata_status append_id(int **arr, size_t *n, int id)
{
    int *a = mem_realloc(*arr, (*n + 1) * sizeof(int));
    if (!a) return error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory");
    a[*n] = id;
    *arr = a;
    (*n)++;
    return STRATA_OK;
}

strata_status ir_graph_add_input(ir_graph *g, int value_id)
{
    return append_id(&g->inputs, &g->n_inputs, value_id);
}

strata_status ir_graph_add_output(ir_graph *g, int value_id)
{
    return append_id(&g->outputs, &g->n_outputs, value_id);
}
