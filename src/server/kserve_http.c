/* server/kserve_http.c — KServe v2 (Open Inference Protocol) REST routes: health, server and model
 * metadata, model ready/config/stats, repository index, and infer with JSON tensors (nested or
 * flat) and the binary tensor data extension. Requests are checked (depth before parsing, UTF-8,
 * duplicate keys, types, shapes, byte counts) and turned into protocol-free infer_requests. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define MAX_SEGMENTS 8

/* Explicit model control (repository.c; declared here until internal.h carries them). */
#define MAX_JSON_VALUES (2u << 20) /* values in one JSON body (bounds cJSON's memory) */
#define MAX_MEMBERS 64             /* members of one request object */
#define MAX_INPUT_RANK 8

/* ---- checks before parsing ------------------------------------------------------------------------- */

/* Nesting depth, value count and UTF-8 validity of JSON text, without parsing it. */
static bool json_precheck(const char *s, size_t n, char *err, size_t n_err)
{
    int depth = 0;
    size_t values = 1;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
            if (!len || i + len > n) goto bad_utf8;
            uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
            for (size_t k = 1; k < len; k++) {
                unsigned char cc = (unsigned char)s[i + k];
                if ((cc & 0xC0) != 0x80) goto bad_utf8;
                cp = (cp << 6) | (cc & 0x3F);
            }
            if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                (cp >= 0xD800 && cp <= 0xDFFF))
                goto bad_utf8;
            i += len - 1;
            continue;
        }
        if (c == 0) {
            snprintf(err, n_err, "NUL byte at offset %zu of the JSON", i);
            return false;
        }
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > SERVER_MAX_JSON_DEPTH) {
                snprintf(err, n_err, "JSON nesting depth exceeds %d (offset %zu)", SERVER_MAX_JSON_DEPTH, i);
                return false;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == ',') {
            if (++values > MAX_JSON_VALUES) {
                snprintf(err, n_err, "JSON has more than %u values; send large tensors with the binary tensor extension",
                         MAX_JSON_VALUES);
                return false;
            }
        }
    }
    return true;
bad_utf8:
    snprintf(err, n_err, "invalid UTF-8 in the JSON");
    return false;
}

/* Fails when an object has duplicate or too many members. */
static bool members_ok(const cJSON *o, const char *what, char *err, size_t n_err)
{
    size_t n = 0;
    for (const cJSON *a = o->child; a; a = a->next, n++) {
        if (n >= MAX_MEMBERS) {
            snprintf(err, n_err, "%s has more than %d members", what, MAX_MEMBERS);
            return false;
        }
        for (const cJSON *b = o->child; b != a; b = b->next)
            if (a->string && b->string && strcmp(a->string, b->string) == 0) {
                snprintf(err, n_err, "%s has the key '%.64s' twice", what, a->string);
                return false;
            }
    }
    return true;
}

/* ---- small helpers ------------------------------------------------------------------------------------ */

static bool json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi) return false;
    *out = (int64_t)d;
    return true;
}

static void set_error(http_response *res, strata_status st, const char *msg)
{
    int code = strata_status_http(st);
    if (st == STRATA_TIMEOUT || st == STRATA_CANCELLED) code = 503; /* Triton: UNAVAILABLE */
    http_error(res, code, "%s", msg);
}

static void fail_status(http_response *res, strata_status st) { set_error(res, st, strata_last_error()); }

/* ---- tensor data ---------------------------------------------------------------------------------------- */

typedef struct fill_ctx {
    uint8_t *dst;                /* output buffer */
    strata_dtype dtype;
    size_t size;                 /* element size */
    int64_t idx, numel;          /* next element, total */
    const char *name;            /* tensor name for messages */
    char *err;
    size_t n_err;
} fill_ctx;

