/* kernels/ref/seq_ops.c — reference ops over sequence values: SequenceConstruct, SequenceEmpty,
 * SequenceAt, SequenceInsert, SequenceErase, SequenceLength, and Identity (opset 14+, which
 * passes tensors, sequences and optionals through); plus the family's shared helpers. A
 * container output gets only its type from infer; compute allocates it (tensor_alloc_container)
 * and fills it with copies, so every container owns its elements. */
#include <string.h>

#include "ref_seq.h"

/* ---- helpers ------------------------------------------------------------------------------ */

strata_status seq_input(const op_node *n, const strata_tensor *const *in, size_t i,
                        const char *what, const strata_tensor **out)
{
    const strata_tensor *s = op_input(n, in, i);
    if (!s) return op_error(n, STRATA_INVALID_MODEL, "missing input %zu (%s)", i, what);
    if (s->dtype != STRATA_DTYPE_SEQUENCE)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input %zu (%s) must be a sequence, got %s",
                        i, what, strata_dtype_name(s->dtype));
    *out = s;
    return STRATA_OK;
}

const strata_tensor *seq_item(const strata_tensor *s, int64_t i)
{
    return ((strata_tensor *const *)s->data)[i];
}

strata_status seq_out_type(strata_tensor *out, strata_dtype kind, int64_t n)
{
    if (!out) return STRATA_OK;
    memset(out->dims, 0, sizeof out->dims);
    out->dtype = kind;
    out->rank = 1;
    out->dims[0] = n;
    out->n_bytes = 0;
    return STRATA_OK;
}

strata_status seq_out_like(strata_tensor *out, const strata_tensor *x)
{
    if (!out) return STRATA_OK;
    if (dtype_is_container(x->dtype)) return seq_out_type(out, x->dtype, x->dims[0]);
    /* static inference may see unknown (-1) dims: keep them */
    out->dtype = x->dtype;
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof x->dims);
    int64_t ne = shape_numel(x->rank, x->dims);
    out->n_bytes = ne < 0 ? 0 : (size_t)ne * strata_dtype_size(x->dtype);
    return STRATA_OK;
}

strata_status seq_copy_data(strata_tensor *out, const strata_tensor *src)
{
    int64_t ne = shape_numel(src->rank, src->dims);
    if (ne != shape_numel(out->rank, out->dims) || out->dtype != src->dtype)
        return error_set(STRATA_INTERNAL, "sequence: element copy between different shapes");
    if (src->dtype == STRATA_DTYPE_STRING) {
        char **d = out->data;
        char *const *s = src->data;
        for (int64_t i = 0; i < ne; i++) {
            char *c = mem_strdup(s[i] ? s[i] : "");
            if (!c) return error_set(STRATA_OUT_OF_MEMORY, "sequence: out of memory copying strings");
            mem_free(d[i]);
            d[i] = c;
        }
        return STRATA_OK;
    }
    if (src->n_bytes) memcpy(out->data, src->data, src->n_bytes);
    return STRATA_OK;
}

strata_status seq_copy_value(strata_tensor *out, const strata_tensor *src)
{
    if (!dtype_is_container(src->dtype)) {
        strata_status st = tensor_set_shape(out, src->dtype, src->rank, src->dims);
        if (st == STRATA_OK) st = tensor_alloc_data(out);
        if (st == STRATA_OK) st = seq_copy_data(out, src);
        return st;
    }
    strata_status st = tensor_alloc_container(out, src->dtype, src->dims[0]);
    strata_tensor **d = out->data;
    for (int64_t i = 0; st == STRATA_OK && i < src->dims[0]; i++)
        if (seq_item(src, i)) st = tensor_clone(seq_item(src, i), &d[i]);
    return st;
}

strata_status seq_position(const op_node *n, const strata_tensor *const *in, size_t i,
                           int64_t *pos, bool *given)
{
    const strata_tensor *p = op_input(n, in, i);
    *given = p != NULL;
    if (!p) return STRATA_OK;
    if (p->dtype != STRATA_DTYPE_I32 && p->dtype != STRATA_DTYPE_I64)
        return op_error(n, STRATA_INVALID_MODEL, "position must be int32 or int64, got %s",
                        strata_dtype_name(p->dtype));
    if (shape_numel(p->rank, p->dims) != 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "position must be a scalar");
    if (!p->data) return STRATA_NOT_FOUND;
    *pos = tensor_get_i64(p, 0);
    return STRATA_OK;
}

