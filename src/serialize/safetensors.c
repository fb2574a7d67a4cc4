/* serialize/safetensors.c — binds the tensors of a .safetensors file to same-named initializers:
 * 8-byte header length, JSON header (cJSON), data offsets that must tile the data section
 * exactly; tensor bytes stay in the mapped file where aligned. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "serialize.h"

#define SAFETENSORS_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef struct st_entry {
    const char *name;     /* borrowed from the cJSON tree */
    strata_dtype dtype;
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    uint64_t begin, end;  /* in the data section */
    int value_id;         /* initializer to bind, or -1 */
} st_entry;

static const struct {
    const char *name;
    strata_dtype dtype;
} st_dtypes[] = {
    {"F32", STRATA_DTYPE_F32}, {"F16", STRATA_DTYPE_F16},   {"BF16", STRATA_DTYPE_BF16},
    {"F64", STRATA_DTYPE_F64}, {"I8", STRATA_DTYPE_I8},     {"U8", STRATA_DTYPE_U8},
    {"I16", STRATA_DTYPE_I16}, {"U16", STRATA_DTYPE_U16},   {"I32", STRATA_DTYPE_I32},
    {"U32", STRATA_DTYPE_U32}, {"I64", STRATA_DTYPE_I64},   {"U64", STRATA_DTYPE_U64},
    {"BOOL", STRATA_DTYPE_BOOL},
};

/* A JSON number that is a non-negative integer below 2^53. */
static bool json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d) return false;
    *out = (uint64_t)d;
    return true;
}

static int cmp_entry_offset(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static strata_status parse_entry(const char *path, const cJSON *item, st_entry *e)
{
    const char *nm = item->string;
    e->name = nm;
    e->value_id = -1;
    if (!cJSON_IsObject(item))
        return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': header entry is not an object",
                         path, nm);
    const cJSON *dt = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = item->child; c; c = c->next) {
        const cJSON **slot = strcmp(c->string, "dtype") == 0 ? &dt
                             : strcmp(c->string, "shape") == 0 ? &shape
                             : strcmp(c->string, "data_offsets") == 0 ? &offs : NULL;
        if (!slot)
            return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': unknown key '%s'", path, nm,
                             c->string);
        if (*slot)
            return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': key '%s' given twice", path,
                             nm, c->string);
        *slot = c;
    }
    if (!cJSON_IsString(dt) || !shape || !offs)
        return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': needs dtype, shape and "
                         "data_offsets", path, nm);
    e->dtype = STRATA_DTYPE_UNDEFINED;
    for (size_t k = 0; k < ARRAY_LEN(st_dtypes); k++)
        if (strcmp(dt->valuestring, st_dtypes[k].name) == 0) e->dtype = st_dtypes[k].dtype;
    if (e->dtype == STRATA_DTYPE_UNDEFINED)
        return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': unsupported dtype '%s'", path,
                         nm, dt->valuestring);
    if (!cJSON_IsArray(shape))
        return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': shape is not an array", path,
                         nm);
    e->rank = 0;
    for (const cJSON *d = shape->child; d; d = d->next) {
        uint64_t v;
        if (e->rank >= STRATA_MAX_DIMS)
            return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': rank > %d", path, nm,
                             STRATA_MAX_DIMS);
        if (!json_uint(d, &v) || v > (uint64_t)STRATA_MAX_ELEMENTS)
            return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': dim %d is not a "
                             "non-negative integer", path, nm, e->rank);
        e->dims[e->rank++] = (int64_t)v;
    }
    const cJSON *b = cJSON_IsArray(offs) ? offs->child : NULL;
    const cJSON *en = b ? b->next : NULL;
    if (!b || !en || en->next || !json_uint(b, &e->begin) || !json_uint(en, &e->end) ||
        e->end < e->begin)
        return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': data_offsets must be [begin, "
                         "end] with begin <= end", path, nm);
    int64_t n = shape_numel(e->rank, e->dims);
    if (n < 0)
        return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': shape has more than 2^40 "
                         "elements", path, nm);
    uint64_t need = (uint64_t)n * strata_dtype_size(e->dtype);
    if (need != e->end - e->begin)
        return error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': data_offsets span %llu bytes, "
                         "%s shape needs %llu", path, nm,
                         (unsigned long long)(e->end - e->begin), strata_dtype_name(e->dtype),
                         (unsigned long long)need);
    return STRATA_OK;
}