static bool put_value(fill_ctx *f, const cJSON *v)
{
    if (f->idx >= f->numel) {
        snprintf(f->err, f->n_err, "input '%s': data has more elements than the shape's %lld", f->name, (long long)f->numel);
        return false;
    }
    uint8_t *p = f->dst + (size_t)f->idx * f->size;
    strata_dtype t = f->dtype;
    if (t == STRATA_DTYPE_BOOL) {
        if (!cJSON_IsBool(v)) goto type_err;
        *p = cJSON_IsTrue(v) ? 1 : 0;
    } else if (t == STRATA_DTYPE_F32 || t == STRATA_DTYPE_F64 || t == STRATA_DTYPE_F16 || t == STRATA_DTYPE_BF16) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) goto type_err;
        double d = v->valuedouble;
        if (t == STRATA_DTYPE_F64) {
            memcpy(p, &d, 8);
        } else {
            if (fabs(d) > (t == STRATA_DTYPE_F16 ? 65504.0 : (double)FLT_MAX)) goto range_err;
            float x = (float)d;
            if (t == STRATA_DTYPE_F32) {
                memcpy(p, &x, 4);
            } else {
                uint16_t h = t == STRATA_DTYPE_F16 ? f32_to_f16(x) : f32_to_bf16(x);
                memcpy(p, &h, 2);
            }
        }
    } else {
        int64_t lo, hi;
        switch (t) {
        case STRATA_DTYPE_I8: lo = INT8_MIN, hi = INT8_MAX; break;
        case STRATA_DTYPE_I16: lo = INT16_MIN, hi = INT16_MAX; break;
        case STRATA_DTYPE_I32: lo = INT32_MIN, hi = INT32_MAX; break;
        case STRATA_DTYPE_U8: lo = 0, hi = UINT8_MAX; break;
        case STRATA_DTYPE_U16: lo = 0, hi = UINT16_MAX; break;
        case STRATA_DTYPE_U32: lo = 0, hi = UINT32_MAX; break;
        case STRATA_DTYPE_I64: lo = INT64_MIN, hi = INT64_MAX; break;
        case STRATA_DTYPE_U64: lo = 0, hi = INT64_MAX; break;
        default:
            snprintf(f->err, f->n_err, "input '%s': %s data cannot be sent as JSON", f->name, model_config_kserve_dtype(t));
            return false;
        }
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
            (v->valuedouble == 0 && signbit(v->valuedouble)))
            goto type_err;
        double d = v->valuedouble;
        if (d < (double)lo || d > (double)hi || (t == STRATA_DTYPE_I64 && d >= 9223372036854775807.0)) goto range_err;
        int64_t x = (int64_t)d;
        switch (f->size) {
        case 1: { uint8_t b = (uint8_t)x; memcpy(p, &b, 1); break; }
        case 2: { uint16_t b = (uint16_t)x; memcpy(p, &b, 2); break; }
        case 4: { uint32_t b = (uint32_t)x; memcpy(p, &b, 4); break; }
        default: memcpy(p, &x, 8); break;
        }
    }
    f->idx++;
    return true;
type_err:
    snprintf(f->err, f->n_err, "input '%s': element %lld is not a valid %s value", f->name, (long long)f->idx,
             model_config_kserve_dtype(t));
    return false;
range_err:
    snprintf(f->err, f->n_err, "input '%s': element %lld (%g) is out of range for %s", f->name, (long long)f->idx,
             v->valuedouble, model_config_kserve_dtype(t));
    return false;
}

static bool fill_nested(fill_ctx *f, const cJSON *a, int level, int rank, const int64_t *dims)
{
    if (level == rank) return put_value(f, a);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != dims[level]) {
        snprintf(f->err, f->n_err, "input '%s': nested data does not match the shape at dim %d (want %lld elements)",
                 f->name, level, (long long)dims[level]);
        return false;
    }
    for (const cJSON *c = a->child; c; c = c->next)
        if (!fill_nested(f, c, level + 1, rank, dims)) return false;
    return true;
}

/* ---- infer request parsing --------------------------------------------------------------------------------- */

typedef struct parse_ctx {
    const char *bin;             /* binary region after the JSON header */
    size_t n_bin, used_bin;
    size_t json_len;             /* bytes of the JSON (bounds element counts) */
    char err[512];
} parse_ctx;

