/* ir/ir.h — the graph IR shared by serialize, optimize, compile and runtime: values (tensors
 * with dtype and shape, symbolic dims kept by name), nodes with attributes, initializers,
 * subgraphs, opset imports and metadata; plus verification, shape inference and the reference
 * interpreter (eval). */
#ifndef STRATA_IR_H
#define STRATA_IR_H

#include "core/core.h"

typedef enum value_kind {
    VALUE_TENSOR = 0,   /* a tensor (the only kind the kernels run) */
    VALUE_SEQUENCE = 1, /* sequence<tensor>: type kept, not executed yet */
    VALUE_MAP = 2,
    VALUE_OPTIONAL = 3,
    VALUE_SPARSE = 4,
    VALUE_UNKNOWN = 5   /* no type information */
} value_kind;

/* A named value of a graph: graph input, initializer, node output or outer-scope reference. */
typedef struct ir_value {
    char *name;                        /* unique within its graph; "" never used */
    value_kind kind;                   /* tensor, sequence, ... */
    strata_dtype dtype;                /* element type (UNDEFINED when unknown) */
    int rank;                          /* -1 when the rank is unknown */
    int64_t dims[STRATA_MAX_DIMS];     /* -1 for unknown/symbolic */
    char *dim_names[STRATA_MAX_DIMS];  /* symbolic name ("batch") or NULL; owned */
    strata_tensor *init;               /* initializer value (owned), or NULL */
    int producer;                      /* index of the producing node, -1 if none */
    bool is_outer;                     /* refers to a value of an enclosing graph by name */
    char *doc_string;                  /* or NULL; owned */
} ir_value;

typedef struct ir_node {
    char *name;        /* node name, "" when the model gave none; owned */
    char *op_type;     /* owned */
    char *domain;      /* "" for ai.onnx; owned */
    int *inputs;       /* value ids; -1 for an absent optional input (empty name) */
    size_t n_inputs;
    int *outputs;      /* value ids; -1 for an absent optional output */
    size_t n_outputs;
    attr *attrs;       /* owned; GRAPH attributes hold ir_graph * */
    size_t n_attrs;
    char *doc_string;  /* or NULL; owned */
    bool dead;         /* removed by a pass; dropped by ir_graph_compact */
} ir_node;

typedef struct ir_opset {
    char *domain;      /* "" for ai.onnx */
    int64_t version;
} ir_opset;

typedef struct ir_graph ir_graph;
struct ir_graph {
    char *name;           /* graph name (may be "") */
    ir_value *values;     /* every value of this graph */
    size_t n_values, cap_values;
    ir_node *nodes;       /* in file order until ir_graph_sort_topo */
    size_t n_nodes, cap_nodes;
    int *inputs;          /* value ids of the graph inputs (may include initializers) */
    size_t n_inputs;
    int *outputs;         /* value ids of the graph outputs */
    size_t n_outputs;
    ir_graph *parent;     /* enclosing graph for subgraphs, NULL at top */
    const struct ir_model *model; /* the model, for opset lookup */
    char *doc_string;
    /* name → value id hash table (open addressing, power-of-two capacity) */
    int *index;
    size_t n_index;
};

typedef struct ir_metadata {
    char *key, *value;
} ir_metadata;

typedef struct ir_model {
    int64_t ir_version;
    ir_opset *opsets;          /* opset_import */
    size_t n_opsets;
    char *producer_name, *producer_version, *domain, *doc_string; /* may be NULL */
    int64_t model_version;
    ir_metadata *metadata;     /* metadata_props */
    size_t n_metadata;
    ir_graph *graph;           /* the main graph */
    mapped_file *file;         /* keeps initializer bytes alive (zero-copy); may be NULL */
    mapped_file **extra_files; /* mapped external-data files (owned), kept alive likewise */
    size_t n_extra_files;
    char *path;                /* the file it came from, for messages; may be NULL */
} ir_model;

/* ---- construction (graph.c) ---------------------------------------------------------------- */

ir_model *ir_model_create(void);                /* NULL when out of memory */
void ir_model_destroy(ir_model *m);             /* also closes m->file */
ir_graph *ir_graph_create(ir_graph *parent, const ir_model *model);
void ir_graph_destroy(ir_graph *g);
void ir_graph_free_fn(void *g);                 /* for attr_release */