strata_status safetensors_bind(ir_model *m, const char *path, size_t *n_bound)
{
    if (n_bound) *n_bound = 0;
    if (!m || !m->graph || !path)
        return error_set(STRATA_INVALID_ARGUMENT, "safetensors_bind: NULL argument");
    mapped_file *f = NULL;
    cJSON *root = NULL;
    st_entry *ents = NULL;
    strata_tensor **made = NULL;
    size_t n_ents = 0;
    strata_status st = mapped_file_open(path, &f);
    if (st != STRATA_OK) return st;
    if (f->n_bytes < 8) {
        st = error_set(STRATA_INVALID_MODEL, "%s@0: file too short for a safetensors header "
                       "(%zu bytes)", path, f->n_bytes);
        goto done;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->data[i];
    if (hlen > SAFETENSORS_MAX_HEADER || hlen > f->n_bytes - 8) {
        st = error_set(STRATA_INVALID_MODEL, "%s@0: header length %llu is over 100 MB or past "
                       "the end of the file (%zu bytes)", path, (unsigned long long)hlen,
                       f->n_bytes);
        goto done;
    }
    size_t data_start = 8 + (size_t)hlen, data_bytes = f->n_bytes - data_start;
    root = cJSON_ParseWithLength((const char *)f->data + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        st = error_set(STRATA_INVALID_MODEL, "%s@8: header is not a JSON object", path);
        goto done;
    }
    size_t n_items = (size_t)cJSON_GetArraySize(root);
    ents = mem_calloc(n_items ? n_items : 1, sizeof *ents);
    made = mem_calloc(n_items ? n_items : 1, sizeof *made);
    if (!ents || !made) {
        st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    bool have_meta = false;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (have_meta || !cJSON_IsObject(it)) {
                st = error_set(STRATA_INVALID_MODEL, "%s: __metadata__ given twice or not an "
                               "object", path);
                goto done;
            }
            have_meta = true;
            continue;
        }
        if ((st = parse_entry(path, it, &ents[n_ents])) != STRATA_OK) goto done;
        n_ents++;
    }
    /* duplicate names */
    qsort(ents, n_ents, sizeof *ents, cmp_entry_name);
    for (size_t k = 1; k < n_ents; k++)
        if (strcmp(ents[k - 1].name, ents[k].name) == 0) {
            st = error_set(STRATA_INVALID_MODEL, "%s: tensor '%s' appears twice in the header",
                           path, ents[k].name);
            goto done;
        }
    /* offsets tile the data section: no overlap, no hole, nothing unindexed */
    qsort(ents, n_ents, sizeof *ents, cmp_entry_offset);
    uint64_t at = 0;
    for (size_t k = 0; k < n_ents; k++) {
        if (ents[k].begin != at) {
            st = error_set(STRATA_INVALID_MODEL, "%s: tensor '%s': data_offsets begin at %llu, "
                           "expected %llu (%s)", path, ents[k].name,
                           (unsigned long long)ents[k].begin, (unsigned long long)at,
                           ents[k].begin < at ? "overlap" : "hole");
            goto done;
        }
        at = ents[k].end;
    }
    if (at != data_bytes) {
        st = error_set(STRATA_INVALID_MODEL, "%s: tensors cover %llu bytes of a %zu-byte data "
                       "section (%s)", path, (unsigned long long)at, data_bytes,
                       at > data_bytes ? "past the end of the file" : "unindexed bytes");
        goto done;
    }
    /* match every tensor before changing anything */
    ir_graph *g = m->graph;
    size_t n_match = 0;
    for (size_t k = 0; k < n_ents; k++) {
        st_entry *e = &ents[k];
        int id = ir_graph_find(g, e->name);
        if (id < 0 || !g->values[id].init) continue; /* not a weight of this model */
        const strata_tensor *old = g->values[id].init;
        bool same = old->dtype == e->dtype && old->rank == e->rank;
        for (int d = 0; same && d < e->rank; d++) same = old->dims[d] == e->dims[d];
        if (!same) {
            char a[200], b[200];
            strata_tensor tmp;
            memset(&tmp, 0, sizeof tmp);
            tmp.dtype = e->dtype;
            tmp.rank = e->rank;
            memcpy(tmp.dims, e->dims, sizeof tmp.dims);
            st = error_set(STRATA_INVALID_MODEL, "%s: tensor '%s' is %s but the model's "
                           "initializer is %s", path, e->name, tensor_describe(&tmp, a, sizeof a),
                           tensor_describe(old, b, sizeof b));
            goto done;
        }
        e->value_id = id;
        n_match++;
    }
    if (n_ents && !n_match) {
        st = error_set(STRATA_NOT_FOUND, "%s: none of its %zu tensors names an initializer of "
                       "the model", path, n_ents);
        goto done;
    }
    for (size_t k = 0; k < n_ents; k++) {
        st_entry *e = &ents[k];
        if (e->value_id < 0) continue;
        const uint8_t *p = f->data + data_start + e->begin;
        size_t nb = (size_t)(e->end - e->begin);
        if ((uintptr_t)p % strata_dtype_size(e->dtype) == 0) {
            st = strata_tensor_wrap(e->dtype, e->rank, e->dims, (void *)(uintptr_t)p, nb, NULL,
                                    &made[k]);
        } else {
            st = strata_tensor_create(e->dtype, e->rank, e->dims, &made[k]);
            if (st == STRATA_OK && nb) memcpy(made[k]->data, p, nb);
        }
        if (st != STRATA_OK) goto done;
    }
    mapped_file **grown = mem_realloc(m->extra_files, (m->n_extra_files + 1) * sizeof *grown);
    if (!grown) {
        st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    m->extra_files = grown;
    m->extra_files[m->n_extra_files++] = f;
    f = NULL;
    for (size_t k = 0; k < n_ents; k++) {
        if (ents[k].value_id < 0) continue;
        ir_value *v = &g->values[ents[k].value_id];
        strata_tensor_destroy(v->init);
        v->init = made[k];
        made[k] = NULL;
    }
    if (n_bound) *n_bound = n_match;
done:
    if (made)
        for (size_t k = 0; k < n_ents; k++) strata_tensor_destroy(made[k]);
    mem_free(made);
    mem_free(ents);
    cJSON_Delete(root);
    mapped_file_close(f);
    return st;
}