static bool parse_input(parse_ctx *pc, const cJSON *in, infer_request *r, size_t index)
{
    char *err = pc->err;
    size_t ne = sizeof pc->err;
    char what[64];
    snprintf(what, sizeof what, "inputs[%zu]", index);
    if (!cJSON_IsObject(in)) return snprintf(err, ne, "%s is not an object", what), false;
    if (!members_ok(in, what, err, ne)) return false;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (!request_input_begin(r, index, cJSON_IsString(name) ? name->valuestring : NULL,
                             cJSON_IsString(dt) ? dt->valuestring : NULL, err, ne))
        return false;
    infer_tensor *t = &r->inputs[index];
    if (!cJSON_IsArray(shape)) return snprintf(err, ne, "input '%s': 'shape' must be an array", t->name), false;
    int rank = cJSON_GetArraySize(shape);
    if (rank > MAX_INPUT_RANK) return snprintf(err, ne, "input '%s': rank %d exceeds %d", t->name, rank, MAX_INPUT_RANK), false;
    int64_t dims[MAX_INPUT_RANK];
    size_t nd = 0;
    for (const cJSON *d = shape->child; d && nd < MAX_INPUT_RANK; d = d->next) {
        if (!json_int(d, 0, INT64_MAX, &dims[nd]))
            return snprintf(err, ne, "input '%s': shape dim %zu must be a non-negative integer", t->name, nd), false;
        nd++;
    }
    if (!request_input_shape(t, nd, dims, err, ne)) return false; /* byte size bounded (request.c) */
    size_t esize = strata_dtype_size(t->dtype);
    int64_t numel = (int64_t)(t->n_bytes / esize);
    int64_t bin_size = -1;
    if (params) {
        if (!cJSON_IsObject(params)) return snprintf(err, ne, "input '%s': 'parameters' must be an object", t->name), false;
        if (!members_ok(params, "input parameters", err, ne)) return false;
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
        if (b && !json_int(b, 0, INT64_MAX, &bin_size))
            return snprintf(err, ne, "input '%s': binary_data_size must be a non-negative integer", t->name), false;
    }
    if (bin_size >= 0 && data)
        return snprintf(err, ne, "input '%s': both 'data' and binary_data_size are given", t->name), false;
    if (bin_size >= 0) {
        if ((uint64_t)bin_size != t->n_bytes)
            return snprintf(err, ne, "input '%s': binary_data_size %lld differs from shape x datatype = %zu bytes", t->name,
                            (long long)bin_size, t->n_bytes), false;
        if (pc->n_bin - pc->used_bin < t->n_bytes)
            return snprintf(err, ne, "input '%s': binary_data_size %lld runs past the end of the body (%zu bytes left)", t->name,
                            (long long)bin_size, pc->n_bin - pc->used_bin), false;
        t->data = (void *)(pc->bin + pc->used_bin);
        t->owned = false;
        pc->used_bin += t->n_bytes;
        return true;
    }
    if (!data) return snprintf(err, ne, "input '%s': no 'data' and no binary_data_size", t->name), false;
    if (!cJSON_IsArray(data)) return snprintf(err, ne, "input '%s': 'data' must be an array", t->name), false;
    if ((uint64_t)numel > pc->json_len)
        return snprintf(err, ne, "input '%s': shape has %lld elements, more than the data can hold", t->name, (long long)numel), false;
    t->data = mem_alloc(t->n_bytes ? t->n_bytes : 1);
    if (!t->data) return snprintf(err, ne, "input '%s': out of memory", t->name), false;
    t->owned = true;
    fill_ctx f = {t->data, t->dtype, esize, 0, numel, t->name, err, ne};
    bool nested = data->child && cJSON_IsArray(data->child);
    if (nested) {
        if (!fill_nested(&f, data, 0, t->rank, t->dims)) return false;
    } else {
        for (const cJSON *c = data->child; c; c = c->next) {
            if (cJSON_IsArray(c) || cJSON_IsObject(c))
                return snprintf(err, ne, "input '%s': data mixes numbers and arrays (jagged)", t->name), false;
            if (!put_value(&f, c)) return false;
        }
    }
    if (f.idx != numel)
        return snprintf(err, ne, "input '%s': data has %lld elements, the shape %lld", t->name, (long long)f.idx,
                        (long long)numel), false;
    return true;
}

static bool parse_params(parse_ctx *pc, const cJSON *p, infer_request *r)
{
    char *err = pc->err;
    size_t ne = sizeof pc->err;
    if (!cJSON_IsObject(p)) return snprintf(err, ne, "'parameters' must be an object"), false;
    if (!members_ok(p, "parameters", err, ne)) return false;
    for (const cJSON *v = p->child; v; v = v->next) {
        if (!(cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v)))
            return snprintf(err, ne, "parameter '%.64s' must be a string, number or boolean", v->string), false;
        if (strcmp(v->string, "binary_data_output") == 0) {
            if (!cJSON_IsBool(v)) return snprintf(err, ne, "parameter binary_data_output must be a boolean"), false;
            r->all_outputs_binary = cJSON_IsTrue(v);
        } else {
            int64_t x = 0;
            bool is_int = json_int(v, -((int64_t)1 << 62), (int64_t)1 << 62, &x);
            if (!request_param_int(r, v->string, is_int, x, err, ne)) return false; /* priority, timeout */
        }
    }
    return true;
}

static bool parse_outputs(parse_ctx *pc, const cJSON *outs, infer_request *r)
{
    char *err = pc->err;
    size_t ne = sizeof pc->err;
    if (!cJSON_IsArray(outs)) return snprintf(err, ne, "'outputs' must be an array"), false;
    int n = cJSON_GetArraySize(outs);
    if (n > SERVER_MAX_IO) return snprintf(err, ne, "%d outputs requested, more than %d", n, SERVER_MAX_IO), false;
    size_t i = 0;
    for (const cJSON *o = outs->child; o; o = o->next, i++) {
        char what[64];
        snprintf(what, sizeof what, "outputs[%zu]", i);
        if (!cJSON_IsObject(o)) return snprintf(err, ne, "%s is not an object", what), false;
        if (!members_ok(o, what, err, ne)) return false;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= SERVER_MAX_NAME)
            return snprintf(err, ne, "%s: 'name' must be a non-empty string", what), false;
        infer_tensor *t = &r->outputs[i];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name->valuestring);
        t->binary = r->all_outputs_binary;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        if (p) {
            if (!cJSON_IsObject(p)) return snprintf(err, ne, "output '%s': 'parameters' must be an object", t->name), false;
            if (!members_ok(p, "output parameters", err, ne)) return false;
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(p, "binary_data");
            if (b && !cJSON_IsBool(b)) return snprintf(err, ne, "output '%s': binary_data must be a boolean", t->name), false;
            if (b) t->binary = cJSON_IsTrue(b);
            if (cJSON_GetObjectItemCaseSensitive(p, "classification"))
                return snprintf(err, ne, "output '%s': the classification extension is not supported", t->name), false;
        }
    }
    r->n_outputs = i;
    return true;
}

