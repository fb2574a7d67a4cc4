/* compile/pipeline.c — runs the passes of passes.def in order, verifies the graph after each,
 * optionally dumps it (DIR/NN_pass.onnx); and the helpers the passes share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static const struct {
    const char *name;
    pass_fn fn;
} pipeline[] = {
#define PASS(name, text) {#name, pass_##name},
#include "passes.def"
#undef PASS
};

strata_status compile_optimize(ir_model *m, const compile_options *o)
{
    static const compile_options defaults;
    if (!o) o = &defaults;
    if (o->dump_dir && mkdir(o->dump_dir, 0755) != 0 && errno != EEXIST)
        return error_set(STRATA_IO_ERROR, "compile: cannot create dump folder '%s'", o->dump_dir);
    for (size_t p = 0; p < ARRAY_LEN(pipeline); p++) {
        int changed = 0;
        uint64_t t0 = clock_now_ns();
        strata_status st = pipeline[p].fn(m, m->graph, o, &changed);
        if (st == STRATA_OK) st = ir_graph_compact(m->graph);
        if (st != STRATA_OK) return error_prefix(st, "compile: pass %s", pipeline[p].name);
        if (o->verbose)
            printf("pass %-18s %4d changes, %5zu nodes, %.2f ms\n", pipeline[p].name, changed,
                   m->graph->n_nodes, (double)(clock_now_ns() - t0) / 1e6);
        if (o->dump_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%02zu_%s.onnx", o->dump_dir, p + 1, pipeline[p].name);
            st = onnx_write_model(m, path);
            if (st != STRATA_OK) return error_prefix(st, "compile: dumping after %s", pipeline[p].name);
        }
    }
    return STRATA_OK;
}

static strata_status parse_dims(const char *s, const char *end, int64_t *dims, int *rank)
{
    int r = 0;
    while (s < end) {
        char *e;
        errno = 0;
        long long v = strtoll(s, &e, 10);
        if (e == s || errno || v < 0 || r >= STRATA_MAX_DIMS) return STRATA_INVALID_ARGUMENT;
        dims[r++] = v;
        s = e;
        if (s < end && *s != 'x') return STRATA_INVALID_ARGUMENT;
        if (s < end) s++;
    }
    *rank = r;
    return r > 0 ? STRATA_OK : STRATA_INVALID_ARGUMENT;
}

strata_status compile_parse_shape(const char *spec, compile_shape *s)
{
    memset(s, 0, sizeof *s);
    const char *eq = strrchr(spec, '=');
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof s->name)
        return error_set(STRATA_INVALID_ARGUMENT, "shape '%s': want NAME=DxDxD[:DxD:DxD]", spec);
    memcpy(s->name, spec, (size_t)(eq - spec));
    const char *parts[3] = {eq + 1, NULL, NULL};
    int n_parts = 1;
    for (const char *c = eq + 1; *c; c++)
        if (*c == ':') {
            if (n_parts == 3) return error_set(STRATA_INVALID_ARGUMENT, "shape '%s': more than min:opt:max", spec);
            parts[n_parts++] = c + 1;
        }
    if (n_parts == 2) return error_set(STRATA_INVALID_ARGUMENT, "shape '%s': a profile is MIN:OPT:MAX", spec);
    int64_t *dst[3] = {s->min, s->opt, s->max};
    int ranks[3];
    for (int k = 0; k < n_parts; k++) {
        const char *end = k + 1 < n_parts ? parts[k + 1] - 1 : parts[k] + strlen(parts[k]);
        if (parse_dims(parts[k], end, dst[k], &ranks[k]) != STRATA_OK)
            return error_set(STRATA_INVALID_ARGUMENT, "shape '%s': dims must be like 1x3x224x224", spec);
    }
    if (n_parts == 1) {
        memcpy(s->opt, s->min, sizeof s->min);
        memcpy(s->max, s->min, sizeof s->min);
        ranks[1] = ranks[2] = ranks[0];
    }
    if (ranks[1] != ranks[0] || ranks[2] != ranks[0])
        return error_set(STRATA_INVALID_ARGUMENT, "shape '%s': min, opt and max differ in rank", spec);
    s->rank = ranks[0];
    for (int d = 0; d < s->rank; d++)
        if (s->min[d] > s->opt[d] || s->opt[d] > s->max[d])
            return error_set(STRATA_INVALID_ARGUMENT, "shape '%s': dim %d needs min <= opt <= max", spec, d);
    return STRATA_OK;
}

/* ---- helpers shared by the passes ---------------------------------------------------------- */

int node_producer(const ir_graph *g, int id)
{
    return id >= 0 ? g->values[id].producer : -1;
}

bool node_is(const ir_node *n, const char *op_type)
{
    return !n->dead && n->domain[0] == 0 && strcmp(n->op_type, op_type) == 0;
}

const strata_tensor *value_const(const ir_graph *g, int id)
{
    if (id < 0 || !g->values[id].init || ir_graph_is_input(g, id)) return NULL;
    return g->values[id].init;
}

bool value_shape_known(const ir_value *v)
{
    if (v->rank < 0 || v->dtype == STRATA_DTYPE_UNDEFINED) return false;
    for (int d = 0; d < v->rank; d++)
        if (v->dims[d] < 0) return false;
    return true;
}

strata_status model_import_fused(ir_model *m)
{
    if (ir_model_opset(m, STRATA_FUSED_DOMAIN) >= 0) return STRATA_OK;
    ir_opset *ops = mem_realloc(m->opsets, (m->n_opsets + 1) * sizeof *ops);
    if (!ops) return error_set(STRATA_OUT_OF_MEMORY, "compile: out of memory");
    m->opsets = ops;
    ops[m->n_opsets].domain = mem_strdup(STRATA_FUSED_DOMAIN);
    ops[m->n_opsets].version = 1;
    if (!ops[m->n_opsets].domain) return error_set(STRATA_OUT_OF_MEMORY, "compile: out of memory");
    m->n_opsets++;
    return STRATA_OK;
}

strata_status node_make_fused(ir_node *n, const char *op_type)
{
    char *t = mem_strdup(op_type), *d = mem_strdup(STRATA_FUSED_DOMAIN);
    if (!t || !d) {
        mem_free(t);
        mem_free(d);
        return error_set(STRATA_OUT_OF_MEMORY, "compile: out of memory");
    }
    mem_free(n->op_type);
    mem_free(n->domain);
    n->op_type = t;
    n->domain = d;
    return STRATA_OK;
}

strata_status compile_parse_precision(const char *name, compile_precision *p)
{
    if (name && (strcmp(name, "fp32") == 0 || strcmp(name, "float32") == 0)) *p = PRECISION_FP32;
    else if (name && (strcmp(name, "bf16") == 0 || strcmp(name, "bfloat16") == 0)) *p = PRECISION_BF16;
    else return error_set(STRATA_INVALID_ARGUMENT, "precision '%s' is not fp32 or bf16", name ? name : "(null)");
    return STRATA_OK;
}
