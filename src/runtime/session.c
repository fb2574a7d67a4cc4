/* runtime/session.c — sessions: bind caller tensors to a model's inputs by name, run (a plan
 * through the executor, or a model through the reference interpreter), and hand the outputs
 * back (new tensors, or copied into caller-provided ones). */
#include <string.h>

#include "runtime.h"

static strata_status session_alloc(const ir_graph *g, const strata_session_options *opts,
                                   strata_session **out)
{
    strata_session *s = mem_calloc(1, sizeof *s);
    if (!s) return error_set(STRATA_OUT_OF_MEMORY, "session: out of memory");
    if (opts) s->opts = *opts;
    s->feeds = mem_calloc(g->n_inputs + 1, sizeof *s->feeds);
    s->results = mem_calloc(g->n_outputs + 1, sizeof *s->results);
    if (!s->feeds || !s->results) {
        strata_session_destroy(s);
        return error_set(STRATA_OUT_OF_MEMORY, "session: out of memory");
    }
    *out = s;
    return STRATA_OK;
}

strata_status strata_session_create(const strata_model *m, const strata_session_options *opts,
                                    strata_session **out)
{
    *out = NULL;
    if (!m || !m->ir || !m->ir->graph)
        return error_set(STRATA_INVALID_ARGUMENT, "session: no model");
    strata_status st = session_alloc(m->ir->graph, opts, out);
    if (st == STRATA_OK) (*out)->model = m;
    return st;
}

strata_status strata_session_create_plan(const strata_plan *p, const strata_session_options *opts,
                                         strata_session **out)
{
    *out = NULL;
    if (!p) return error_set(STRATA_INVALID_ARGUMENT, "session: no plan");
    strata_session *s;
    strata_status st = session_alloc(p->view->model->graph, opts, &s);
    if (st != STRATA_OK) return st;
    s->plan = p;
    if ((st = exec_init(&s->exec, p, s->opts.n_threads)) != STRATA_OK) {
        strata_session_destroy(s);
        return st;
    }
    *out = s;
    return STRATA_OK;
}

void strata_session_destroy(strata_session *s)
{
    if (!s) return;
    async_worker_destroy(s->worker); /* waits for a run in flight */
    if (s->plan) exec_release(&s->exec);
    mem_free(s->feeds);
    mem_free(s->results);
    mem_free(s);
}

size_t strata_session_last_run_allocations(const strata_session *s)
{
    return s && s->plan ? s->exec.last_allocations : 0;
}

strata_status strata_session_set_profiling(strata_session *s, int on)
{
    if (!s || !s->plan) return error_set(STRATA_INVALID_ARGUMENT, "profiling needs a plan session");
    exec_state *e = &s->exec;
    if (!on) {
        mem_free(e->step_ns);
        mem_free(e->step_start);
        mem_free(e->step_read);
        mem_free(e->step_written);
        e->step_ns = e->step_start = e->step_read = e->step_written = NULL;
        return STRATA_OK;
    }
    if (e->step_ns) return STRATA_OK;
    size_t n = s->plan->view->model->graph->n_nodes + 1;
    e->step_ns = mem_calloc(n, sizeof *e->step_ns);
    e->step_start = mem_calloc(n, sizeof *e->step_start);
    e->step_read = mem_calloc(n, sizeof *e->step_read);
    e->step_written = mem_calloc(n, sizeof *e->step_written);
    if (!e->step_ns || !e->step_start || !e->step_read || !e->step_written) {
        strata_session_set_profiling(s, 0);
        return error_set(STRATA_OUT_OF_MEMORY, "profiling: out of memory");
    }
    return STRATA_OK;
}

/* Data movement ops: their time is memory traffic, not arithmetic. */
static strata_cost_class cost_of(const ir_node *n)
{
    static const char *const movers[] = {
        "Transpose", "Reshape", "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND",
        "Pad", "Identity", "Cast", "CastLike", "Expand", "Tile", "Flatten", "Squeeze", "Unsqueeze",
        "DepthToSpace", "SpaceToDepth", "ScatterND", "ScatterElements", "Shape", "Dropout", "Resize",
        "Upsample", "Compress", "Range", "ConstantOfShape", "Constant"};
    if (ir_is_control_op(n)) return STRATA_COST_CONTROL;
    if (n->domain[0] == 0)
        for (size_t k = 0; k < ARRAY_LEN(movers); k++)
            if (strcmp(n->op_type, movers[k]) == 0) return STRATA_COST_MEMORY;
    return STRATA_COST_COMPUTE;
}

size_t strata_session_profile(const strata_session *s, strata_step_profile *steps, size_t max,
                              uint64_t *run_ns)
{
    if (run_ns) *run_ns = 0;
    if (!s || !s->plan || !s->exec.step_ns) return 0;
    const ir_graph *g = s->plan->view->model->graph;
    if (run_ns) *run_ns = s->exec.run_ns;
    for (size_t i = 0; i < g->n_nodes && i < max; i++) {
        steps[i].node = g->nodes[i].name;
        steps[i].op_type = g->nodes[i].op_type;
        steps[i].kernel = s->plan->view->program.kernels[i];
        steps[i].start_ns = s->exec.step_start[i];
        steps[i].ns = s->exec.step_ns[i];
        steps[i].bytes_read = s->exec.step_read[i];
        steps[i].bytes_written = s->exec.step_written[i];
        steps[i].cost = cost_of(&g->nodes[i]);
    }
    return g->n_nodes;
}