/* Builds r from a JSON header (and binary region); false with pc->err on a bad request. */
static bool parse_infer(parse_ctx *pc, const char *json, size_t n_json, infer_request *r)
{
    char *err = pc->err;
    size_t ne = sizeof pc->err;
    if (n_json == 0) return snprintf(err, ne, "empty request body"), false;
    if (!json_precheck(json, n_json, err, ne)) return false;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, n_json, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= json && at <= json + n_json ? (size_t)(at - json) : 0;
        return snprintf(err, ne, "malformed JSON at offset %zu", off), false;
    }
    bool ok = false;
    for (const char *p = end; p && p < json + n_json; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            snprintf(err, ne, "trailing bytes after the JSON at offset %zu", (size_t)(p - json));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        snprintf(err, ne, "the request must be a JSON object");
        goto done;
    }
    if (!members_ok(root, "the request", err, ne)) goto done;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id) {
        if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof r->id) {
            snprintf(err, ne, "'id' must be a string of at most %zu bytes", sizeof r->id - 1);
            goto done;
        }
        snprintf(r->id, sizeof r->id, "%s", id->valuestring);
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (params && !parse_params(pc, params, r)) goto done;
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) == 0) {
        snprintf(err, ne, "'inputs' must be a non-empty array");
        goto done;
    }
    if (cJSON_GetArraySize(inputs) > SERVER_MAX_IO) {
        snprintf(err, ne, "%d inputs, more than %d", cJSON_GetArraySize(inputs), SERVER_MAX_IO);
        goto done;
    }
    size_t i = 0;
    for (const cJSON *in = inputs->child; in; in = in->next, i++) {
        r->n_inputs = i + 1;
        if (!parse_input(pc, in, r, i)) goto done;
    }
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (outs && !parse_outputs(pc, outs, r)) goto done;
    if (pc->used_bin != pc->n_bin) {
        snprintf(err, ne, "the binary data is %zu bytes, the inputs' binary_data_size add up to %zu", pc->n_bin, pc->used_bin);
        goto done;
    }
    ok = true;
done:
    cJSON_Delete(root);
    return ok;
}

/* ---- waiting for the answer ---------------------------------------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} waiter;

static void on_done(infer_request *r, void *user)
{
    waiter *w = user;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_for(scheduler *s, infer_request *r, waiter *w)
{
    uint64_t deadline = r->deadline_ns;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (!deadline) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0 && !w->done) {
            pthread_mutex_unlock(&w->mu);
            scheduler_cancel(s, r); /* answers at once if still queued; else it is running */
            pthread_mutex_lock(&w->mu);
            deadline = 0;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

/* ---- responses ------------------------------------------------------------------------------------------------- */

static cJSON *shape_json(int rank, const int64_t *dims)
{
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; a && d < rank; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)dims[d]));
    return a;
}

static cJSON *data_json(const infer_tensor *t)
{
    cJSON *a = cJSON_CreateArray();
    if (!a) return NULL;
    size_t esize = strata_dtype_size(t->dtype), n = esize ? t->n_bytes / esize : 0;
    const uint8_t *p = t->data;
    cJSON *last = NULL;
    for (size_t i = 0; i < n; i++, p += esize) {
        cJSON *v;
        switch (t->dtype) {
        case STRATA_DTYPE_BOOL: v = cJSON_CreateBool(*p != 0); break;
        case STRATA_DTYPE_F32: { float x; memcpy(&x, p, 4); v = cJSON_CreateNumber(x); break; }
        case STRATA_DTYPE_F64: { double x; memcpy(&x, p, 8); v = cJSON_CreateNumber(x); break; }
        case STRATA_DTYPE_F16: { uint16_t x; memcpy(&x, p, 2); v = cJSON_CreateNumber(f16_to_f32(x)); break; }
        case STRATA_DTYPE_BF16: { uint16_t x; memcpy(&x, p, 2); v = cJSON_CreateNumber(bf16_to_f32(x)); break; }
        case STRATA_DTYPE_I8: v = cJSON_CreateNumber((int8_t)*p); break;
        case STRATA_DTYPE_U8: v = cJSON_CreateNumber(*p); break;
        case STRATA_DTYPE_I16: { int16_t x; memcpy(&x, p, 2); v = cJSON_CreateNumber(x); break; }
        case STRATA_DTYPE_U16: { uint16_t x; memcpy(&x, p, 2); v = cJSON_CreateNumber(x); break; }
        case STRATA_DTYPE_I32: { int32_t x; memcpy(&x, p, 4); v = cJSON_CreateNumber(x); break; }
        case STRATA_DTYPE_U32: { uint32_t x; memcpy(&x, p, 4); v = cJSON_CreateNumber(x); break; }
        case STRATA_DTYPE_I64: { int64_t x; memcpy(&x, p, 8); v = cJSON_CreateNumber((double)x); break; }
        case STRATA_DTYPE_U64: { uint64_t x; memcpy(&x, p, 8); v = cJSON_CreateNumber((double)x); break; }
        default: v = NULL; break;
        }
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        /* append in O(1) (cJSON_AddItemToArray walks the list) */
        if (!last) {
            a->child = v;
        } else {
            last->next = v;
            v->prev = last;
        }
        a->child->prev = v;
        last = v;
    }
    return a;
}

