/* compile/tactic.c — the kernel (tactic) for each node. heuristic: the highest-priority fast
 * kernel this CPU runs that supports the node, else the reference op. autotune: every
 * candidate (fast kernels of every ISA this CPU has, and the reference op) is timed on this
 * machine at the node's compile-time shapes (the median of five runs after a warm-up,
 * candidates taking turns) and the fastest kept; results go to the timing cache keyed by op,
 * shapes, dtypes, attributes, kernel and CPU. reference: reference ops only (portable plans,
 * the oracle). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "kernels/kernels.h"

#define MAX_IO 64
#define MAX_CANDIDATES 16

/* The static view of node n's inputs: dtype and shape, data for constants. */
static bool static_inputs(const ir_graph *g, const ir_node *n, strata_tensor *tin, const strata_tensor **pin)
{
    bool typed = true;
    for (size_t k = 0; k < n->n_inputs; k++) {
        pin[k] = NULL;
        int id = n->inputs[k];
        if (id < 0) continue;
        const ir_value *v = &g->values[id];
        memset(&tin[k], 0, sizeof tin[k]);
        tin[k].dtype = v->dtype;
        tin[k].rank = v->rank < 0 ? 0 : v->rank;
        memcpy(tin[k].dims, v->dims, sizeof v->dims);
        const strata_tensor *c = value_const(g, id);
        if (c) tin[k].data = c->data, tin[k].n_bytes = c->n_bytes;
        if (v->rank >= 0 && v->dtype != STRATA_DTYPE_UNDEFINED) pin[k] = &tin[k];
        else typed = false;
    }
    return typed;
}

static void ref_name(const ir_node *n, char *buf, size_t n_buf)
{
    snprintf(buf, n_buf, "%s%s%s__ref", n->domain, n->domain[0] ? "." : "", n->op_type);
}

/* "Op|float32[1,64,56,56],float32[64,64,3,3]|attrs=HASH|KERNEL|cpu=BITS|threads=T" */
static void cache_key(const ir_node *n, const strata_tensor *const *pin, const char *kernel, int n_threads, char *key,
                      size_t n_key)
{
    uint64_t h = 0;
    for (size_t a = 0; a < n->n_attrs; a++) {
        const attr *at = &n->attrs[a];
        h = hash64(at->name, strlen(at->name), h);
        h = hash64(&at->type, sizeof at->type, h);
        h = hash64(&at->i, sizeof at->i, h);
        h = hash64(&at->f, sizeof at->f, h);
        if (at->s) h = hash64(at->s, at->s_len, h);
        if (at->ints) h = hash64(at->ints, at->n * sizeof *at->ints, h);
        if (at->floats) h = hash64(at->floats, at->n * sizeof *at->floats, h);
    }
    size_t o = (size_t)snprintf(key, n_key, "%s%s%s|", n->domain, n->domain[0] ? "." : "", n->op_type);
    for (size_t k = 0; k < n->n_inputs && o < n_key; k++) {
        char d[160];
        o += (size_t)snprintf(key + o, n_key - o, "%s%s", k ? "," : "", pin[k] ? tensor_describe(pin[k], d, sizeof d) : "-");
    }
    if (o < n_key)
        snprintf(key + o, n_key - o, "|attrs=%016llx|%s|cpu=%x|threads=%d", (unsigned long long)h, kernel,
                 cpu_features(), n_threads);
}

/* One candidate under timing: its node as lowering will run it (with the packed weights
 * lowering would attach, built here with k->pack and passed the same way: an extra uint8 input
 * named by "packed_input", so a kernel whose unpacked path packs on every call is not charged
 * for it), its inputs, and what it measured so far. */
