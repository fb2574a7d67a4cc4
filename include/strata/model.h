/* strata/model.h — a loaded model: read ONNX (+ safetensors weights), look at its interface,
 * write it back as ONNX. Loading maps the file; initializer bytes point into the mapping. */
#ifndef STRATA_MODEL_H
#define STRATA_MODEL_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_model strata_model;

/* ---- load and save -------------------------------------------------------------------------- */

/* Reads an ONNX ModelProto from path. External data is resolved inside the model's folder. */
STRATA_API strata_status strata_model_load(const char *path, strata_model **out);
/* Reads a ModelProto from memory; the bytes are copied. name is used in messages. */
STRATA_API strata_status strata_model_load_bytes(const void *bytes, size_t n_bytes,
                                                 const char *name, strata_model **out);
/* Binds the tensors of a safetensors file to initializers of the same name (dtype and shape
 * must match); n_bound (nullable) receives how many were bound. */
STRATA_API strata_status strata_model_bind_safetensors(strata_model *m, const char *path,
                                                       size_t *n_bound);
/* Writes the model as an ONNX ModelProto with all weights inline. */
STRATA_API strata_status strata_model_save(const strata_model *m, const char *path);
STRATA_API void strata_model_destroy(strata_model *m);

/* ---- interface (borrowed strings; live as long as the model) --------------------------------- */

typedef struct strata_value_info {
    const char *name;          /* tensor name */
    strata_dtype dtype;        /* element type; UNDEFINED when the model does not say */
    int rank;                  /* -1 when unknown */
    int64_t dims[STRATA_MAX_DIMS]; /* -1 for a symbolic or unknown dim */
    const char *dim_names[STRATA_MAX_DIMS]; /* symbolic dim names ("batch") or NULL */
} strata_value_info;

STRATA_API size_t strata_model_input_count(const strata_model *m);
STRATA_API size_t strata_model_output_count(const strata_model *m);
STRATA_API strata_status strata_model_input_info(const strata_model *m, size_t i,
                                                 strata_value_info *out);
STRATA_API strata_status strata_model_output_info(const strata_model *m, size_t i,
                                                  strata_value_info *out);

#ifdef __cplusplus
}
#endif
#endif