static void infer_response(const infer_request *r, http_response *res)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *outs = j ? cJSON_AddArrayToObject(j, "outputs") : NULL;
    if (!outs) goto oom;
    cJSON_AddStringToObject(j, "model_name", r->mv->model);
    cJSON_AddStringToObject(j, "model_version", r->mv->version_str);
    if (r->id[0]) cJSON_AddStringToObject(j, "id", r->id);
    size_t n_bin = 0;
    for (size_t o = 0; o < r->n_outputs; o++) {
        const infer_tensor *t = &r->outputs[o];
        cJSON *e = cJSON_CreateObject();
        if (!e) goto oom;
        cJSON_AddItemToArray(outs, e);
        cJSON_AddStringToObject(e, "name", t->name);
        cJSON_AddStringToObject(e, "datatype", model_config_kserve_dtype(t->dtype));
        cJSON_AddItemToObject(e, "shape", shape_json(t->rank, t->dims));
        if (t->binary) {
            cJSON *p = cJSON_AddObjectToObject(e, "parameters");
            if (!p) goto oom;
            cJSON_AddNumberToObject(p, "binary_data_size", (double)t->n_bytes);
            n_bin += t->n_bytes;
        } else {
            cJSON *d = data_json(t);
            if (!d) goto oom;
            cJSON_AddItemToObject(e, "data", d);
        }
    }
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    j = NULL;
    if (!text) goto oom;
    size_t n_text = strlen(text);
    res->body = mem_alloc(n_text + n_bin + 1);
    if (!res->body) {
        cJSON_free(text);
        goto oom;
    }
    memcpy(res->body, text, n_text);
    cJSON_free(text);
    size_t off = n_text;
    for (size_t o = 0; o < r->n_outputs; o++)
        if (r->outputs[o].binary) {
            memcpy(res->body + off, r->outputs[o].data, r->outputs[o].n_bytes);
            off += r->outputs[o].n_bytes;
        }
    res->n_body = off;
    res->status = 200;
    if (n_bin) {
        res->content_type = "application/octet-stream";
        snprintf(res->header_name, sizeof res->header_name, "Inference-Header-Content-Length");
        snprintf(res->header_value, sizeof res->header_value, "%zu", n_text);
    } else {
        res->content_type = "application/json";
    }
    return;
oom:
    cJSON_Delete(j);
    http_error(res, 500, "out of memory building the response");
}

/* Raw binary request (Inference-Header-Content-Length: 0): the body is the one input, batch 1. */
static bool parse_raw(parse_ctx *pc, const model_version *mv, const char *body, size_t n, infer_request *r)
{
    const model_config *c = mv->config;
    if (c->n_inputs != 1)
        return snprintf(pc->err, sizeof pc->err, "a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; '%s' has %zu",
                        mv->model, c->n_inputs), false;
    const config_io *io = &c->inputs[0];
    infer_tensor *t = &r->inputs[0];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", io->name);
    t->dtype = io->dtype;
    if (c->max_batch_size > 0) t->dims[t->rank++] = 1;
    for (int d = 0; d < io->rank; d++) {
        if (io->dims[d] < 0)
            return snprintf(pc->err, sizeof pc->err, "a raw binary request needs fixed dims; input '%s' has a variable dim", io->name), false;
        t->dims[t->rank++] = io->dims[d];
    }
    t->n_bytes = (size_t)shape_numel(t->rank, t->dims) * strata_dtype_size(t->dtype);
    if (t->n_bytes != n)
        return snprintf(pc->err, sizeof pc->err, "raw binary body is %zu bytes, input '%s' takes %zu", n, io->name, t->n_bytes), false;
    t->data = (void *)body;
    r->n_inputs = 1;
    r->all_outputs_binary = true;
    return true;
}

