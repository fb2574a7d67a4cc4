/* ir/verify.c — structural checks of a graph and its subgraphs: producers, single assignment,
 * every node input defined (marking outer-scope references in subgraphs), graph outputs
 * defined, no cycles, bounded subgraph depth; sorts nodes topologically (stable Kahn). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir.h"

typedef struct verify_ctx {
    const char *source; /* for messages: the file name, or "" */
} verify_ctx;

static const char *gname(const ir_graph *g)
{
    return g->name ? g->name : "";
}

static strata_status fail(const verify_ctx *c, strata_status code, const char *fmt, ...)
    STRATA_PRINTF(3, 4);

static strata_status fail(const verify_ctx *c, strata_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->source && c->source[0]) return error_set(code, "%s: %s", c->source, msg);
    return error_set(code, "%s", msg);
}

static bool is_graph_input(const ir_graph *g, int id)
{
    for (size_t k = 0; k < g->n_inputs; k++)
        if (g->inputs[k] == id) return true;
    return false;
}

/* Is value id of g defined there (input, initializer, produced, or an outer reference)? */
static bool defined_in(const ir_graph *g, int id)
{
    const ir_value *v = &g->values[id];
    return v->producer >= 0 || v->init || v->is_outer || is_graph_input(g, id);
}

/* Does some ancestor of g define name? */
static bool ancestor_defines(const ir_graph *g, const char *name)
{
    for (const ir_graph *a = g->parent; a; a = a->parent) {
        int id = ir_graph_find(a, name);
        if (id >= 0 && defined_in(a, id)) return true;
    }
    return false;
}

/* Producers, single assignment, id ranges. */
static strata_status set_producers(const verify_ctx *c, ir_graph *g)
{
    for (size_t v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (size_t i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] < 0 || (size_t)g->inputs[i] >= g->n_values)
            return fail(c, STRATA_INVALID_MODEL, "graph '%s': input %zu has a bad value id %d",
                        gname(g), i, g->inputs[i]);
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] < 0 || (size_t)g->outputs[i] >= g->n_values)
            return fail(c, STRATA_INVALID_MODEL, "graph '%s': output %zu has a bad value id %d",
                        gname(g), i, g->outputs[i]);
    for (size_t n = 0; n < g->n_nodes; n++) {
        const ir_node *node = &g->nodes[n];
        if (node->n_outputs == 0) /* every op has an output; kernels rely on slot 0 */
            return fail(c, STRATA_INVALID_MODEL, "graph '%s': node '%s' (%s) has no outputs",
                        gname(g), node->name, node->op_type);
        for (size_t k = 0; k < node->n_inputs; k++)
            if (node->inputs[k] >= 0 && (size_t)node->inputs[k] >= g->n_values)
                return fail(c, STRATA_INVALID_MODEL, "graph '%s': node '%s' (%s): input %zu has "
                            "a bad value id %d", gname(g), node->name, node->op_type, k,
                            node->inputs[k]);
        for (size_t k = 0; k < node->n_outputs; k++) {
            int id = node->outputs[k];
            if (id < 0) continue;
            if ((size_t)id >= g->n_values)
                return fail(c, STRATA_INVALID_MODEL, "graph '%s': node '%s' (%s): output %zu "
                            "has a bad value id %d", gname(g), node->name, node->op_type, k, id);
            ir_value *v = &g->values[id];
            if (v->producer >= 0)
                return fail(c, STRATA_INVALID_MODEL, "graph '%s': value '%s' is produced twice "
                            "(by node '%s' (%s) and node '%s' (%s))", gname(g), v->name,
                            g->nodes[v->producer].name, g->nodes[v->producer].op_type,
                            node->name, node->op_type);
            if (v->init || is_graph_input(g, id))
                return fail(c, STRATA_INVALID_MODEL, "graph '%s': node '%s' (%s) output '%s' is "
                            "also a graph %s", gname(g), node->name, node->op_type, v->name,
                            v->init ? "initializer" : "input");
            v->producer = (int)n;
        }
    }
    return STRATA_OK;
}

/* Node inputs and graph outputs defined; outer references marked. */
static strata_status check_defined(const verify_ctx *c, ir_graph *g)
{
    for (size_t v = 0; v < g->n_values; v++) g->values[v].is_outer = false;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const ir_node *node = &g->nodes[n];
        for (size_t k = 0; k < node->n_inputs; k++) {
            int id = node->inputs[k];
            if (id < 0 || defined_in(g, id)) continue;
            ir_value *v = &g->values[id];
            if (g->parent && ancestor_defines(g, v->name)) {
                v->is_outer = true;
                continue;
            }
            return fail(c, STRATA_INVALID_MODEL,
                        "graph '%s': node '%s' (%s): input '%s' is not defined (missing "
                        "initializer?)", gname(g), node->name, node->op_type, v->name);
        }
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        int id = g->outputs[i];
        if (defined_in(g, id)) continue;
        ir_value *v = &g->values[id];
        if (g->parent && ancestor_defines(g, v->name)) {
            v->is_outer = true;
            continue;
        }
        return fail(c, STRATA_INVALID_MODEL, "graph '%s': output '%s' is not defined by any "
                    "node, input or initializer", gname(g), v->name);
    }
    return STRATA_OK;
}

