/* runtime/executor.c — the run loop of a plan session: bind inputs (zero-copy, checked against
 * the plan's profile), then per step infer the actual shapes (dynamic batch; kept from the last
 * run when the step's input shapes did not change, shape_memo.c), point outputs at their arena
 * slots (or the scratch, for values sized only at run time), and call the kernel.
 * After the first run at a shape, a run makes no heap allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

strata_status exec_init(exec_state *e, const strata_plan *p, int n_threads)
{
    memset(e, 0, sizeof *e);
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    e->n_threads = n_threads;
    if (n_threads > 1) {
        strata_status st = thread_pool_create(n_threads, &e->pool);
        if (st != STRATA_OK) return st;
    }
    const ir_graph *g = p->view->model->graph;
    size_t nv = g->n_values;
    e->arena = mem_alloc_aligned(p->view->program.arena_bytes ? p->view->program.arena_bytes : 1);
    e->views = mem_calloc(nv + 1, sizeof *e->views);
    e->cur = mem_calloc(nv + 1, sizeof *e->cur);
    e->bound = mem_calloc(nv + 1, sizeof *e->bound);
    const char *stress = getenv("STRATA_STRESS_ARENA");
    e->stress_arena = stress && stress[0] && strcmp(stress, "0") != 0;
    if (!e->arena || !e->views || !e->cur || !e->bound || shape_memo_init(&e->memo, p) != STRATA_OK) {
        exec_release(e);
        return error_set(STRATA_OUT_OF_MEMORY, "session: out of memory for a %llu-byte arena",
                         (unsigned long long)p->view->program.arena_bytes);
    }
    return STRATA_OK;
}

void exec_release(exec_state *e)
{
    thread_pool_destroy(e->pool);
    mem_free(e->step_ns);
    mem_free(e->step_start);
    mem_free(e->step_read);
    mem_free(e->step_written);
    mem_free_aligned(e->arena);
    mem_free(e->views);
    mem_free(e->cur);
    mem_free(e->bound);
    shape_memo_release(&e->memo);
    scratch_release(&e->scratch);
    memset(e, 0, sizeof *e);
}

static strata_status check_feed(const plan_input *pi, const ir_value *v, const strata_tensor *t)
{
    char a[160];
    if (v->dtype != STRATA_DTYPE_UNDEFINED && t->dtype != v->dtype)
        return error_set(STRATA_INVALID_ARGUMENT, "input '%s': got %s, the model wants %s", v->name,
                         strata_dtype_name(t->dtype), strata_dtype_name(v->dtype));
    if (!pi) return STRATA_OK;
    bool ok = t->rank == pi->rank;
    for (int d = 0; ok && d < pi->rank; d++)
        ok = t->dims[d] >= pi->min[d] && t->dims[d] <= pi->max[d];
    if (!ok) {
        char want[400];
        size_t o = (size_t)snprintf(want, sizeof want, "[");
        for (int d = 0; d < pi->rank && o < sizeof want; d++)
            o += (size_t)(pi->min[d] == pi->max[d]
                              ? snprintf(want + o, sizeof want - o, "%s%lld", d ? "," : "", (long long)pi->min[d])
                              : snprintf(want + o, sizeof want - o, "%s%lld..%lld", d ? "," : "",
                                         (long long)pi->min[d], (long long)pi->max[d]));
        if (o < sizeof want) snprintf(want + o, sizeof want - o, "]");
        return error_set(STRATA_INVALID_ARGUMENT, "input '%s': got shape %s, the plan accepts %s "
                         "(compile with --profile for other shapes)", v->name,
                         shape_describe(t->rank, t->dims, a, sizeof a), want);
    }
    return STRATA_OK;
}

/* Gives the step's output tensor t its storage: its arena slot, or scratch memory. */
static strata_status place_output(exec_state *e, const strata_plan *p, const ir_node *n, int id,
                                  strata_tensor *t, bool zero)
{
    int64_t slot = p->slot_of[id];
    if (dtype_is_container(t->dtype)) { /* a sequence/optional: its op builds it in the scratch */
        if (slot >= 0)
            return error_set(STRATA_INTERNAL, "node '%s' (%s): a sequence output has an arena slot",
                             n->name, n->op_type);
        return STRATA_OK;
    }
    strata_status st = tensor_set_shape(t, t->dtype, t->rank, t->dims);
    if (st != STRATA_OK) return error_prefix(st, "node '%s' (%s)", n->name, n->op_type);
    if (shape_numel(t->rank, t->dims) < 0)
        return error_set(STRATA_INTERNAL, "node '%s' (%s): output shape unknown at run time", n->name, n->op_type);
    const strata_tensor *b = e->bound[id];
    if (b && b->dtype == t->dtype && b->rank == t->rank &&
        memcmp(b->dims, t->dims, (size_t)t->rank * sizeof t->dims[0]) == 0) {
        t->data = b->data; /* the caller's output memory: no copy after the run */
    } else if (slot >= 0) {
        const plan_slot *s = &p->view->program.slots[slot];
        if (t->n_bytes > s->n_bytes)
            return error_set(STRATA_INVALID_ARGUMENT, "node '%s' (%s): output '%s' needs %zu bytes, "
                             "the plan sized it for %llu (inputs beyond the compiled profile?)",
                             n->name, n->op_type, s->name, t->n_bytes, (unsigned long long)s->n_bytes);
        t->data = e->arena + s->offset;
    } else {
        t->data = mem_alloc_aligned(t->n_bytes ? t->n_bytes : 1);
        if (!t->data)
            return error_set(STRATA_OUT_OF_MEMORY, "node '%s' (%s): out of memory", n->name, n->op_type);
    }
    if (zero) memset(t->data, 0, t->n_bytes); /* reference kernels expect zeroed outputs */
    t->free_fn = NULL;
    t->owns_strings = false;
    return STRATA_OK;
}

