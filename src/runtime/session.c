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
    if ((st = exec_init(&s->exec, p)) != STRATA_OK) {
        strata_session_destroy(s);
        return st;
    }
    *out = s;
    return STRATA_OK;
}

void strata_session_destroy(strata_session *s)
{
    if (!s) return;
    if (s->plan) exec_release(&s->exec);
    mem_free(s->feeds);
    mem_free(s->results);
    mem_free(s);
}

size_t strata_session_last_run_allocations(const strata_session *s)
{
    return s && s->plan ? s->exec.last_allocations : 0;
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
    if (s->plan)
        st = exec_run(&s->exec, s->plan, s->feeds, (const strata_tensor **)s->results);
    else
        st = ir_eval(g, NULL, s->feeds, g->n_inputs, s->results, g->n_outputs);
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
        else
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
