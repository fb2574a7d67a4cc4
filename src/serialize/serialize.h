/* serialize/serialize.h — the serialize layer's interface: bytes ⇄ IR. The only layer that
 * parses file formats (ONNX protobuf, TensorProto .pb files, safetensors). .npy lives in core. */
#ifndef STRATA_SERIALIZE_H
#define STRATA_SERIALIZE_H

#include "ir/ir.h"

/* The public model object: an IR model plus what the API hands out. */
struct strata_model {
    ir_model *ir; /* owned */
};

/* Reads an ONNX ModelProto. The file is mapped; raw initializer bytes point into the mapping
 * (kept alive by the model). External data is resolved inside the model's folder only. The
 * graph is verified (ir_graph_verify) and shapes inferred before return. Errors say
 * file@offset and the field or tensor. */
strata_status onnx_read_model(const char *path, ir_model **out);
strata_status onnx_read_model_bytes(const void *bytes, size_t n_bytes, const char *name,
                                    ir_model **out);
/* Reads a serialized TensorProto (the backend tests' input_N.pb / output_N.pb). */
strata_status onnx_read_tensor_file(const char *path, strata_tensor **out);
strata_status onnx_read_tensor_bytes(const void *bytes, size_t n_bytes, const char *name,
                                     strata_tensor **out);
/* Reads a test-data value file: a TensorProto, or for kind VALUE_SEQUENCE / VALUE_OPTIONAL a
 * SequenceProto / OptionalProto (as the internal container dtypes of core.h). */
strata_status onnx_read_value_file(const char *path, int kind, strata_tensor **out);
/* Writes m as a ModelProto (all tensor data inline as raw_data). */
strata_status onnx_write_model(const ir_model *m, const char *path);
/* Same into a new heap buffer (mem_free it). */
strata_status onnx_write_model_bytes(const ir_model *m, uint8_t **out, size_t *n_out);
/* The external-data location that means "the weights section of the plan this graph is in". */
#define ONNX_PLAN_LOCATION "@strata-plan-weights"
/* The location of an initializer whose values a plan does not keep (its kernel reads a packed
 * form instead): the reader makes a tensor with dims and dtype and no data. Plans only. */
#define ONNX_SHAPE_ONLY_LOCATION "@strata-shape-only"
/* Writes m with every main-graph initializer as external data at ONNX_PLAN_LOCATION, at the
 * offset that place() chooses for it (and stores the bytes there). */
strata_status onnx_write_model_placed(const ir_model *m,
                                      strata_status (*place)(void *ctx, const strata_tensor *t,
                                                             uint64_t *offset),
                                      void *ctx, uint8_t **out, size_t *n_out);
/* Reads a ModelProto from bytes that stay alive as long as the model (no copy), resolving
 * external data at ONNX_PLAN_LOCATION into weights[0, n_weights) without copying (offsets must
 * keep each tensor aligned to its element size). name is used in messages. */
strata_status onnx_read_model_view(const uint8_t *bytes, size_t n_bytes, const char *name,
                                   const uint8_t *weights, size_t n_weights, ir_model **out);

/* ---- plan files (plan_write.c, plan_read.c; format in plan_format.h) ------------------------ */

typedef struct plan_slot {
    char *name;         /* value of the main graph */
    uint64_t offset;    /* in the activation arena */
    uint64_t n_bytes;   /* at the profile's max shapes */
} plan_slot;

typedef struct plan_input {
    char *name;                     /* graph input */
    int rank;
    int64_t min[STRATA_MAX_DIMS];   /* smallest extent accepted */
    int64_t max[STRATA_MAX_DIMS];   /* largest extent accepted (the arena is sized for it) */
    int64_t opt[STRATA_MAX_DIMS];   /* extent tactics were tuned for (compile time only; not stored) */
} plan_input;

/* What a plan says beyond its graph: kernels per step, the memory plan, the input profile. */
typedef struct plan_program {
    char **kernels;        /* per node of the main graph, in order: kernel name */
    size_t n_kernels;
    plan_slot *slots;      /* arena-backed values */
    size_t n_slots;
    plan_input *inputs;    /* accepted input shapes */
    size_t n_inputs;
    uint64_t arena_bytes;  /* activation arena size */
    uint32_t cpu_features; /* CPU_* bits the kernels need */
    uint64_t model_hash;   /* hash64 of the source model file */
    uint64_t options_hash; /* hash64 of the compile options */
} plan_program;

void plan_program_release(plan_program *p);

/* Writes the plan for the optimized model m with program p to path (atomically: a temporary
 * file renamed into place). The same inputs give the same bytes. */
strata_status plan_write(const char *path, const ir_model *m, const plan_program *p);

/* An open plan: the mapping, its model (weights point into the mapping) and program. */
typedef struct plan_view {
    mapped_file *file;     /* the mapped plan (owned) */
    ir_model *model;       /* the optimized graph (owned; borrows file's bytes) */
    plan_program program;  /* owned */
} plan_view;

/* Opens and validates a plan: magic, format version, sizes, hashes, and that this CPU has the
 * features the plan needs (PLAN_MISMATCH with what is missing). verify_weights == false skips
 * hashing the weights section (faster open; header and program are always checked). */
strata_status plan_read(const char *path, bool verify_weights, plan_view **out);
void plan_view_close(plan_view *v);
/* True when the file at path starts with the plan magic. */
bool plan_is_plan_file(const char *path);

/* Binds safetensors tensors to same-named initializers of m's main graph. */
strata_status safetensors_bind(ir_model *m, const char *path, size_t *n_bound);

#endif