/* Stress check: garbage into every arena byte that no tensor live across step i (written
 * earlier, read at or after i) occupies. A memory plan that let two live tensors overlap, or a
 * kernel that reads memory it does not own, then changes the results. */
static void fill_free_arena(exec_state *e, const strata_plan *p, int i)
{
    const plan_program *prog = &p->view->program;
    uint64_t cursor = 0;
    for (;;) { /* walk live intervals in offset order without sorting: next start >= cursor */
        uint64_t next = prog->arena_bytes, next_end = prog->arena_bytes;
        bool covered = false;
        for (size_t s = 0; s < prog->n_slots; s++) {
            if (!(p->slot_first[s] < i && i <= p->slot_last[s])) continue;
            uint64_t a = prog->slots[s].offset, b = a + prog->slots[s].n_bytes;
            if (b <= cursor) continue;
            if (a <= cursor) { /* cursor sits inside a live slot: skip past it */
                covered = true;
                if (b > next_end || next != cursor) next_end = b;
                next = cursor;
                if (b > next_end) next_end = b;
            } else if (!covered && a < next) {
                next = a;
                next_end = b;
            }
        }
        if (next > cursor) memset(e->arena + cursor, 0xA5, next - cursor);
        if (next >= prog->arena_bytes) return;
        cursor = next_end > cursor ? next_end : cursor + 1;
    }
}

/* Records a step's time and bytes (profiling on). */
static void record(exec_state *e, size_t i, const ir_node *n, uint64_t t0, uint64_t run0)
{
    uint64_t rd = 0, wr = 0;
    for (size_t k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && e->cur[n->inputs[k]]) rd += e->cur[n->inputs[k]]->n_bytes;
    for (size_t k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0 && e->cur[n->outputs[k]]) wr += e->cur[n->outputs[k]]->n_bytes;
    e->step_ns[i] = clock_now_ns() - t0;
    e->step_start[i] = t0 - run0;
    e->step_read[i] = rd;
    e->step_written[i] = wr;
}

