/* kernels/ref/ref_seq.h — private declarations of the sequence family of reference ops
 * (seq_*.c): sequence and optional values (STRATA_DTYPE_SEQUENCE / _OPTIONAL containers, see
 * core.h), the infer/compute pairs that list_seq.c puts in its table, and shared helpers. */
#ifndef STRATA_REF_SEQ_H
#define STRATA_REF_SEQ_H

#include "kernels/kernels.h"

#define SEQ_DECLARE_OP(name)                                                                  \
    strata_status name##_infer(const op_node *n, const strata_tensor *const *in,              \
                               strata_tensor *const *out);                                    \
    strata_status name##_compute(const op_node *n, const strata_tensor *const *in,            \
                                 strata_tensor *const *out)

/* seq_ops.c */
SEQ_DECLARE_OP(seq_construct);
SEQ_DECLARE_OP(seq_empty);
SEQ_DECLARE_OP(seq_at);
SEQ_DECLARE_OP(seq_insert);
SEQ_DECLARE_OP(seq_erase);
SEQ_DECLARE_OP(seq_length);
SEQ_DECLARE_OP(seq_identity);
/* seq_optional.c */
SEQ_DECLARE_OP(seq_optional);
SEQ_DECLARE_OP(seq_optional_has);
SEQ_DECLARE_OP(seq_optional_get);
/* seq_split.c */
SEQ_DECLARE_OP(seq_split);
SEQ_DECLARE_OP(seq_concat);

/* ---- helpers (seq_ops.c) ------------------------------------------------------------------ */

/* Input i as a SEQUENCE: error naming the node and what when absent or of another kind. */
strata_status seq_input(const op_node *n, const strata_tensor *const *in, size_t i,
                        const char *what, const strata_tensor **out);
/* Element i of a sequence (borrowed). */
const strata_tensor *seq_item(const strata_tensor *s, int64_t i);
/* The container output's static type: kind with length n (-1 when unknown). */
strata_status seq_out_type(strata_tensor *out, strata_dtype kind, int64_t n);
/* The output type of a copy of the value x (a container, or a tensor whose dims may be -1). */
strata_status seq_out_like(strata_tensor *out, const strata_tensor *x);
/* Fills out (an output with the shape of src, storage allocated) with src's elements. */
strata_status seq_copy_data(strata_tensor *out, const strata_tensor *src);
/* Makes out (no data) a deep copy of the value src: a tensor or a container. */
strata_status seq_copy_value(strata_tensor *out, const strata_tensor *src);
/* Reads an optional position input (scalar int32/int64) into *pos; *given false when absent. */
strata_status seq_position(const op_node *n, const strata_tensor *const *in, size_t i,
                           int64_t *pos, bool *given);

#endif