typedef struct trial {
    const fast_kernel *k;        /* NULL: the reference op */
    size_t cand;                 /* its index among the candidates (n_cands: the reference) */
    op_node node;
    attr attrs[65];
    const strata_tensor *in[MAX_IO];
    strata_tensor *packed;       /* the packed weights, or NULL */
    strata_tensor zview;         /* in place: the residual, read from the output's memory */
    const strata_tensor *z;      /* in place: the residual copied there before each run */
    uint64_t best, spent;        /* its time (median of its runs); time spent so far, warm-up included */
    bool failed;                 /* a run returned an error: not a candidate for these inputs */
    bool done;                   /* failed, or slow enough that the runs so far suffice */
    char key[1024];              /* its timing-cache key */
} trial;

/* Sets t up for kernel k (NULL: reference) on inputs in, outputs out. */
static void trial_prepare(trial *t, const fast_kernel *k, const op_node *on, const strata_tensor *const *in,
                          strata_tensor *const *out, bool in_place)
{
    t->k = k;
    t->node = *on;
    for (size_t i = 0; i < on->n_inputs && i < MAX_IO; i++) t->in[i] = in[i];
    t->best = UINT64_MAX;
    size_t bytes = k && k->packed_size && k->pack && on->n_inputs + 5 <= MAX_IO && on->n_attrs < 64
                       ? k->packed_size(k, on, in)
                       : 0;
    int64_t dims[1] = {(int64_t)bytes};
    if (bytes && strata_tensor_create(STRATA_DTYPE_U8, 1, dims, &t->packed) == STRATA_OK &&
        k->pack(k, on, in, t->packed->data) == STRATA_OK) {
        size_t n_in = on->n_inputs;
        while (n_in < 4) t->in[n_in++] = NULL; /* as lowering: the fused forms' optional inputs first */
        t->in[n_in++] = t->packed;
        memcpy(t->attrs, on->attrs, on->n_attrs * sizeof *t->attrs);
        memset(&t->attrs[on->n_attrs], 0, sizeof t->attrs[0]);
        t->attrs[on->n_attrs].name = (char *)"packed_input";
        t->attrs[on->n_attrs].type = ATTR_INT;
        t->attrs[on->n_attrs].i = (int64_t)n_in - 1;
        t->node.attrs = t->attrs;
        t->node.n_attrs = on->n_attrs + 1;
        t->node.n_inputs = n_in;
    } else { /* packs nothing, or packing failed: the plain node */
        strata_tensor_destroy(t->packed);
        t->packed = NULL;
    }
    if (in_place) { /* the memory plan will give the output its residual's memory */
        t->z = in[3];
        t->zview = *in[3];
        t->zview.data = out[0]->data;
        t->in[3] = &t->zview;
    }
}

/* One run of t; UINT64_MAX when it fails on these inputs. Before it every input but the first
 * (the weights, bias, packed form) leaves the caches: in a model the weights come from memory
 * while the activation was just written, and a kernel timed on hot weights wins where it would
 * lose in place (BERT-base: oneDNN's sgemm timed ahead of its brgemm on hot 768x768 weights,
 * 10% behind in the model). */
static uint64_t trial_run(trial *t, const op_def *ref, strata_tensor *const *out, const kernel_ctx *kc)
{
    if (t->z) memcpy(out[0]->data, t->z->data, out[0]->n_bytes);
    for (size_t i = 1; i < t->node.n_inputs; i++)
        if (t->in[i] && t->in[i]->data) cpu_flush_cache(t->in[i]->data, t->in[i]->n_bytes);
    /* and the activation into the caches, as the step before it left it: candidates take turns,
     * and a slow one (the reference op) run in between would otherwise leave it cold for the
     * next (MobileNetV2's first block: the AVX-512 row, run after the reference, timed 0.91 ms
     * against 0.71 in the model, and lost to the AVX2 row) */
    if (t->node.n_inputs > 0 && t->in[0] && t->in[0]->data) cpu_touch(t->in[0]->data, t->in[0]->n_bytes);
    uint64_t t0 = clock_now_ns();
    strata_status st = t->k ? t->k->run(t->k, &t->node, t->in, out, kc) : ref->compute(&t->node, t->in, out);
    uint64_t dt = clock_now_ns() - t0;
    return st == STRATA_OK ? dt : UINT64_MAX;
}

