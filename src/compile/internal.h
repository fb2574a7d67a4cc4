/* compile/internal.h — what the compile layer's files share: the pass signature and the
 * helpers passes use to look at nodes. Not included from outside src/compile. */
#ifndef STRATA_COMPILE_INTERNAL_H
#define STRATA_COMPILE_INTERNAL_H

#include "compile.h"

/* A pass rewrites g in place and counts what it changed. */
typedef strata_status (*pass_fn)(ir_model *m, ir_graph *g, const compile_options *o,
                                 int *n_changed);

#define PASS(name, text) strata_status pass_##name(ir_model *m, ir_graph *g, \
                                                   const compile_options *o, int *n_changed);
#include "passes.def"
#undef PASS

/* The node (index) that produces value id, or -1. Requires verified producers. */
int node_producer(const ir_graph *g, int id);
/* True when node n is op_type in the default ONNX domain. */
bool node_is(const ir_node *n, const char *op_type);
/* The initializer of value id (not overridable by a graph input), or NULL. */
const strata_tensor *value_const(const ir_graph *g, int id);
/* The value's static shape is fully known. */
bool value_shape_known(const ir_value *v);
/* Makes the model import the com.strata domain (for fused ops). */
strata_status model_import_fused(ir_model *m);
/* Turns node n into the fused op op_type of com.strata (attributes kept). */
strata_status node_make_fused(ir_node *n, const char *op_type);

/* Forgets the inferred shapes of node outputs (before inferring with other input shapes). */
void graph_forget_shapes(ir_graph *g);

/* ---- tactics (tactic.c, timing_cache.c) ----------------------------------------------------- */

typedef struct timing_cache {
    const char *path;   /* file to read and append to, or NULL (in memory only) */
    char **keys;        /* "op|shapes|attrs|kernel|cpu" */
    uint64_t *ns;       /* measured median time per key */
    size_t n, cap;
    size_t n_new;       /* entries measured in this compile (the last n_new) */
} timing_cache;

strata_status timing_cache_load(timing_cache *c, const char *path);
bool timing_cache_get(const timing_cache *c, const char *key, uint64_t *ns);
strata_status timing_cache_put(timing_cache *c, const char *key, uint64_t ns, bool is_new);
strata_status timing_cache_save(const timing_cache *c);
void timing_cache_release(timing_cache *c);

/* Chooses the kernel of every node of g (shapes as inferred now) into p->kernels and sets
 * p->cpu_features. */
strata_status tactic_choose(const ir_model *m, const ir_graph *g, const compile_options *o, plan_program *p);

/* True when kernel k, chosen for node n, may write n's output into the memory of its input 3 (a
 * residual of exactly the output's static shape that no other slot of n reads): the kernel adds
 * it in its epilogue (fast_kernel.residual_in_place). Whether the residual dies at n is the
 * caller's part (lower.c: the memory plan; tactic.c: timing the kernel in place). */
struct fast_kernel;
bool residual_in_place_ok(const ir_graph *g, const ir_node *n, const struct fast_kernel *k);

/* ---- memory planning (memory_plan.c) ------------------------------------------------------ */

typedef struct mem_request {
    uint64_t n_bytes;   /* tensor size at the max shape */
    int first, last;    /* steps that write it first and read it last (inclusive) */
    uint64_t offset;    /* out: arena offset, 64-byte aligned */
} mem_request;

/* Places every request in one arena so that tensors alive at the same step never overlap. */
strata_status memory_plan(mem_request *r, size_t n, uint64_t *arena_bytes);

#endif
