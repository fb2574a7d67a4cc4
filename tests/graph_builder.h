/* tests/graph_builder.h — building small graphs with the IR API for compiler tests, and
 * checking that compile_optimize keeps what a graph computes (reference interpreter on both). */
#ifndef STRATA_TEST_GRAPH_BUILDER_H
#define STRATA_TEST_GRAPH_BUILDER_H

#include "compile/compile.h"
#include "test.h"

typedef struct builder {
    ir_model *m; /* owned: ir_model_destroy(b.m) at the end */
    ir_graph *g; /* b.m's main graph */
} builder;

/* An empty model importing the default domain at opset. */
void b_init(builder *b, int64_t opset);
/* A float32 graph input of the given shape; returns its value id. */
int b_input(builder *b, const char *name, int rank, const int64_t *dims);
/* A float32 initializer holding vals (numel of dims floats); returns its value id. */
int b_const(builder *b, const char *name, int rank, const int64_t *dims, const float *vals);
int b_scalar(builder *b, const char *name, float v);
/* A node op(in[0..n_in)) of the default domain with one output named out; returns its id. */
int b_node(builder *b, const char *op, const char *out, int n_in, const int *in);
ir_node *last_node(builder *b);
/* A float32 tensor of uniform values in [-2, 2) from seed (caller destroys). */
strata_tensor *random_tensor(int rank, const int64_t *dims, unsigned seed);
/* Runs the graph on xs before and after compile_optimize, expects outputs within tol, and
 * returns the optimized graph's node count. */
size_t optimize_and_compare_n(builder *b, strata_tensor **xs, size_t n_x, double tol);

#endif