/* Times the trials together (n <= MAX_CANDIDATES + 1): a warm-up run each, then rounds in which
 * every trial runs once; each one's time is the median of its runs. Interleaved, a burst of load
 * from elsewhere on a shared machine slows every candidate of a round instead of the one that
 * happened to be running (timed one after another, candidates were misranked by 20-30% here). */
static void trials_time(trial *ts, size_t n, const op_def *ref, strata_tensor *const *out, thread_pool *pool,
                        int n_threads)
{
    enum { ROUNDS = 5 };
    const uint64_t slow_ns = 200000000ull; /* past this, the runs a candidate had suffice */
    kernel_ctx kc = {pool, n_threads};
    uint64_t fastest = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t dt = trial_run(&ts[i], ref, out, &kc);
        ts[i].failed = ts[i].done = dt == UINT64_MAX;
        ts[i].spent = ts[i].done ? 0 : dt;
        if (dt < fastest) fastest = dt;
    }
    uint64_t runs[MAX_CANDIDATES + 1][ROUNDS];
    int n_runs[MAX_CANDIDATES + 1] = {0};
    /* a candidate 4x slower than the fastest warm-up cannot win: one timed run, now, so that it
     * does not sweep the caches between the others' runs */
    for (size_t i = 0; i < n; i++) {
        if (ts[i].done || ts[i].spent / 4 <= fastest) continue;
        uint64_t dt = trial_run(&ts[i], ref, out, &kc);
        if (dt == UINT64_MAX) ts[i].failed = true;
        else runs[i][n_runs[i]++] = dt;
        ts[i].done = true;
    }
    for (int r = 0; r < ROUNDS; r++)
        for (size_t i = 0; i < n; i++) {
            trial *t = &ts[i];
            if (t->done) continue;
            uint64_t dt = trial_run(t, ref, out, &kc);
            if (dt == UINT64_MAX) {
                t->failed = t->done = true;
                continue;
            }
            runs[i][n_runs[i]++] = dt;
            t->spent += dt;
            if (t->spent > slow_ns) t->done = true;
        }
    for (size_t i = 0; i < n; i++) { /* the median of its runs */
        uint64_t *v = runs[i];
        for (int a = 1; a < n_runs[i]; a++)
            for (int b = a; b > 0 && v[b] < v[b - 1]; b--) {
                uint64_t x = v[b];
                v[b] = v[b - 1];
                v[b - 1] = x;
            }
        ts[i].best = ts[i].failed || !n_runs[i] ? UINT64_MAX : v[n_runs[i] / 2];
    }
}

/* Keeps the first of rows that share a name (one kernel listed again at a higher priority for
 * the shapes it won: timing it twice would only cost time); keeps order. */
static size_t drop_repeated_names(const fast_kernel **cands, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++) seen = strcmp(cands[j]->name, cands[i]->name) == 0;
        if (!seen) cands[kept++] = cands[i];
    }
    return kept;
}

/* Drops the rows the plan's precision does not allow (bf16 rows in an fp32 plan); keeps order. */
static size_t keep_precision(const fast_kernel **cands, size_t n, compile_precision precision)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (precision == PRECISION_BF16 || !fast_kernel_is_bf16(cands[i])) cands[kept++] = cands[i];
    return kept;
}

/* last[v]: the last step that reads value v (g->n_nodes for graph outputs, -1 for none); or NULL
 * when out of memory. Subgraphs' reads of outer values are not counted: the memory plan may then
 * alias less than the tuner assumed, never more. */
static int *last_readers(const ir_graph *g)
{
    int *last = mem_calloc(g->n_values + 1, sizeof *last);
    if (!last) return NULL;
    for (size_t v = 0; v < g->n_values; v++) last[v] = -1;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j] >= 0) last[g->nodes[i].inputs[j]] = (int)i;
    for (size_t o = 0; o < g->n_outputs; o++) last[g->outputs[o]] = (int)g->n_nodes;
    return last;
}