static void handle_infer(kserve_ctx *k, const http_request *req, const char *model, const char *version,
                         http_response *res)
{
    model_version *mv = NULL;
    infer_request *r = NULL;
    waiter w;
    bool waiter_ready = false;
    if (atomic_load(&k->draining)) {
        http_error(res, 503, "the server is shutting down");
        return;
    }
    strata_status st = repository_acquire(k->repo, model, version, &mv);
    if (st != STRATA_OK) {
        fail_status(res, st);
        return;
    }
    r = mem_calloc(1, sizeof *r);
    parse_ctx *pc = mem_calloc(1, sizeof *pc);
    if (!r || !pc) {
        http_error(res, 503, "out of memory");
        goto done;
    }
    r->mv = mv;
    const char *icl = http_header(req, "Inference-Header-Content-Length");
    size_t n_json = req->n_body;
    bool ok;
    if (icl) {
        uint64_t v = 0;
        bool digits = icl[0] != 0;
        for (const char *p = icl; *p && digits; p++) {
            if (*p < '0' || *p > '9' || v > SERVER_MAX_BODY) digits = false;
            else v = v * 10 + (uint64_t)(*p - '0');
        }
        if (!digits) {
            http_error(res, 400, "Inference-Header-Content-Length '%.32s' is not a byte count", icl);
            goto done;
        }
        if (v > req->n_body) {
            http_error(res, 400, "Inference-Header-Content-Length %llu is larger than the body (%zu bytes)",
                       (unsigned long long)v, req->n_body);
            goto done;
        }
        n_json = (size_t)v;
    }
    if (icl && n_json == 0) {
        ok = parse_raw(pc, mv, req->body, req->n_body, r);
    } else {
        pc->bin = req->body + n_json;
        pc->n_bin = req->n_body - n_json;
        pc->json_len = n_json;
        ok = parse_infer(pc, req->body, n_json, r);
    }
    if (!ok) {
        http_error(res, 400, "model '%s': %s", mv->model, pc->err);
        goto done;
    }
    pthread_mutex_init(&w.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    w.done = false;
    waiter_ready = true;
    r->done = on_done;
    r->user = &w;
    st = scheduler_submit(mv->sched, r);
    if (st != STRATA_OK) {
        metrics_record_request(&mv->metrics, false, st == STRATA_QUEUE_FULL, 0, 0, 0, 0, 0);
        fail_status(res, st);
        goto done;
    }
    wait_for(mv->sched, r, &w);
    if (r->status != STRATA_OK) set_error(res, r->status, r->error);
    else infer_response(r, res);
done:
    if (waiter_ready) {
        pthread_cond_destroy(&w.cv);
        pthread_mutex_destroy(&w.mu);
    }
    if (r) infer_request_release(r);
    mem_free(r);
    mem_free(pc);
    repository_release(mv);
}

/* ---- metadata routes -------------------------------------------------------------------------------------- */

static cJSON *tensor_meta(const config_io *io, bool batch)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", io->name);
    cJSON_AddStringToObject(o, "datatype", model_config_kserve_dtype(io->dtype));
    int64_t dims[STRATA_MAX_DIMS + 1];
    int rank = 0;
    if (batch) dims[rank++] = -1;
    for (int d = 0; d < io->rank; d++) dims[rank++] = io->dims[d];
    cJSON_AddItemToObject(o, "shape", shape_json(rank, dims));
    return o;
}

static void model_metadata(kserve_ctx *k, model_version *mv, http_response *res)
{
    const model_config *c = mv->config;
    cJSON *j = cJSON_CreateObject();
    if (!j) {
        http_error(res, 500, "out of memory");
        return;
    }
    cJSON_AddStringToObject(j, "name", mv->model);
    const char *versions[SERVER_MAX_VERSIONS];
    size_t n = repository_versions(k->repo, mv->model, versions, SERVER_MAX_VERSIONS);
    cJSON *va = cJSON_AddArrayToObject(j, "versions");
    for (size_t i = 0; va && i < n; i++) cJSON_AddItemToArray(va, cJSON_CreateString(versions[i]));
    cJSON_AddStringToObject(j, "platform", c->platform);
    cJSON *in = cJSON_AddArrayToObject(j, "inputs"), *out = cJSON_AddArrayToObject(j, "outputs");
    for (size_t i = 0; in && i < c->n_inputs; i++) cJSON_AddItemToArray(in, tensor_meta(&c->inputs[i], c->max_batch_size > 0));
    for (size_t i = 0; out && i < c->n_outputs; i++) cJSON_AddItemToArray(out, tensor_meta(&c->outputs[i], c->max_batch_size > 0));
    http_json(res, 200, j);
    cJSON_Delete(j);
}

static void server_metadata(http_response *res)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *ext = j ? cJSON_AddArrayToObject(j, "extensions") : NULL;
    if (!ext) {
        cJSON_Delete(j);
        http_error(res, 500, "out of memory");
        return;
    }
    cJSON_AddStringToObject(j, "name", "strata");
    cJSON_AddStringToObject(j, "version", STRATA_VERSION_STRING);
    static const char *const names[] = {"binary_tensor_data", "model_configuration", "statistics",
                                        "model_repository", "schedule_policy"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) cJSON_AddItemToArray(ext, cJSON_CreateString(names[i]));
    http_json(res, 200, j);
    cJSON_Delete(j);
}

