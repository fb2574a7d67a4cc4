/* serialize/onnx_write.c — IR → ONNX ModelProto: metadata, opsets, the graph with nodes,
 * attributes of every kind (subgraphs recursively), initializers as little-endian raw_data
 * (strings in string_data; 4- and 2-bit types packed) and value_info for every value whose type
 * is known. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protobuf.h"
#include "serialize.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx_write.c assumes a little-endian host (raw_data is little-endian)"
#endif

static void put_nonempty(protobuf_writer *w, uint32_t field, const char *s)
{
    if (s && s[0]) protobuf_put_string(w, field, s);
}

/* Where initializer bytes go: inline (sink == NULL) or placed by a sink (plan files). */
typedef struct weight_sink {
    strata_status (*place)(void *ctx, const strata_tensor *t, uint64_t *offset); /* -> offset */
    void *ctx;
    strata_status status; /* first failure of place */
} weight_sink;

/* raw_data of a 4- or 2-bit tensor: elements packed two or four to a byte, low bits first
 * (in memory they take a byte each). Packs a chunk at a time through a stack buffer. */
static void put_packed(protobuf_writer *w, uint32_t field, const strata_tensor *t)
{
    int64_t numel = shape_numel(t->rank, t->dims);
    int64_t per_byte = 8 / dtype_file_bits(t->dtype), chunk = 256 * per_byte;
    uint8_t buf[256];
    const uint8_t *d = t->data;
    size_t mark = protobuf_begin(w, field);
    for (int64_t i = 0; i < numel; i += chunk) {
        int64_t n = numel - i < chunk ? numel - i : chunk;
        dtype_pack(t->dtype, d + i, n, buf);
        protobuf_put_raw(w, buf, dtype_file_bytes(t->dtype, n));
    }
    protobuf_end(w, mark);
}

static void write_tensor_to(protobuf_writer *w, uint32_t field, const strata_tensor *t,
                            const char *name, weight_sink *sink)
{
    size_t mark = protobuf_begin(w, field);
    if (t->rank > 0) {
        size_t pm = protobuf_begin(w, 1);
        for (int d = 0; d < t->rank; d++) protobuf_put_raw_varint(w, (uint64_t)t->dims[d]);
        protobuf_end(w, pm);
    }
    protobuf_put_varint(w, 2, (uint64_t)t->dtype);
    put_nonempty(w, 8, name);
    if (t->dtype == STRATA_DTYPE_STRING) {
        int64_t n = shape_numel(t->rank, t->dims);
        char *const *s = t->data;
        for (int64_t i = 0; i < n; i++) protobuf_put_string(w, 6, s && s[i] ? s[i] : "");
    } else if (sink && !t->data && t->n_bytes > 0) { /* values dropped: a packed form replaces them */
        size_t em = protobuf_begin(w, 13);
        protobuf_put_string(w, 1, "location");
        protobuf_put_string(w, 2, ONNX_SHAPE_ONLY_LOCATION);
        protobuf_end(w, em);
        protobuf_put_varint(w, 14, 1); /* data_location = EXTERNAL */
    } else if (sink && t->n_bytes > 0) {
        uint64_t off = 0;
        strata_status st = sink->place(sink->ctx, t, &off);
        if (st != STRATA_OK && sink->status == STRATA_OK) sink->status = st;
        char num[32];
        const char *keys[3] = {"location", "offset", "length"};
        char vals[3][32];
        snprintf(vals[0], sizeof vals[0], "%s", ONNX_PLAN_LOCATION);
        snprintf(vals[1], sizeof vals[1], "%llu", (unsigned long long)off);
        snprintf(vals[2], sizeof vals[2], "%llu", (unsigned long long)t->n_bytes);
        (void)num;
        for (int k = 0; k < 3; k++) {
            size_t em = protobuf_begin(w, 13);
            protobuf_put_string(w, 1, keys[k]);
            protobuf_put_string(w, 2, vals[k]);
            protobuf_end(w, em);
        }
        protobuf_put_varint(w, 14, 1); /* data_location = EXTERNAL */
    } else if (dtype_file_bits(t->dtype) == 4 || dtype_file_bits(t->dtype) == 2) {
        put_packed(w, 9, t);
    } else {
        protobuf_put_bytes(w, 9, t->data, t->n_bytes);
    }
    protobuf_end(w, mark);
}

static void write_tensor(protobuf_writer *w, uint32_t field, const strata_tensor *t,
                         const char *name)
{
    write_tensor_to(w, field, t, name, NULL);
}