/* Autotunes node n: returns the chosen fast kernel, or NULL for the reference op. */
static strata_status autotune(const ir_graph *g, const ir_node *n, const op_node *on, const strata_tensor *const *pin,
                              const fast_kernel **cands, size_t n_cands, timing_cache *tc, thread_pool *pool,
                              int n_threads, bool residual_dies, const fast_kernel **choice)
{
    *choice = n_cands ? cands[0] : NULL;
    const op_def *ref = ref_op_find(n->domain, n->op_type, on->opset);
    if (!ref || n->n_outputs > MAX_IO) return STRATA_OK;
    for (size_t k = 0; k < n->n_inputs; k++) /* concrete shapes needed */
        if (pin[k] && shape_numel(pin[k]->rank, pin[k]->dims) < 0) return STRATA_OK;
    strata_tensor *inputs[MAX_IO] = {NULL}, *outs[MAX_IO] = {NULL};
    const strata_tensor *in[MAX_IO];
    strata_status st = STRATA_OK;
    uint64_t seed = 1;
    for (size_t k = 0; k < n->n_inputs; k++) {
        in[k] = pin[k];
        if (!pin[k] || pin[k]->data) continue; /* absent, or a constant */
        if ((st = strata_tensor_create(pin[k]->dtype, pin[k]->rank, pin[k]->dims, &inputs[k])) != STRATA_OK) goto done;
        for (int64_t e = 0; e < strata_tensor_numel(inputs[k]); e++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            tensor_set_f64(inputs[k], e, (double)((seed >> 40) % 1000) / 1000.0);
        }
        in[k] = inputs[k];
    }
    for (size_t j = 0; j < n->n_outputs; j++) {
        if (n->outputs[j] < 0) continue;
        if (!(outs[j] = mem_calloc(1, sizeof(strata_tensor)))) {
            st = error_set(STRATA_OUT_OF_MEMORY, "autotune: out of memory");
            goto done;
        }
    }
    if (ref->infer(on, in, outs) != STRATA_OK) goto done; /* leave the heuristic choice */
    for (size_t j = 0; j < n->n_outputs; j++)
        if (outs[j] && (st = tensor_alloc_data(outs[j])) != STRATA_OK) goto done;
    trial *ts = mem_calloc(n_cands + 1, sizeof *ts);
    if (!ts) {
        st = error_set(STRATA_OUT_OF_MEMORY, "autotune: out of memory");
        goto done;
    }
    size_t n_ts = 0;
    uint64_t ns_of[MAX_CANDIDATES + 1];
    for (size_t c = 0; c <= n_cands; c++) {
        const fast_kernel *k = c < n_cands ? cands[c] : NULL;
        char name[300], key[1024];
        if (k) snprintf(name, sizeof name, "%s", k->name);
        else ref_name(n, name, sizeof name);
        cache_key(n, pin, name, n_threads, key, sizeof key);
        /* timed as lowering will run it: in place where the memory plan will alias */
        bool in_place = residual_dies && residual_in_place_ok(g, n, k) && in[3] && in[3]->data && outs[0];
        if (in_place && strlen(key) + 9 < sizeof key) strcat(key, "|inplace");
        ns_of[c] = UINT64_MAX;
        if (timing_cache_get(tc, key, &ns_of[c])) continue;
        trial_prepare(&ts[n_ts], k, on, in, outs, in_place);
        ts[n_ts].cand = c;
        memcpy(ts[n_ts].key, key, sizeof key);
        n_ts++;
    }
    trials_time(ts, n_ts, ref, outs, pool, n_threads);
    for (size_t i = 0; i < n_ts; i++) {
        ns_of[ts[i].cand] = ts[i].best;
        if (st == STRATA_OK) st = timing_cache_put(tc, ts[i].key, ts[i].best, true);
        strata_tensor_destroy(ts[i].packed);
    }
    mem_free(ts);
    if (st != STRATA_OK) goto done;
    uint64_t best_ns = UINT64_MAX;
    for (size_t c = 0; c <= n_cands; c++)
        if (ns_of[c] < best_ns) {
            best_ns = ns_of[c];
            *choice = c < n_cands ? cands[c] : NULL;
        }
done:
    for (size_t k = 0; k < MAX_IO; k++) {
        strata_tensor_destroy(inputs[k]);
        strata_tensor_destroy(outs[k]);
    }
    return st;
}