/* Adds to deps (value ids of g) the outer references of the subgraphs of node, recursively. */
static strata_status outer_deps(const verify_ctx *c, const ir_graph *g, const ir_graph *sub,
                                int depth, int *deps, size_t *n_deps, size_t cap)
{
    if (depth > STRATA_MAX_SUBGRAPH_DEPTH)
        return fail(c, STRATA_INVALID_MODEL, "graph '%s': subgraphs nested deeper than %d",
                    gname(sub), STRATA_MAX_SUBGRAPH_DEPTH);
    for (size_t v = 0; v < sub->n_values; v++) {
        if (!sub->values[v].is_outer) continue;
        int id = ir_graph_find(g, sub->values[v].name);
        if (id < 0 || g->values[id].producer < 0) continue;
        bool dup = false;
        for (size_t q = 0; q < *n_deps; q++)
            if (deps[q] == id) dup = true;
        if (!dup && *n_deps < cap) deps[(*n_deps)++] = id;
    }
    for (size_t n = 0; n < sub->n_nodes; n++) {
        const ir_node *node = &sub->nodes[n];
        for (size_t a = 0; a < node->n_attrs; a++) {
            const attr *at = &node->attrs[a];
            strata_status st = STRATA_OK;
            if (at->type == ATTR_GRAPH && at->g)
                st = outer_deps(c, g, at->g, depth + 1, deps, n_deps, cap);
            else if (at->type == ATTR_GRAPHS)
                for (size_t k = 0; k < at->n && st == STRATA_OK; k++)
                    if (at->graphs[k])
                        st = outer_deps(c, g, at->graphs[k], depth + 1, deps, n_deps, cap);
            if (st != STRATA_OK) return st;
        }
    }
    return STRATA_OK;
}

/* Min-heap of node indices (ready set): the lowest original index goes first (stable). */
static void heap_push(int *h, size_t *n, int v)
{
    size_t i = (*n)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        int t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int heap_pop(int *h, size_t *n)
{
    int top = h[0];
    h[0] = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m]) m = l;
        if (r < *n && h[r] < h[m]) m = r;
        if (m == i) break;
        int t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