/* A tensor (not container) element to store in a sequence; error naming the input. */
static strata_status tensor_element(const op_node *n, const strata_tensor *t, size_t i)
{
    if (!t) return op_error(n, STRATA_INVALID_MODEL, "missing input %zu", i);
    if (dtype_is_container(t->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "input %zu is a %s; sequences hold tensors",
                        i, strata_dtype_name(t->dtype));
    return STRATA_OK;
}

/* Error when t's dtype differs from the sequence's existing elements. */
static strata_status check_elem_dtype(const op_node *n, const strata_tensor *s, const strata_tensor *t)
{
    for (int64_t i = 0; i < s->dims[0]; i++) {
        const strata_tensor *e = seq_item(s, i);
        if (e && e->dtype != t->dtype)
            return op_error(n, STRATA_INVALID_ARGUMENT, "cannot put a %s tensor into a sequence of %s",
                            strata_dtype_name(t->dtype), strata_dtype_name(e->dtype));
        if (e) break;
    }
    return STRATA_OK;
}

/* ---- SequenceConstruct / SequenceEmpty ------------------------------------------------------ */

strata_status seq_construct_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    if (n->n_inputs < 1) return op_error(n, STRATA_INVALID_MODEL, "needs at least one input");
    for (size_t i = 0; i < n->n_inputs; i++) {
        strata_status st = tensor_element(n, in[i], i);
        if (st != STRATA_OK) return st;
        if (in[i]->dtype != in[0]->dtype)
            return op_error(n, STRATA_INVALID_ARGUMENT, "input %zu is %s, input 0 is %s", i,
                            strata_dtype_name(in[i]->dtype), strata_dtype_name(in[0]->dtype));
    }
    return seq_out_type(out[0], STRATA_DTYPE_SEQUENCE, (int64_t)n->n_inputs);
}

strata_status seq_construct_compute(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    strata_status st = tensor_alloc_container(out[0], STRATA_DTYPE_SEQUENCE, (int64_t)n->n_inputs);
    strata_tensor **d = st == STRATA_OK ? out[0]->data : NULL;
    for (size_t i = 0; st == STRATA_OK && i < n->n_inputs; i++) st = tensor_clone(in[i], &d[i]);
    return st;
}

strata_status seq_empty_infer(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    int64_t dt = op_attr_int(n, "dtype", STRATA_DTYPE_F32);
    if (!dtype_is_valid((int)(dt > 1000 || dt < 0 ? 0 : dt)))
        return op_error(n, STRATA_INVALID_MODEL, "unknown dtype %lld", (long long)dt);
    return seq_out_type(out[0], STRATA_DTYPE_SEQUENCE, 0);
}

strata_status seq_empty_compute(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    return tensor_alloc_container(out[0], STRATA_DTYPE_SEQUENCE, 0);
}

/* ---- SequenceAt ----------------------------------------------------------------------------- */

/* The element SequenceAt reads; NOT_FOUND while the sequence is not known. */
static strata_status at_element(const op_node *n, const strata_tensor *const *in,
                                const strata_tensor **elem)
{
    const strata_tensor *s = NULL;
    strata_status st = seq_input(n, in, 0, "input_sequence", &s);
    if (st != STRATA_OK) return st;
    int64_t pos;
    bool given;
    st = seq_position(n, in, 1, &pos, &given);
    if (st != STRATA_OK) return st;
    if (!given) return op_error(n, STRATA_INVALID_MODEL, "missing input 1 (position)");
    if (!s->data) return STRATA_NOT_FOUND;
    int64_t len = s->dims[0];
    if (pos < -len || pos >= len)
        return op_error(n, STRATA_INVALID_ARGUMENT, "position %lld outside [%lld, %lld] of a "
                        "sequence of %lld", (long long)pos, (long long)-len, (long long)len - 1,
                        (long long)len);
    *elem = seq_item(s, pos < 0 ? pos + len : pos);
    if (!*elem) return op_error(n, STRATA_INTERNAL, "sequence element %lld is empty", (long long)pos);
    return STRATA_OK;
}

strata_status seq_at_infer(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    const strata_tensor *e = NULL;
    strata_status st = at_element(n, in, &e);
    if (st != STRATA_OK) return st;
    return seq_out_like(out[0], e);
}

strata_status seq_at_compute(const op_node *n, const strata_tensor *const *in,
                             strata_tensor *const *out)
{
    const strata_tensor *e = NULL;
    strata_status st = at_element(n, in, &e);
    if (st != STRATA_OK) return st;
    if (dtype_is_container(e->dtype)) return seq_copy_value(out[0], e);
    return seq_copy_data(out[0], e);
}

/* ---- SequenceInsert / SequenceErase ---------------------------------------------------------- */

/* Where SequenceInsert puts its tensor (0..len); NOT_FOUND while unknown. */
static strata_status insert_at(const op_node *n, const strata_tensor *const *in, int64_t *at)
{
    const strata_tensor *s = NULL;
    strata_status st = seq_input(n, in, 0, "input_sequence", &s);
    if (st == STRATA_OK) st = tensor_element(n, op_input(n, in, 1), 1);
    if (st != STRATA_OK) return st;
    if (!s->data) return STRATA_NOT_FOUND;
    st = check_elem_dtype(n, s, in[1]);
    if (st != STRATA_OK) return st;
    int64_t len = s->dims[0], pos = len;
    bool given;
    st = seq_position(n, in, 2, &pos, &given);
    if (st != STRATA_OK) return st;
    if (!given) pos = len;
    if (pos < -len || pos > len)
        return op_error(n, STRATA_INVALID_ARGUMENT, "position %lld outside [%lld, %lld] of a "
                        "sequence of %lld", (long long)pos, (long long)-len, (long long)len,
                        (long long)len);
    *at = pos < 0 ? pos + len : pos;
    return STRATA_OK;
}

