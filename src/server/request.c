/* server/request.c — the protocol-independent half of turning a KServe v2 infer request into an
 * infer_request: an input's name, datatype and shape (bounds, overflow, duplicates) and the
 * request parameters Strata acts on (priority, timeout). The HTTP (JSON) and gRPC (protobuf)
 * frontends decode their wire format and call these, so both refuse the same things alike. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

bool request_input_begin(infer_request *r, size_t index, const char *name, const char *datatype, char *err, size_t n_err)
{
    if (index >= SERVER_MAX_IO)
        return snprintf(err, n_err, "more than %d inputs", SERVER_MAX_IO), false;
    if (!name || !name[0] || strlen(name) >= SERVER_MAX_NAME)
        return snprintf(err, n_err, "inputs[%zu]: 'name' must be a non-empty string of at most %d bytes", index,
                        SERVER_MAX_NAME - 1), false;
    infer_tensor *t = &r->inputs[index];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    for (size_t k = 0; k < index; k++)
        if (strcmp(r->inputs[k].name, t->name) == 0) return snprintf(err, n_err, "input '%s' is given twice", t->name), false;
    if (!datatype) return snprintf(err, n_err, "input '%s': 'datatype' must be a string", t->name), false;
    t->dtype = model_config_dtype_from_kserve(datatype);
    if (t->dtype == STRATA_DTYPE_UNDEFINED)
        return snprintf(err, n_err, "input '%s': unknown datatype '%.32s' (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BF16, BYTES)",
                        t->name, datatype), false;
    if (t->dtype == STRATA_DTYPE_STRING)
        return snprintf(err, n_err, "input '%s': BYTES inputs are not supported", t->name), false;
    return true;
}

bool request_input_shape(infer_tensor *t, size_t rank, const int64_t *dims, char *err, size_t n_err)
{
    if (rank > REQUEST_MAX_RANK)
        return snprintf(err, n_err, "input '%s': rank %zu exceeds %d", t->name, rank, REQUEST_MAX_RANK), false;
    for (size_t d = 0; d < rank; d++) {
        if (dims[d] < 0)
            return snprintf(err, n_err, "input '%s': shape dim %zu must be a non-negative integer", t->name, d), false;
        t->dims[d] = dims[d];
    }
    t->rank = (int)rank;
    /* element count with an overflow check at every step (each dim may be up to INT64_MAX) */
    size_t esize = strata_dtype_size(t->dtype);
    uint64_t limit = (uint64_t)SERVER_MAX_BODY / esize, numel = 1;
    bool zero = false;
    for (size_t d = 0; d < rank; d++) zero |= dims[d] == 0;
    for (size_t d = 0; d < rank && !zero; d++) {
        if ((uint64_t)dims[d] > limit || numel > limit / (uint64_t)dims[d])
            return snprintf(err, n_err, "input '%s': shape element count or byte size overflows (limit %zu bytes)", t->name,
                            SERVER_MAX_BODY), false;
        numel *= (uint64_t)dims[d];
    }
    t->n_bytes = zero ? 0 : (size_t)numel * esize;
    return true;
}

bool request_param_int(infer_request *r, const char *key, bool is_int, int64_t v, char *err, size_t n_err)
{
    if (strcmp(key, "priority") == 0) {
        if (!is_int || v < 0) return snprintf(err, n_err, "parameter priority must be a non-negative integer"), false;
        r->priority = v;
    } else if (strcmp(key, "timeout") == 0) {
        if (!is_int || v < 0 || v > ((int64_t)1 << 40))
            return snprintf(err, n_err, "parameter timeout must be a non-negative integer (microseconds)"), false;
        r->timeout_us = v;
    }
    return true;
}