static int find_io(const ir_graph *g, const int *ids, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g->values[ids[i]].name, name) == 0) return (int)i;
    return -1;
}

strata_status strata_session_run(strata_session *s, size_t n_inputs,
                                 const char *const *input_names, strata_tensor *const *inputs,
                                 size_t n_outputs, const char *const *output_names,
                                 strata_tensor **outputs)
{
    if (!s) return error_set(STRATA_INVALID_ARGUMENT, "session_run: no session");
    const ir_graph *g = s->plan ? s->plan->view->model->graph : s->model->ir->graph;
    memset(s->feeds, 0, g->n_inputs * sizeof *s->feeds);
    for (size_t i = 0; i < n_inputs; i++) {
        if (!input_names || !input_names[i] || !inputs || !inputs[i])
            return error_set(STRATA_INVALID_ARGUMENT, "session_run: input %zu has no name or tensor", i);
        int k = find_io(g, g->inputs, g->n_inputs, input_names[i]);
        if (k < 0)
            return error_set(STRATA_INVALID_ARGUMENT, "session_run: the model has no input '%s'",
                             input_names[i]);
        if (s->feeds[k])
            return error_set(STRATA_INVALID_ARGUMENT, "session_run: input '%s' given twice",
                             input_names[i]);
        s->feeds[k] = inputs[i];
    }
    bool all = n_outputs == 0 && output_names == NULL;
    size_t want = all ? g->n_outputs : n_outputs;
    int map[256];
    if (want > 256) return error_set(STRATA_UNSUPPORTED, "session_run: more than 256 outputs");
    for (size_t o = 0; o < want; o++) {
        if (all) {
            map[o] = (int)o;
            continue;
        }
        if (!output_names[o])
            return error_set(STRATA_INVALID_ARGUMENT, "session_run: output %zu has no name", o);
        map[o] = find_io(g, g->outputs, g->n_outputs, output_names[o]);
        if (map[o] < 0)
            return error_set(STRATA_INVALID_ARGUMENT, "session_run: the model has no output '%s'",
                             output_names[o]);
    }
    strata_status st;
    if (s->plan) { /* caller-provided outputs are written in place by the step that makes them */
        for (size_t o = 0; o < want; o++)
            if (outputs[o] && outputs[o]->dtype != STRATA_DTYPE_STRING) s->exec.bound[g->outputs[map[o]]] = outputs[o];
        st = exec_run(&s->exec, s->plan, s->feeds, (const strata_tensor **)s->results);
        for (size_t o = 0; o < g->n_outputs; o++) s->exec.bound[g->outputs[o]] = NULL;
    } else {
        st = ir_eval(g, NULL, s->feeds, g->n_inputs, s->results, g->n_outputs);
    }
    if (st != STRATA_OK) {
        if (s->plan) exec_grow(&s->exec);
        return st;
    }
    bool created[256] = {false};
    for (size_t o = 0; o < want && st == STRATA_OK; o++) {
        const strata_tensor *r = s->results[map[o]];
        for (size_t p = 0; !r && p < o; p++) /* the same output asked for twice */
            if (map[p] == map[o]) r = outputs[p];
        if (!outputs[o]) {
            if (!s->plan && r == s->results[map[o]]) { /* reference path: hand over */
                outputs[o] = s->results[map[o]];
                s->results[map[o]] = NULL;
            } else {
                st = tensor_clone(r, &outputs[o]);
            }
            created[o] = st == STRATA_OK;
            continue;
        }
        strata_tensor *dst = outputs[o];
        char a[160], b[160];
        if (dst->dtype != r->dtype || dst->rank != r->rank ||
            memcmp(dst->dims, r->dims, (size_t)r->rank * sizeof r->dims[0]) != 0)
            st = error_set(STRATA_INVALID_ARGUMENT,
                           "session_run: output '%s' is %s, the tensor given for it is %s",
                           g->values[g->outputs[map[o]]].name, tensor_describe(r, a, sizeof a),
                           tensor_describe(dst, b, sizeof b));
        else if (r->dtype == STRATA_DTYPE_STRING)
            st = error_set(STRATA_UNSUPPORTED, "session_run: string outputs need a NULL slot");
        else if (dst->data != r->data) /* not already written in place */
            memcpy(dst->data, r->data, r->n_bytes);
    }
    if (st != STRATA_OK) /* out-params are written only on success */
        for (size_t o = 0; o < want; o++)
            if (created[o]) {
                strata_tensor_destroy(outputs[o]);
                outputs[o] = NULL;
            }
    if (s->plan) {
        memset(s->results, 0, g->n_outputs * sizeof *s->results); /* views, not owned */
        strata_status grow = exec_grow(&s->exec);
        if (st == STRATA_OK) st = grow;
    } else {
        for (size_t o = 0; o < g->n_outputs; o++) {
            strata_tensor_destroy(s->results[o]);
            s->results[o] = NULL;
        }
    }
    return st;
}