strata_status tactic_choose(const ir_model *m, const ir_graph *g, const compile_options *o, plan_program *p)
{
    p->kernels = mem_calloc(g->n_nodes + 1, sizeof *p->kernels);
    if (!p->kernels) return error_set(STRATA_OUT_OF_MEMORY, "tactics: out of memory");
    p->cpu_features = 0;
    compile_tactics mode = o ? o->tactics : TACTICS_HEURISTIC;
    timing_cache tc;
    thread_pool *pool = NULL;
    int n_threads = o && o->n_threads > 0 ? o->n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    strata_status st = timing_cache_load(&tc, mode == TACTICS_AUTOTUNE && o ? o->timing_cache : NULL);
    if (st != STRATA_OK) return st;
    /* where a residual dies, for timing the kernels that would take its memory in place */
    int *last = mode == TACTICS_AUTOTUNE ? last_readers(g) : NULL;
    if (mode == TACTICS_AUTOTUNE && !last) {
        timing_cache_release(&tc);
        return error_set(STRATA_OUT_OF_MEMORY, "tactics: out of memory");
    }
    if (mode == TACTICS_AUTOTUNE && n_threads > 1 && (st = thread_pool_create(n_threads, &pool)) != STRATA_OK) {
        timing_cache_release(&tc);
        mem_free(last);
        return st;
    }
    strata_tensor tin[MAX_IO];
    const strata_tensor *pin[MAX_IO];
    for (size_t i = 0; i < g->n_nodes && st == STRATA_OK; i++) {
        const ir_node *n = &g->nodes[i];
        char name[300];
        ref_name(n, name, sizeof name);
        if (mode != TACTICS_REFERENCE && n->n_inputs <= MAX_IO && static_inputs(g, n, tin, pin)) {
            int64_t opset = ir_model_opset(m, n->domain);
            op_node on = {n->name, n->op_type, n->domain, (int)opset, n->attrs, n->n_attrs, n->n_inputs, n->n_outputs};
            const fast_kernel *cands[MAX_CANDIDATES];
            size_t n_cands = fast_kernel_candidates(&on, pin, cands, MAX_CANDIDATES);
            n_cands = keep_precision(cands, n_cands, o ? o->precision : PRECISION_FP32);
            n_cands = drop_repeated_names(cands, n_cands);
            const fast_kernel *k = n_cands ? cands[0] : NULL;
            if (mode == TACTICS_AUTOTUNE && n_cands > 0)
                st = autotune(g, n, &on, pin, cands, n_cands, &tc, pool, n_threads,
                              last && n->n_inputs > 3 && n->inputs[3] >= 0 && !g->values[n->inputs[3]].init &&
                                  last[n->inputs[3]] == (int)i,
                              &k);
            if (k) {
                snprintf(name, sizeof name, "%s", k->name);
                p->cpu_features |= k->isa;
            }
        }
        if (st != STRATA_OK) break;
        p->kernels[i] = mem_strdup(name);
        if (!p->kernels[i]) st = error_set(STRATA_OUT_OF_MEMORY, "tactics: out of memory");
        else p->n_kernels++;
    }
    if (st == STRATA_OK) st = timing_cache_save(&tc);
    timing_cache_release(&tc);
    thread_pool_destroy(pool);
    mem_free(last);
    return st;
}