static void write_value_info(protobuf_writer *w, uint32_t field, const ir_value *v)
{
    size_t mark = protobuf_begin(w, field);
    protobuf_put_string(w, 1, v->name);
    if ((v->kind == VALUE_TENSOR || v->kind == VALUE_SPARSE) &&
        v->dtype != STRATA_DTYPE_UNDEFINED) {
        size_t tm = protobuf_begin(w, 2);
        size_t tt = protobuf_begin(w, v->kind == VALUE_TENSOR ? 1 : 8);
        protobuf_put_varint(w, 1, (uint64_t)v->dtype);
        if (v->rank >= 0) {
            size_t sm = protobuf_begin(w, 2);
            for (int d = 0; d < v->rank && d < STRATA_MAX_DIMS; d++) {
                size_t dm = protobuf_begin(w, 1);
                if (v->dim_names[d]) protobuf_put_string(w, 2, v->dim_names[d]);
                else if (v->dims[d] >= 0) protobuf_put_varint(w, 1, (uint64_t)v->dims[d]);
                protobuf_end(w, dm);
            }
            protobuf_end(w, sm);
        }
        protobuf_end(w, tt);
        protobuf_end(w, tm);
    }
    put_nonempty(w, 3, v->doc_string);
    protobuf_end(w, mark);
}

static strata_status write_graph(protobuf_writer *w, uint32_t field, const ir_graph *g,
                                 int depth, weight_sink *sink);

static strata_status write_attr(protobuf_writer *w, const attr *a, int depth)
{
    strata_status st = STRATA_OK;
    size_t mark = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, a->name ? a->name : "");
    switch (a->type) {
    case ATTR_FLOAT: {
        uint32_t b;
        memcpy(&b, &a->f, 4);
        protobuf_put_fixed32(w, 2, b);
        break;
    }
    case ATTR_INT: protobuf_put_varint(w, 3, (uint64_t)a->i); break;
    case ATTR_STRING: protobuf_put_bytes(w, 4, a->s ? a->s : "", a->s ? a->s_len : 0); break;
    case ATTR_TENSOR:
        if (a->t) write_tensor(w, 5, a->t, NULL);
        break;
    case ATTR_GRAPH:
        if (a->g) st = write_graph(w, 6, a->g, depth + 1, NULL);
        break;
    case ATTR_FLOATS:
        if (a->n) {
            size_t pm = protobuf_begin(w, 7);
            for (size_t k = 0; k < a->n; k++) {
                uint8_t b[4];
                memcpy(b, &a->floats[k], 4);
                protobuf_put_raw(w, b, 4);
            }
            protobuf_end(w, pm);
        }
        break;
    case ATTR_INTS:
        if (a->n) {
            size_t pm = protobuf_begin(w, 8);
            for (size_t k = 0; k < a->n; k++) protobuf_put_raw_varint(w, (uint64_t)a->ints[k]);
            protobuf_end(w, pm);
        }
        break;
    case ATTR_STRINGS:
        for (size_t k = 0; k < a->n; k++)
            protobuf_put_string(w, 9, a->strings && a->strings[k] ? a->strings[k] : "");
        break;
    case ATTR_TENSORS:
        for (size_t k = 0; k < a->n; k++)
            if (a->tensors[k]) write_tensor(w, 10, a->tensors[k], NULL);
        break;
    case ATTR_GRAPHS:
        for (size_t k = 0; k < a->n && st == STRATA_OK; k++)
            if (a->graphs[k]) st = write_graph(w, 11, a->graphs[k], depth + 1, NULL);
        break;
    case ATTR_TYPE_PROTO: protobuf_put_bytes(w, 14, a->s ? a->s : "", a->s ? a->s_len : 0); break;
    case ATTR_UNDEFINED:
        break;
    default:
        st = error_set(STRATA_UNSUPPORTED, "onnx write: attribute '%s' of type %d cannot be "
                       "written", a->name ? a->name : "", (int)a->type);
        break;
    }
    if (a->type != ATTR_UNDEFINED) protobuf_put_varint(w, 20, (uint64_t)a->type);
    put_nonempty(w, 21, a->ref_attr_name);
    protobuf_end(w, mark);
    return st;
}

static bool in_list(const int *list, size_t n, int id)
{
    for (size_t k = 0; k < n; k++)
        if (list[k] == id) return true;
    return false;
}

