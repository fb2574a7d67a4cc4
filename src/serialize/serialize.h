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
/* Writes m as a ModelProto (all tensor data inline as raw_data). */
strata_status onnx_write_model(const ir_model *m, const char *path);
/* Same into a new heap buffer (mem_free it). */
strata_status onnx_write_model_bytes(const ir_model *m, uint8_t **out, size_t *n_out);
/* Binds safetensors tensors to same-named initializers of m's main graph. */
strata_status safetensors_bind(ir_model *m, const char *path, size_t *n_bound);

#endif
