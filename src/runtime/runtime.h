/* runtime/runtime.h — the runtime layer's shared structs: a plan with its resolved kernels, and
 * sessions that run either a plan (arena + scratch, executor.c) or a model through the
 * reference interpreter. */
#ifndef STRATA_RUNTIME_INTERNAL_H
#define STRATA_RUNTIME_INTERNAL_H

#include "kernels/kernels.h"
#include "serialize/serialize.h"

struct strata_plan {
    plan_view *view;          /* mapping, optimized model, program (owned) */
    strata_model model;       /* public wrapper of view->model (not owned separately) */
    const op_def **ops;       /* per step: the reference op (shape inference; the kernel when
                                 fast[i] is NULL), or NULL for control flow */
    const fast_kernel **fast; /* per step: the fast kernel the plan chose, or NULL */
    int *opsets;              /* per step: opset of the node's domain */
    int64_t *slot_of;         /* per value of the main graph: slot index or -1 */
    int *slot_first;          /* per slot: step that writes it */
    int *slot_last;           /* per slot: last step that reads it (n_steps: a graph output) */
};

/* Per step, the input shapes its last shape inference saw (shape_memo.c): a run at the same
 * shapes keeps the step's output shapes instead of inferring them again. */
enum { SHAPE_MEMO_NEVER = 0, SHAPE_MEMO_EMPTY = 1, SHAPE_MEMO_HELD = 2 };
typedef struct shape_memo {
    size_t n_steps;
    uint8_t *state;           /* per step: NEVER (infers every run), EMPTY, HELD */
    size_t *first;            /* per step: its first entry in seen */
    int64_t *seen;            /* per step and input: dtype, rank, dims */
} shape_memo;
strata_status shape_memo_init(shape_memo *m, const strata_plan *p);
void shape_memo_release(shape_memo *m);
/* The inputs have the shapes of the step's last inference (which the output views still hold). */
bool shape_memo_hit(const shape_memo *m, size_t step, const strata_tensor *const *in, size_t n_in);
/* Before a step infers: its views are about to change. */
void shape_memo_forget(shape_memo *m, size_t step);
/* After a step inferred from these inputs. */
void shape_memo_store(shape_memo *m, size_t step, const strata_tensor *const *in, size_t n_in);

/* Per-session state of the executor. */
typedef struct exec_state {
    uint8_t *arena;           /* activation arena (plan's arena bytes, 64-byte aligned) */
    strata_tensor *views;     /* per value: the tensor struct the step writes */
    strata_tensor **cur;      /* per value: the tensor holding its value in this run */
    strata_tensor **bound;    /* per value: caller tensor to write this graph output into
                                 directly (zero-copy outputs), or NULL; set per run */
    scratch_arena scratch;    /* kernel scratch and run-time sized values */
    thread_pool *pool;        /* the session's threads for fast kernels (NULL: one thread) */
    int n_threads;            /* size of pool */
    size_t last_allocations;  /* heap allocations the last run made */
    bool stress_arena;        /* STRATA_STRESS_ARENA: garbage in free arena regions each step */
    uint64_t *step_ns;        /* per step: time of the last run, or NULL (profiling off) */
    uint64_t *step_start;     /* per step: start relative to the run, when profiling */
    uint64_t *step_read, *step_written; /* per step: bytes in and out, when profiling */
    uint64_t run_ns;          /* the last run's time, when profiling */
    shape_memo memo;          /* shapes of the last run, per step */
} exec_state;

/* The session's worker for asynchronous runs (async_run.c). */
typedef struct async_worker async_worker;
void async_worker_destroy(async_worker *w);

struct strata_session {
    async_worker *worker;          /* started by the first strata_session_run_async, or NULL */
    const strata_model *model;     /* reference path: borrowed model, or NULL */
    const strata_plan *plan;       /* plan path: borrowed plan, or NULL */
    strata_session_options opts;   /* as given (defaults filled) */
    const strata_tensor **feeds;   /* per graph input: scratch for one run */
    strata_tensor **results;       /* per graph output: scratch for one run */
    exec_state exec;               /* plan path only */
};

/* executor.c */
strata_status exec_init(exec_state *e, const strata_plan *p, int n_threads);
void exec_release(exec_state *e);
/* Runs the plan on feeds (per graph input, in order; NULL = absent); results[j] point at the
 * graph outputs' tensors inside the session (valid until the next run). */
strata_status exec_run(exec_state *e, const strata_plan *p, const strata_tensor *const *feeds,
                       const strata_tensor **results);
/* After the results were copied out: grows the scratch to what the run needed, so the next run
 * at this shape allocates nothing (results from exec_run are invalid afterwards). */
strata_status exec_grow(exec_state *e);

#endif