static void flag_response(http_response *res, const char *key, bool value, const char *name)
{
    cJSON *j = cJSON_CreateObject();
    if (j && name) cJSON_AddStringToObject(j, "name", name);
    if (j) cJSON_AddBoolToObject(j, key, value);
    if (j) http_json(res, 200, j);
    else http_error(res, 500, "out of memory");
    cJSON_Delete(j);
}

static void repository_index(kserve_ctx *k, const http_request *req, http_response *res)
{
    bool ready_only = false;
    if (req->n_body) {
        char err[200];
        if (!json_precheck(req->body, req->n_body, err, sizeof err)) {
            http_error(res, 400, "%s", err);
            return;
        }
        cJSON *b = cJSON_ParseWithLength(req->body, req->n_body);
        if (!b || !cJSON_IsObject(b)) {
            cJSON_Delete(b);
            http_error(res, 400, "repository index: the body must be a JSON object");
            return;
        }
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(b, "ready");
        if (r && !cJSON_IsBool(r)) {
            cJSON_Delete(b);
            http_error(res, 400, "repository index: 'ready' must be a boolean");
            return;
        }
        ready_only = r && cJSON_IsTrue(r);
        cJSON_Delete(b);
    }
    cJSON *a = repository_index_json(k->repo, ready_only);
    if (!a) {
        http_error(res, 500, "out of memory");
        return;
    }
    http_json(res, 200, a);
    cJSON_Delete(a);
}

/* POST /v2/repository/models/{m}/load|unload (explicit mode; Triton's semantics: a load of a loaded
 * model reloads it, the answer comes when the new version serves; an unload returns at once and
 * in-flight requests drain). Load parameters (config, file:) are not supported. */
static void repository_control(kserve_ctx *k, const http_request *req, const char *model, bool load,
                               http_response *res)
{
    if (req->n_body) {
        char err[200];
        if (!json_precheck(req->body, req->n_body, err, sizeof err)) {
            http_error(res, 400, "%s", err);
            return;
        }
        cJSON *b = cJSON_ParseWithLength(req->body, req->n_body);
        const cJSON *p = b ? cJSON_GetObjectItemCaseSensitive(b, "parameters") : NULL;
        bool ok = b && cJSON_IsObject(b) && (!p || cJSON_IsObject(p));
        const char *bad = NULL;
        for (const cJSON *v = ok && p ? p->child : NULL; v && !bad; v = v->next)
            if (strcmp(v->string, "unload_dependents") != 0) bad = v->string;
        cJSON_Delete(b);
        if (!ok) {
            http_error(res, 400, "repository %s: the body must be a JSON object with optional 'parameters'", load ? "load" : "unload");
            return;
        }
        if (bad) {
            http_error(res, 400, "repository %s: parameter '%.64s' is not supported", load ? "load" : "unload", bad);
            return;
        }
    }
    if (atomic_load(&k->draining)) {
        http_error(res, 503, "the server is shutting down");
        return;
    }
    strata_status st = load ? repository_load_model(k->repo, model) : repository_unload_model(k->repo, model);
    if (st != STRATA_OK) {
        http_error(res, 400, "%s", strata_last_error());
        return;
    }
    res->status = 200;
    res->content_type = "application/json";
    res->body = mem_alloc(3);
    if (!res->body) {
        http_error(res, 500, "out of memory");
        return;
    }
    memcpy(res->body, "{}", 3);
    res->n_body = 2;
}

static void stats_response(kserve_ctx *k, const char *model, const char *version, http_response *res)
{
    cJSON *j = NULL;
    strata_status st = metrics_stats_json(k->repo, model, version, &j);
    if (st != STRATA_OK) {
        fail_status(res, st);
        return;
    }
    http_json(res, 200, j);
    cJSON_Delete(j);
}

/* ---- routing ---------------------------------------------------------------------------------------------- */

static bool method_known(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < ARRAY_LEN(known); i++)
        if (strcmp(m, known[i]) == 0) return true;
    return false;
}

static bool method_is(const http_request *req, http_response *res, const char *want)
{
    bool get = strcmp(want, "GET") == 0;
    if (strcmp(req->method, want) == 0 || (get && strcmp(req->method, "HEAD") == 0)) return true;
    http_error(res, 405, "%s is not allowed here (use %s)", req->method, want);
    snprintf(res->header_name, sizeof res->header_name, "Allow");
    snprintf(res->header_value, sizeof res->header_value, "%s", get ? "GET, HEAD" : want);
    return false;
}