/* Id of the value called name in g (not its parents), or -1. */
int ir_graph_find(const ir_graph *g, const char *name);
/* Id of the value called name, adding an empty one (kind TENSOR, rank -1) when absent. */
strata_status ir_graph_value(ir_graph *g, const char *name, int *id_out);
/* Appends a node; its arrays are zeroed and owned by the graph. Returns the new index; the
 * pointer is valid until the next append. */
strata_status ir_graph_add_node(ir_graph *g, const char *op_type, const char *domain,
                                const char *name, size_t n_inputs, size_t n_outputs,
                                size_t n_attrs, int *index_out);
strata_status ir_graph_add_input(ir_graph *g, int value_id);
strata_status ir_graph_add_output(ir_graph *g, int value_id);

/* Opset version the model imports for domain ("" = ai.onnx), or -1. */
int64_t ir_model_opset(const ir_model *m, const char *domain);

/* ---- rewriting (rewrite.c): what the compiler's passes use ---------------------------------- */

/* Number of readers of each value id of g (node inputs, graph outputs, and outer references from
 * subgraphs at any depth) into counts[g->n_values]. */
void ir_graph_count_uses(const ir_graph *g, int *counts);
/* Makes every reader of value old_id (node inputs; not graph outputs) read new_id instead. */
void ir_graph_replace_uses(ir_graph *g, int old_id, int new_id);
/* True when value id is one of g's outputs. */
bool ir_graph_is_output(const ir_graph *g, int id);
bool ir_graph_is_input(const ir_graph *g, int id);
/* Drops dead nodes (releasing what they own) and re-sorts; then ir_graph_verify. */
strata_status ir_graph_compact(ir_graph *g);
/* Adds an initializer value named after base (made unique) holding t (adopted, also on
 * failure). */
strata_status ir_graph_add_initializer(ir_graph *g, const char *base, strata_tensor *t,
                                       int *id_out);
/* Sets attribute name of node n to an INT / FLOAT / STRING / INTS value (replacing any). */
strata_status ir_node_set_int(ir_node *n, const char *name, int64_t v);
strata_status ir_node_set_float(ir_node *n, const char *name, float v);
strata_status ir_node_set_string(ir_node *n, const char *name, const char *v);
strata_status ir_node_set_ints(ir_node *n, const char *name, const int64_t *v, size_t count);
/* Appends an input (value id) to node n. */
strata_status ir_node_add_input(ir_node *n, int id);

/* ---- checks and order (verify.c) ----------------------------------------------------------- */

/* Sets producers, sorts nodes topologically (stable), rejects cycles, values with two producers,
 * node inputs that nothing defines (after marking outer-scope references in subgraphs), and
 * subgraph nesting beyond STRATA_MAX_SUBGRAPH_DEPTH. Messages name graph, node and value. */
strata_status ir_graph_verify(ir_graph *g, const char *source);

/* ---- shape inference (shape_infer.c) ------------------------------------------------------- */

/* Fills dtype/rank/dims of node outputs from the reference ops' infer functions, using
 * initializer values where an op needs them. Unknown stays unknown; never fails on an
 * unsupported op (leaves its outputs unknown); fails on an inconsistency with a message. */
strata_status ir_graph_infer_shapes(ir_graph *g);

/* ---- reference interpreter (eval.c) -------------------------------------------------------- */

typedef struct ir_eval_options {
    int n_threads;         /* reserved; the reference interpreter is single-threaded */
} ir_eval_options;

/* Runs graph g with reference kernels. inputs[i] binds g's input i (borrowed; NULL leaves an
 * input with an initializer at its default). outputs[j] receive new tensors for g's outputs in
 * order (caller destroys). For subgraphs, outer is a lookup of enclosing values. */
typedef struct ir_scope ir_scope;
struct ir_scope {
    const ir_graph *g;        /* the graph whose values these are */
    strata_tensor **vals;     /* value id → current tensor, or NULL */
    bool *owned;              /* value id → vals[id] is ours to destroy (NULL: none owned) */
    const ir_scope *parent;   /* enclosing scope for outer references */
};
strata_status ir_eval(const ir_graph *g, const ir_scope *outer, const strata_tensor *const *inputs,
                      size_t n_inputs, strata_tensor **outputs, size_t n_outputs);

/* Runs one control-flow node (If, Loop, Scan, SequenceMap) of scope->g whose input tensors are in; its
 * subgraphs see the values of scope (and its parents). out[j] receive new tensors. */
strata_status ir_eval_control(const ir_node *n, const ir_scope *scope,
                              const strata_tensor *const *in, strata_tensor **out);
/* True for the ops ir_eval_control runs. */
bool ir_is_control_op(const ir_node *n);

#endif
