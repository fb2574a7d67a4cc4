/* tools/cli_session.c — what run/bench/profile share: open a plan, or compile an ONNX model in
 * memory (to a temporary plan fixed at the given input shapes) and open that; or, with
 * --reference, run the model through the reference interpreter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "compile/compile.h"

strata_status cli_session_open(const char *path, size_t n_inputs, const char *const *names,
                               strata_tensor *const *inputs, bool reference, cli_session *cs)
{
    int n_threads = cs->n_threads, precision = cs->precision;
    memset(cs, 0, sizeof *cs);
    cs->n_threads = n_threads;
    cs->precision = precision;
    strata_session_options so = {n_threads};
    strata_status st;
    uint64_t t0 = clock_now_ns();
    if (plan_is_plan_file(path)) {
        if (reference)
            return error_set(STRATA_INVALID_ARGUMENT, "%s: --reference needs an ONNX model, not a plan", path);
        st = strata_plan_open(path, &cs->plan);
        if (st == STRATA_OK) st = strata_session_create_plan(cs->plan, &so, &cs->session);
        cs->model = cs->plan ? strata_plan_model(cs->plan) : NULL;
        cs->load_ms = (double)(clock_now_ns() - t0) / 1e6;
        return st;
    }
    if (reference) {
        st = strata_model_load(path, &cs->owned_model);
        if (st == STRATA_OK) st = strata_session_create(cs->owned_model, &so, &cs->session);
        cs->model = cs->owned_model;
        cs->load_ms = (double)(clock_now_ns() - t0) / 1e6;
        return st;
    }
    compile_options o;
    memset(&o, 0, sizeof o);
    o.precision = (compile_precision)cs->precision;
    for (size_t i = 0; i < n_inputs && i < ARRAY_LEN(o.shapes); i++) {
        compile_shape *s = &o.shapes[o.n_shapes++];
        snprintf(s->name, sizeof s->name, "%s", names[i]);
        s->rank = strata_tensor_rank(inputs[i]);
        for (int d = 0; d < s->rank; d++)
            s->min[d] = s->opt[d] = s->max[d] = strata_tensor_dims(inputs[i])[d];
    }
    char tmp[] = "/tmp/strata-plan-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) return error_set(STRATA_IO_ERROR, "cannot create a temporary plan file");
    close(fd);
    ir_model *m = NULL;
    st = onnx_read_model(path, &m);
    if (st == STRATA_OK) st = compile_optimize(m, &o);
    if (st == STRATA_OK) st = compile_write_plan(m, &o, tmp);
    ir_model_destroy(m);
    cs->compile_ms = (double)(clock_now_ns() - t0) / 1e6;
    uint64_t t1 = clock_now_ns();
    if (st == STRATA_OK) st = strata_plan_open(tmp, &cs->plan);
    unlink(tmp); /* the mapping stays valid */
    if (st == STRATA_OK) st = strata_session_create_plan(cs->plan, &so, &cs->session);
    cs->model = cs->plan ? strata_plan_model(cs->plan) : NULL;
    cs->load_ms = (double)(clock_now_ns() - t1) / 1e6;
    return st;
}

strata_status cli_session_open_batch(const char *path, int64_t batch, bool reference, cli_session *cs)
{
    int n_threads = cs->n_threads;
    memset(cs, 0, sizeof *cs);
    cs->n_threads = n_threads;
    if (plan_is_plan_file(path) || reference) return cli_session_open(path, 0, NULL, NULL, reference, cs);
    /* ONNX: fix every symbolic input dim (dim 0 = batch, others 1) from the model's inputs */
    ir_model *m = NULL;
    strata_status st = onnx_read_model(path, &m);
    if (st != STRATA_OK) return st;
    const char *names[CLI_MAX_INPUTS];
    strata_tensor shapes[CLI_MAX_INPUTS];
    strata_tensor *ptrs[CLI_MAX_INPUTS];
    size_t n = 0;
    const ir_graph *g = m->graph;
    for (size_t i = 0; i < g->n_inputs && n < CLI_MAX_INPUTS; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->init || v->rank < 0) continue;
        memset(&shapes[n], 0, sizeof shapes[n]);
        shapes[n].rank = v->rank;
        for (int d = 0; d < v->rank; d++) shapes[n].dims[d] = v->dims[d] >= 0 ? v->dims[d] : d == 0 ? batch : 1;
        names[n] = v->name;
        ptrs[n] = &shapes[n];
        n++;
    }
    st = cli_session_open(path, n, names, ptrs, false, cs);
    ir_model_destroy(m);
    return st;
}

void cli_session_close(cli_session *cs)
{
    strata_session_destroy(cs->session);
    strata_plan_close(cs->plan);
    strata_model_destroy(cs->owned_model);
    memset(cs, 0, sizeof *cs);
}

int cli_precision_arg(const char *cmd, const char *value, cli_session *cs)
{
    compile_precision p;
    if (compile_parse_precision(value, &p) != STRATA_OK) {
        fprintf(stderr, "strata %s: --precision is fp32 or bf16, not '%s'\n", cmd, value);
        return 2;
    }
    cs->precision = (int)p;
    return 0;
}
