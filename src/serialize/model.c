/* serialize/model.c — the public strata_model_* functions (include/strata/model.h): load and
 * save ONNX, bind safetensors weights, and describe the model's inputs and outputs. */
#include <string.h>

#include "serialize.h"

static strata_status wrap_model(strata_status st, ir_model *ir, strata_model **out)
{
    if (st != STRATA_OK) return st;
    strata_model *m = mem_calloc(1, sizeof *m);
    if (!m) {
        ir_model_destroy(ir);
        return error_set(STRATA_OUT_OF_MEMORY, "model: out of memory");
    }
    m->ir = ir;
    *out = m;
    return STRATA_OK;
}

strata_status strata_model_load(const char *path, strata_model **out)
{
    if (!out) return error_set(STRATA_INVALID_ARGUMENT, "strata_model_load: out is NULL");
    *out = NULL;
    if (!path) return error_set(STRATA_INVALID_ARGUMENT, "strata_model_load: path is NULL");
    ir_model *ir = NULL;
    strata_status st = onnx_read_model(path, &ir);
    return wrap_model(st, ir, out);
}

strata_status strata_model_load_bytes(const void *bytes, size_t n_bytes, const char *name,
                                      strata_model **out)
{
    if (!out) return error_set(STRATA_INVALID_ARGUMENT, "strata_model_load_bytes: out is NULL");
    *out = NULL;
    if (!bytes && n_bytes)
        return error_set(STRATA_INVALID_ARGUMENT, "strata_model_load_bytes: bytes is NULL");
    ir_model *ir = NULL;
    strata_status st = onnx_read_model_bytes(bytes ? bytes : "", n_bytes, name, &ir);
    return wrap_model(st, ir, out);
}

strata_status strata_model_bind_safetensors(strata_model *m, const char *path, size_t *n_bound)
{
    if (n_bound) *n_bound = 0;
    if (!m || !path)
        return error_set(STRATA_INVALID_ARGUMENT, "strata_model_bind_safetensors: NULL argument");
    size_t n = 0;
    strata_status st = safetensors_bind(m->ir, path, &n);
    if (n_bound) *n_bound = n;
    return st;
}

strata_status strata_model_save(const strata_model *m, const char *path)
{
    if (!m || !path) return error_set(STRATA_INVALID_ARGUMENT, "strata_model_save: NULL argument");
    return onnx_write_model(m->ir, path);
}

void strata_model_destroy(strata_model *m)
{
    if (!m) return;
    ir_model_destroy(m->ir);
    mem_free(m);
}

/* The inputs a caller feeds: graph inputs without an initializer (those with one are
 * overridable defaults). */
static bool is_fed_input(const ir_graph *g, size_t k)
{
    return !g->values[g->inputs[k]].init;
}

size_t strata_model_input_count(const strata_model *m)
{
    if (!m || !m->ir || !m->ir->graph) return 0;
    const ir_graph *g = m->ir->graph;
    size_t n = 0;
    for (size_t k = 0; k < g->n_inputs; k++) n += is_fed_input(g, k);
    return n;
}

size_t strata_model_output_count(const strata_model *m)
{
    if (!m || !m->ir || !m->ir->graph) return 0;
    return m->ir->graph->n_outputs;
}

static void fill_info(const ir_value *v, strata_value_info *out)
{
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->dtype = v->dtype;
    out->rank = v->rank;
    for (int d = 0; d < v->rank && d < STRATA_MAX_DIMS; d++) {
        out->dims[d] = v->dims[d];
        out->dim_names[d] = v->dim_names[d];
    }
}

strata_status strata_model_input_info(const strata_model *m, size_t i, strata_value_info *out)
{
    if (!m || !m->ir || !m->ir->graph || !out)
        return error_set(STRATA_INVALID_ARGUMENT, "strata_model_input_info: NULL argument");
    const ir_graph *g = m->ir->graph;
    size_t n = 0;
    for (size_t k = 0; k < g->n_inputs; k++) {
        if (!is_fed_input(g, k)) continue;
        if (n++ == i) {
            fill_info(&g->values[g->inputs[k]], out);
            return STRATA_OK;
        }
    }
    return error_set(STRATA_INVALID_ARGUMENT, "model has %zu inputs, asked for input %zu", n, i);
}

strata_status strata_model_output_info(const strata_model *m, size_t i, strata_value_info *out)
{
    if (!m || !m->ir || !m->ir->graph || !out)
        return error_set(STRATA_INVALID_ARGUMENT, "strata_model_output_info: NULL argument");
    const ir_graph *g = m->ir->graph;
    if (i >= g->n_outputs)
        return error_set(STRATA_INVALID_ARGUMENT, "model has %zu outputs, asked for output %zu",
                         g->n_outputs, i);
    fill_info(&g->values[g->outputs[i]], out);
    return STRATA_OK;
}