static void route(kserve_ctx *k, const http_request *req, http_response *res)
{
    if (!method_known(req->method)) {
        http_error(res, 501, "method '%.16s' is not implemented", req->method);
        return;
    }
    char path[8200];
    if (strlen(req->url) >= sizeof path) {
        http_error(res, 414, "URL too long");
        return;
    }
    snprintf(path, sizeof path, "%s", req->url);
    char *seg[MAX_SEGMENTS];
    size_t n = 0;
    char *p = path;
    if (*p != '/') goto not_found;
    p++;
    while (*p) {
        if (n == MAX_SEGMENTS) goto not_found;
        seg[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash) break;
        *slash = 0;
        p = slash + 1;
        if (!*p) goto not_found; /* trailing slash */
    }
    for (size_t i = 0; i < n; i++)
        if (!seg[i][0]) goto not_found;
    if (n == 0 || strcmp(seg[0], "v2") != 0) goto not_found;
    if (n == 1) {
        if (method_is(req, res, "GET")) server_metadata(res);
        return;
    }
    if (n == 3 && strcmp(seg[1], "health") == 0 && (strcmp(seg[2], "live") == 0 || strcmp(seg[2], "ready") == 0)) {
        if (!method_is(req, res, "GET")) return;
        if (seg[2][0] == 'l') {
            flag_response(res, "live", true, NULL);
        } else if (atomic_load(&k->draining)) {
            http_error(res, 400, "the server is shutting down");
        } else if (!repository_ready(k->repo)) {
            http_error(res, 400, "not every model loaded (see POST /v2/repository/index)");
        } else {
            flag_response(res, "ready", true, NULL);
        }
        return;
    }
    if (n == 3 && strcmp(seg[1], "repository") == 0 && strcmp(seg[2], "index") == 0) {
        if (method_is(req, res, "POST")) repository_index(k, req, res);
        return;
    }
    if (n == 5 && strcmp(seg[1], "repository") == 0 && strcmp(seg[2], "models") == 0 &&
        (strcmp(seg[4], "load") == 0 || strcmp(seg[4], "unload") == 0)) {
        if (method_is(req, res, "POST")) repository_control(k, req, seg[3], seg[4][0] == 'l', res);
        return;
    }
    if (n == 3 && strcmp(seg[1], "models") == 0 && strcmp(seg[2], "stats") == 0) {
        if (method_is(req, res, "GET")) stats_response(k, NULL, NULL, res);
        return;
    }
    if (n >= 3 && strcmp(seg[1], "models") == 0) {
        const char *model = seg[2], *version = NULL, *action = NULL;
        size_t i = 3;
        if (n >= 5 && strcmp(seg[3], "versions") == 0) {
            version = seg[4];
            i = 5;
        }
        if (i < n) action = seg[i++];
        if (i != n) goto not_found;
        if (action && strcmp(action, "infer") == 0) {
            if (method_is(req, res, "POST")) handle_infer(k, req, model, version, res);
            return;
        }
        if (action && strcmp(action, "ready") != 0 && strcmp(action, "config") != 0 && strcmp(action, "stats") != 0)
            goto not_found;
        if (!method_is(req, res, "GET")) return;
        if (action && strcmp(action, "stats") == 0) {
            if (!model_config_name_valid(model)) {
                http_error(res, 400, "'%.64s' is not a valid model name", model);
                return;
            }
            stats_response(k, model, version, res);
            return;
        }
        model_version *mv = NULL;
        strata_status st = repository_acquire(k->repo, model, version, &mv);
        if (action && strcmp(action, "ready") == 0) {
            if (st == STRATA_OK) flag_response(res, "ready", true, mv->model);
            else if (st == STRATA_QUEUE_FULL) http_error(res, 400, "%s", strata_last_error());
            else fail_status(res, st);
        } else if (st != STRATA_OK) {
            fail_status(res, st);
        } else if (action) {
            cJSON *j = model_config_to_json(mv->config);
            if (j) http_json(res, 200, j);
            else http_error(res, 500, "out of memory");
            cJSON_Delete(j);
        } else {
            model_metadata(k, mv, res);
        }
        repository_release(mv);
        return;
    }
not_found:
    http_error(res, 404, "no route for %.16s %.200s", req->method, req->url);
}

void kserve_http_handle(void *ctx, const http_request *req, http_response *res)
{
    kserve_ctx *k = ctx;
    atomic_fetch_add(&k->in_flight, 1);
    route(k, req, res);
    atomic_fetch_sub(&k->in_flight, 1);
}

void kserve_http_metrics(void *ctx, const http_request *req, http_response *res)
{
    kserve_ctx *k = ctx;
    if (strcmp(req->url, "/metrics") != 0) {
        http_error(res, 404, "metrics are at /metrics");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_error(res, 405, "GET /metrics");
        return;
    }
    size_t n = 0;
    char *text = metrics_render(k->repo, &n);
    if (!text) {
        http_error(res, 500, "out of memory");
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    res->body = text;
    res->n_body = n;
}