strata_status seq_insert_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    int64_t at = 0;
    strata_status st = insert_at(n, in, &at);
    if (st == STRATA_NOT_FOUND) return seq_out_type(out[0], STRATA_DTYPE_SEQUENCE, -1);
    if (st != STRATA_OK) return st;
    return seq_out_type(out[0], STRATA_DTYPE_SEQUENCE, in[0]->dims[0] + 1);
}

strata_status seq_insert_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    int64_t at = 0;
    strata_status st = insert_at(n, in, &at);
    if (st == STRATA_NOT_FOUND) return op_error(n, STRATA_INTERNAL, "input sequence has no value");
    if (st != STRATA_OK) return st;
    const strata_tensor *s = in[0];
    int64_t len = s->dims[0];
    st = tensor_alloc_container(out[0], STRATA_DTYPE_SEQUENCE, len + 1);
    strata_tensor **d = st == STRATA_OK ? out[0]->data : NULL;
    for (int64_t i = 0, k = 0; st == STRATA_OK && i <= len; i++) {
        const strata_tensor *src = i == at ? in[1] : seq_item(s, k++);
        if (src) st = tensor_clone(src, &d[i]);
    }
    return st;
}

/* Which element SequenceErase drops; NOT_FOUND while unknown. */
static strata_status erase_at(const op_node *n, const strata_tensor *const *in, int64_t *at)
{
    const strata_tensor *s = NULL;
    strata_status st = seq_input(n, in, 0, "input_sequence", &s);
    if (st != STRATA_OK) return st;
    if (!s->data) return STRATA_NOT_FOUND;
    int64_t len = s->dims[0], pos = len - 1;
    bool given;
    st = seq_position(n, in, 1, &pos, &given);
    if (st != STRATA_OK) return st;
    if (!given) pos = len - 1;
    if (len == 0) return op_error(n, STRATA_INVALID_ARGUMENT, "cannot erase from an empty sequence");
    if (pos < -len || pos >= len)
        return op_error(n, STRATA_INVALID_ARGUMENT, "position %lld outside [%lld, %lld] of a "
                        "sequence of %lld", (long long)pos, (long long)-len, (long long)len - 1,
                        (long long)len);
    *at = pos < 0 ? pos + len : pos;
    return STRATA_OK;
}

strata_status seq_erase_infer(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    int64_t at = 0;
    strata_status st = erase_at(n, in, &at);
    if (st == STRATA_NOT_FOUND) return seq_out_type(out[0], STRATA_DTYPE_SEQUENCE, -1);
    if (st != STRATA_OK) return st;
    return seq_out_type(out[0], STRATA_DTYPE_SEQUENCE, in[0]->dims[0] - 1);
}

strata_status seq_erase_compute(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    int64_t at = 0;
    strata_status st = erase_at(n, in, &at);
    if (st == STRATA_NOT_FOUND) return op_error(n, STRATA_INTERNAL, "input sequence has no value");
    if (st != STRATA_OK) return st;
    const strata_tensor *s = in[0];
    int64_t len = s->dims[0];
    st = tensor_alloc_container(out[0], STRATA_DTYPE_SEQUENCE, len - 1);
    strata_tensor **d = st == STRATA_OK ? out[0]->data : NULL;
    for (int64_t i = 0, k = 0; st == STRATA_OK && i < len; i++) {
        if (i == at) continue;
        if (seq_item(s, i)) st = tensor_clone(seq_item(s, i), &d[k]);
        k++;
    }
    return st;
}

/* ---- SequenceLength ------------------------------------------------------------------------- */

strata_status seq_length_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    const strata_tensor *s = NULL;
    strata_status st = seq_input(n, in, 0, "input_sequence", &s);
    if (st != STRATA_OK || !out[0]) return st;
    return tensor_set_shape(out[0], STRATA_DTYPE_I64, 0, NULL);
}

strata_status seq_length_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    ((int64_t *)out[0]->data)[0] = in[0]->dims[0];
    return STRATA_OK;
}

/* ---- Identity (opset 14+: any value) ---------------------------------------------------------- */

strata_status seq_identity_infer(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input 0 (input)");
    return seq_out_like(out[0], x);
}

strata_status seq_identity_compute(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    if (dtype_is_container(in[0]->dtype)) return seq_copy_value(out[0], in[0]);
    return seq_copy_data(out[0], in[0]);
}