/* Stable topological sort of g's nodes (explicit inputs + outer references of subgraphs). */
static strata_status sort_topo(const verify_ctx *c, ir_graph *g, int depth)
{
    size_t nn = g->n_nodes;
    if (nn == 0) return STRATA_OK;
    strata_status st = STRATA_OK;
    /* edges producer -> consumer, CSR; deps per node first collected into a list */
    size_t *n_pred = mem_calloc(nn, sizeof *n_pred);
    size_t *succ_start = mem_calloc(nn + 1, sizeof *succ_start);
    int *order = mem_alloc(nn * sizeof *order);
    int *heap = mem_alloc(nn * sizeof *heap);
    int *deps = NULL, *edges_from = NULL, *edges_to = NULL, *succ = NULL;
    size_t n_edges = 0, cap_edges = 0;
    size_t cap_deps = g->n_values ? g->n_values : 1;
    deps = mem_alloc(cap_deps * sizeof *deps);
    if (!n_pred || !succ_start || !order || !heap || !deps) {
        st = error_set(STRATA_OUT_OF_MEMORY, "verify: out of memory");
        goto done;
    }
    for (size_t n = 0; n < nn; n++) {
        const ir_node *node = &g->nodes[n];
        size_t nd = 0;
        for (size_t k = 0; k < node->n_inputs; k++) {
            int id = node->inputs[k];
            if (id < 0 || g->values[id].producer < 0) continue;
            bool dup = false;
            for (size_t q = 0; q < nd; q++)
                if (deps[q] == id) dup = true;
            if (!dup && nd < cap_deps) deps[nd++] = id;
        }
        for (size_t a = 0; a < node->n_attrs; a++) {
            const attr *at = &node->attrs[a];
            if (at->type == ATTR_GRAPH && at->g)
                st = outer_deps(c, g, at->g, depth + 1, deps, &nd, cap_deps);
            else if (at->type == ATTR_GRAPHS)
                for (size_t k = 0; k < at->n && st == STRATA_OK; k++)
                    if (at->graphs[k])
                        st = outer_deps(c, g, at->graphs[k], depth + 1, deps, &nd, cap_deps);
            if (st != STRATA_OK) goto done;
        }
        for (size_t q = 0; q < nd; q++) {
            if (n_edges == cap_edges) {
                size_t cap = cap_edges ? cap_edges * 2 : 64;
                int *ef = mem_realloc(edges_from, cap * sizeof *ef);
                if (ef) edges_from = ef;
                int *et = mem_realloc(edges_to, cap * sizeof *et);
                if (et) edges_to = et;
                if (!ef || !et) {
                    st = error_set(STRATA_OUT_OF_MEMORY, "verify: out of memory");
                    goto done;
                }
                cap_edges = cap;
            }
            edges_from[n_edges] = g->values[deps[q]].producer;
            edges_to[n_edges] = (int)n;
            n_edges++;
            n_pred[n]++;
            succ_start[g->values[deps[q]].producer + 1]++;
        }
    }
    for (size_t n = 0; n < nn; n++) succ_start[n + 1] += succ_start[n];
    succ = mem_alloc((n_edges ? n_edges : 1) * sizeof *succ);
    if (!succ) {
        st = error_set(STRATA_OUT_OF_MEMORY, "verify: out of memory");
        goto done;
    }
    {
        size_t *fill = mem_calloc(nn, sizeof *fill);
        if (!fill) {
            st = error_set(STRATA_OUT_OF_MEMORY, "verify: out of memory");
            goto done;
        }
        for (size_t e = 0; e < n_edges; e++) {
            int f = edges_from[e];
            succ[succ_start[f] + fill[f]++] = edges_to[e];
        }
        mem_free(fill);
    }
    size_t n_heap = 0, n_order = 0;
    size_t *remaining = n_pred;
    for (size_t n = 0; n < nn; n++)
        if (remaining[n] == 0) heap_push(heap, &n_heap, (int)n);
    while (n_heap) {
        int n = heap_pop(heap, &n_heap);
        order[n_order++] = n;
        for (size_t e = succ_start[n]; e < succ_start[n + 1]; e++)
            if (--remaining[succ[e]] == 0) heap_push(heap, &n_heap, succ[e]);
    }
    if (n_order < nn) {
        /* walk back through unsorted predecessors until we are on the cycle */
        int cur = -1;
        for (size_t n = 0; n < nn && cur < 0; n++)
            if (remaining[n]) cur = (int)n;
        for (size_t step = 0; step < nn; step++) {
            int next = -1;
            for (size_t e = 0; e < n_edges && next < 0; e++)
                if (edges_to[e] == cur && remaining[edges_from[e]]) next = edges_from[e];
            if (next < 0) break;
            cur = next;
        }
        st = fail(c, STRATA_INVALID_MODEL, "graph '%s': cycle through node '%s' (%s)", gname(g),
                  g->nodes[cur].name, g->nodes[cur].op_type);
        goto done;
    }
    bool same = true;
    for (size_t i = 0; i < nn; i++)
        if (order[i] != (int)i) same = false;
    if (!same) {
        ir_node *sorted = mem_alloc(g->cap_nodes * sizeof *sorted);
        if (!sorted) {
            st = error_set(STRATA_OUT_OF_MEMORY, "verify: out of memory");
            goto done;
        }
        for (size_t i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
        mem_free(g->nodes);
        g->nodes = sorted;
        for (size_t v = 0; v < g->n_values; v++) g->values[v].producer = -1;
        for (size_t n = 0; n < nn; n++)
            for (size_t k = 0; k < g->nodes[n].n_outputs; k++)
                if (g->nodes[n].outputs[k] >= 0) g->values[g->nodes[n].outputs[k]].producer = (int)n;
    }
done:
    mem_free(n_pred);
    mem_free(succ_start);
    mem_free(order);
    mem_free(heap);
    mem_free(deps);
    mem_free(edges_from);
    mem_free(edges_to);
    mem_free(succ);
    return st;
}

static strata_status verify_graph(const verify_ctx *c, ir_graph *g, int depth)
{
    if (depth > STRATA_MAX_SUBGRAPH_DEPTH)
        return fail(c, STRATA_INVALID_MODEL, "graph '%s': subgraphs nested deeper than %d",
                    gname(g), STRATA_MAX_SUBGRAPH_DEPTH);
    strata_status st = set_producers(c, g);
    if (st == STRATA_OK) st = check_defined(c, g);
    /* subgraphs next: they need this graph's producers to resolve outer references */
    for (size_t n = 0; n < g->n_nodes && st == STRATA_OK; n++) {
        ir_node *node = &g->nodes[n];
        for (size_t a = 0; a < node->n_attrs && st == STRATA_OK; a++) {
            attr *at = &node->attrs[a];
            if (at->type == ATTR_GRAPH && at->g) {
                ir_graph *sub = at->g;
                sub->parent = g;
                st = verify_graph(c, sub, depth + 1);
            } else if (at->type == ATTR_GRAPHS) {
                for (size_t k = 0; k < at->n && st == STRATA_OK; k++) {
                    ir_graph *sub = at->graphs[k];
                    if (!sub) continue;
                    sub->parent = g;
                    st = verify_graph(c, sub, depth + 1);
                }
            }
        }
    }
    if (st == STRATA_OK) st = sort_topo(c, g, depth);
    return st;
}

strata_status ir_graph_verify(ir_graph *g, const char *source)
{
    if (!g) return error_set(STRATA_INVALID_ARGUMENT, "verify: no graph");
    verify_ctx c = {source ? source : ""};
    int depth = 0;
    for (const ir_graph *p = g->parent; p; p = p->parent) {
        if (++depth > STRATA_MAX_SUBGRAPH_DEPTH)
            return fail(&c, STRATA_INVALID_MODEL, "graph '%s': subgraphs nested deeper than %d",
                        gname(g), STRATA_MAX_SUBGRAPH_DEPTH);
    }
    return verify_graph(&c, g, depth);
}