static strata_status run_steps(exec_state *e, const strata_plan *p)
{
    const ir_graph *g = p->view->model->graph;
    uint64_t run0 = e->step_ns ? clock_now_ns() : 0;
    const strata_tensor *in_buf[64];
    strata_tensor *out_buf[64];
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (e->stress_arena) fill_free_arena(e, p, (int)i);
        uint64_t t0 = e->step_ns ? clock_now_ns() : 0;
        if (n->n_inputs > 64 || n->n_outputs > 64)
            return error_set(STRATA_UNSUPPORTED, "node '%s' (%s): more than 64 inputs or outputs",
                             n->name, n->op_type);
        for (size_t k = 0; k < n->n_inputs; k++) {
            int id = n->inputs[k];
            in_buf[k] = id >= 0 ? e->cur[id] : NULL;
            if (id >= 0 && !in_buf[k])
                return error_set(STRATA_INVALID_MODEL, "node '%s' (%s): input '%s' has no value",
                                 n->name, n->op_type, g->values[id].name);
        }
        if (!p->ops[i]) { /* control flow: subgraphs run by the reference interpreter */
            ir_scope scope = {g, e->cur, NULL, NULL};
            strata_status st = ir_eval_control(n, &scope, in_buf, out_buf);
            if (st != STRATA_OK) return st;
            for (size_t k = 0; k < n->n_outputs; k++)
                if (n->outputs[k] >= 0) e->cur[n->outputs[k]] = out_buf[k]; /* scratch memory */
            if (e->step_ns) record(e, i, n, t0, run0);
            continue;
        }
        /* the same input shapes as the last run: the views keep the output shapes it found */
        bool same_shapes = shape_memo_hit(&e->memo, i, in_buf, n->n_inputs);
        if (!same_shapes) shape_memo_forget(&e->memo, i);
        for (size_t k = 0; k < n->n_outputs; k++) {
            int id = n->outputs[k];
            out_buf[k] = NULL;
            if (id < 0) continue;
            if (!same_shapes) memset(&e->views[id], 0, sizeof e->views[id]);
            out_buf[k] = &e->views[id];
        }
        for (size_t k = n->n_outputs; k < 64; k++) out_buf[k] = NULL; /* read as absent */
        op_node on = {n->name, n->op_type, n->domain, p->opsets[i], n->attrs, n->n_attrs,
                      n->n_inputs, n->n_outputs};
        strata_status st = STRATA_OK;
        if (!same_shapes) {
            st = ref_op_check_values(p->ops[i], &on, in_buf);
            if (st == STRATA_OK) st = p->ops[i]->infer(&on, in_buf, out_buf);
            if (st == STRATA_NOT_FOUND)
                st = error_set(STRATA_INTERNAL, "node '%s' (%s): shape inference lacked a value", n->name, n->op_type);
            if (st != STRATA_OK) return st;
            shape_memo_store(&e->memo, i, in_buf, n->n_inputs);
        }
        const fast_kernel *fk = p->fast[i];
        for (size_t k = 0; k < n->n_outputs; k++) {
            if (!out_buf[k]) continue;
            if ((st = place_output(e, p, n, n->outputs[k], out_buf[k], false)) != STRATA_OK) return st;
            /* reference kernels expect zeroed outputs, unless the output shares an input's
             * memory (an in-place slot of the memory plan) */
            bool aliased = false;
            for (size_t j = 0; j < n->n_inputs; j++)
                if (in_buf[j] && in_buf[j]->data == out_buf[k]->data) aliased = true;
            if (!fk && !aliased && out_buf[k]->n_bytes) memset(out_buf[k]->data, 0, out_buf[k]->n_bytes);
        }
        if (fk) {
            kernel_ctx kc = {e->pool, e->n_threads};
            st = fk->run(fk, &on, in_buf, out_buf, &kc);
        } else {
            st = p->ops[i]->compute(&on, in_buf, out_buf);
        }
        if (st != STRATA_OK) return st;
        for (size_t k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) e->cur[n->outputs[k]] = out_buf[k];
        if (e->step_ns) record(e, i, n, t0, run0);
    }
    if (e->step_ns) e->run_ns = clock_now_ns() - run0;
    return STRATA_OK;
}

strata_status exec_run(exec_state *e, const strata_plan *p, const strata_tensor *const *feeds,
                       const strata_tensor **results)
{
    const ir_graph *g = p->view->model->graph;
    const plan_program *prog = &p->view->program;
    memset(e->cur, 0, g->n_values * sizeof *e->cur);
    for (size_t v = 0; v < g->n_values; v++)
        if (g->values[v].init) e->cur[v] = g->values[v].init;
    for (size_t i = 0; i < g->n_inputs; i++) {
        int id = g->inputs[i];
        const strata_tensor *t = feeds[i];
        if (!t) {
            if (g->values[id].init) continue;
            return error_set(STRATA_INVALID_ARGUMENT, "input '%s' was not given", g->values[id].name);
        }
        const plan_input *pi = NULL;
        for (size_t k = 0; k < prog->n_inputs; k++)
            if (strcmp(prog->inputs[k].name, g->values[id].name) == 0) pi = &prog->inputs[k];
        strata_status st = check_feed(pi, &g->values[id], t);
        if (st != STRATA_OK) return st;
        e->cur[id] = (strata_tensor *)t; /* zero-copy: kernels only read inputs */
    }
    scratch_begin(&e->scratch);
    strata_status st = run_steps(e, p);
    scratch_end();
    e->last_allocations = e->scratch.n_fallback;
    for (size_t o = 0; st == STRATA_OK && o < g->n_outputs; o++) {
        results[o] = e->cur[g->outputs[o]];
        if (!results[o])
            st = error_set(STRATA_INVALID_MODEL, "graph output '%s' was not computed",
                           g->values[g->outputs[o]].name);
    }
    return st;
}

strata_status exec_grow(exec_state *e)
{
    return scratch_reserve(&e->scratch);
}