static strata_status write_graph(protobuf_writer *w, uint32_t field, const ir_graph *g,
                                 int depth, weight_sink *sink)
{
    if (depth > STRATA_MAX_SUBGRAPH_DEPTH)
        return error_set(STRATA_INVALID_MODEL, "onnx write: graph '%s': subgraphs nested deeper "
                         "than %d", g->name ? g->name : "", STRATA_MAX_SUBGRAPH_DEPTH);
    strata_status st = STRATA_OK;
    size_t mark = protobuf_begin(w, field);
    for (size_t n = 0; n < g->n_nodes && st == STRATA_OK; n++) {
        const ir_node *node = &g->nodes[n];
        size_t nm = protobuf_begin(w, 1);
        for (size_t k = 0; k < node->n_inputs; k++)
            protobuf_put_string(w, 1, node->inputs[k] >= 0 ? g->values[node->inputs[k]].name
                                                           : "");
        for (size_t k = 0; k < node->n_outputs; k++)
            protobuf_put_string(w, 2, node->outputs[k] >= 0 ? g->values[node->outputs[k]].name
                                                            : "");
        put_nonempty(w, 3, node->name);
        protobuf_put_string(w, 4, node->op_type);
        for (size_t a = 0; a < node->n_attrs && st == STRATA_OK; a++)
            st = write_attr(w, &node->attrs[a], depth);
        put_nonempty(w, 6, node->doc_string);
        put_nonempty(w, 7, node->domain);
        protobuf_end(w, nm);
    }
    protobuf_put_string(w, 2, g->name ? g->name : "");
    for (size_t v = 0; v < g->n_values; v++)
        if (g->values[v].init) write_tensor_to(w, 5, g->values[v].init, g->values[v].name, sink);
    put_nonempty(w, 10, g->doc_string);
    for (size_t k = 0; k < g->n_inputs; k++) write_value_info(w, 11, &g->values[g->inputs[k]]);
    for (size_t k = 0; k < g->n_outputs; k++) write_value_info(w, 12, &g->values[g->outputs[k]]);
    for (size_t v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (val->is_outer || val->init || val->kind != VALUE_TENSOR ||
            val->dtype == STRATA_DTYPE_UNDEFINED || in_list(g->inputs, g->n_inputs, (int)v) ||
            in_list(g->outputs, g->n_outputs, (int)v))
            continue;
        write_value_info(w, 13, val);
    }
    protobuf_end(w, mark);
    return st;
}

static strata_status write_model(const ir_model *m, weight_sink *sink, uint8_t **out,
                                 size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!m || !m->graph) return error_set(STRATA_INVALID_ARGUMENT, "onnx write: no graph");
    protobuf_writer w;
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, (uint64_t)(m->ir_version > 0 ? m->ir_version : 8));
    put_nonempty(&w, 2, m->producer_name);
    put_nonempty(&w, 3, m->producer_version);
    put_nonempty(&w, 4, m->domain);
    if (m->model_version) protobuf_put_varint(&w, 5, (uint64_t)m->model_version);
    put_nonempty(&w, 6, m->doc_string);
    strata_status st = write_graph(&w, 7, m->graph, 0, sink);
    if (st == STRATA_OK && sink && sink->status != STRATA_OK) st = sink->status;
    for (size_t k = 0; k < m->n_opsets; k++) {
        size_t om = protobuf_begin(&w, 8);
        put_nonempty(&w, 1, m->opsets[k].domain);
        protobuf_put_varint(&w, 2, (uint64_t)m->opsets[k].version);
        protobuf_end(&w, om);
    }
    for (size_t k = 0; k < m->n_metadata; k++) {
        size_t mm = protobuf_begin(&w, 14);
        protobuf_put_string(&w, 1, m->metadata[k].key ? m->metadata[k].key : "");
        protobuf_put_string(&w, 2, m->metadata[k].value ? m->metadata[k].value : "");
        protobuf_end(&w, mm);
    }
    if (st == STRATA_OK && w.failed)
        st = error_set(STRATA_OUT_OF_MEMORY, "onnx write: out of memory");
    if (st != STRATA_OK) {
        protobuf_writer_release(&w);
        return st;
    }
    *out = w.buf;
    *n_out = w.n;
    return STRATA_OK;
}

strata_status onnx_write_model_bytes(const ir_model *m, uint8_t **out, size_t *n_out)
{
    return write_model(m, NULL, out, n_out);
}

strata_status onnx_write_model_placed(const ir_model *m,
                                      strata_status (*place)(void *ctx, const strata_tensor *t,
                                                             uint64_t *offset),
                                      void *ctx, uint8_t **out, size_t *n_out)
{
    weight_sink sink = {place, ctx, STRATA_OK};
    return write_model(m, &sink, out, n_out);
}

strata_status onnx_write_model(const ir_model *m, const char *path)
{
    uint8_t *buf;
    size_t n;
    strata_status st = onnx_write_model_bytes(m, &buf, &n);
    if (st != STRATA_OK) return st;
    size_t plen = strlen(path);
    char *tmp = mem_alloc(plen + 16);
    if (!tmp) {
        mem_free(buf);
        return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    snprintf(tmp, plen + 16, "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = error_set(STRATA_IO_ERROR, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(fd, buf + off, n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            st = error_set(STRATA_IO_ERROR, "%s: write failed at byte %zu: %s", tmp, off,
                           strerror(errno));
            break;
        }
        off += (size_t)k;
    }
    if (close(fd) != 0 && st == STRATA_OK)
        st = error_set(STRATA_IO_ERROR, "%s: close failed: %s", tmp, strerror(errno));
    if (st == STRATA_OK && rename(tmp, path) != 0)
        st = error_set(STRATA_IO_ERROR, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st != STRATA_OK) unlink(tmp);
done:
    mem_free(tmp);
    mem_free(buf);
    return st;
}
