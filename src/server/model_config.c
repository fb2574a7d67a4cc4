/* server/model_config.c — config.pbtxt: a small reader for protobuf text format (bounded size and
 * nesting, errors as file:line:col), the Triton ModelConfig fields the server uses, completion of
 * a config from the model's interface, and the config as Triton's JSON. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PB_MAX_DEPTH 32
#define PB_MAX_NODES 100000

/* One field of the text: a scalar (value) or a message (children). */
typedef struct pb_node {
    char key[64];       /* field name */
    int line, col;      /* where the field name starts */
    bool is_msg;        /* message: children; else scalar value */
    bool is_string;     /* scalar given as a quoted string */
    char *value;        /* scalar text (strings unescaped), owned */
    int first, next;    /* first child / next sibling index, -1 = none */
} pb_node;

typedef struct pb_doc {
    const char *src, *end, *p;  /* text and cursor */
    const char *source;         /* file name for messages */
    int line;                   /* line of p */
    const char *line_start;     /* start of that line */
    pb_node *nodes;             /* all nodes; 0 is the root */
    int n_nodes, cap_nodes;
} pb_doc;

static strata_status pb_err(pb_doc *d, const char *fmt, const char *what)
{
    return error_set(STRATA_INVALID_MODEL, "%s:%d:%d: %s%s", d->source, d->line,
                     (int)(d->p - d->line_start) + 1, fmt, what ? what : "");
}

static void skip_space(pb_doc *d)
{
    while (d->p < d->end) {
        char c = *d->p;
        if (c == '\n') {
            d->p++;
            d->line++;
            d->line_start = d->p;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            d->p++;
        } else if (c == '#') {
            while (d->p < d->end && *d->p != '\n') d->p++;
        } else {
            break;
        }
    }
}

static int new_node(pb_doc *d)
{
    if (d->n_nodes >= PB_MAX_NODES) return -1;
    if (d->n_nodes == d->cap_nodes) {
        int cap = d->cap_nodes ? d->cap_nodes * 2 : 64;
        pb_node *n = mem_realloc(d->nodes, (size_t)cap * sizeof *n);
        if (!n) return -2;
        d->nodes = n;
        d->cap_nodes = cap;
    }
    pb_node *n = &d->nodes[d->n_nodes];
    memset(n, 0, sizeof *n);
    n->first = n->next = -1;
    return d->n_nodes++;
}

static bool is_ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* A scalar token: quoted string (unescaped) or a bare word/number. */
static strata_status parse_scalar(pb_doc *d, int idx)
{
    pb_node *n = &d->nodes[idx];
    if (d->p >= d->end) return pb_err(d, "expected a value, found the end of the file", NULL);
    char q = *d->p;
    if (q == '"' || q == '\'') {
        const char *s = ++d->p;
        size_t cap = 0;
        while (d->p < d->end && *d->p != q && *d->p != '\n') {
            if (*d->p == '\\' && d->p + 1 < d->end) d->p++;
            d->p++;
            cap++;
        }
        if (d->p >= d->end || *d->p != q) return pb_err(d, "unterminated string", NULL);
        char *v = mem_alloc(cap + 1);
        if (!v) return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", d->source);
        size_t k = 0;
        for (const char *c = s; c < d->p; c++) {
            if (*c == '\\' && c + 1 < d->p) {
                c++;
                v[k++] = *c == 'n' ? '\n' : *c == 't' ? '\t' : *c;
            } else {
                v[k++] = *c;
            }
        }
        v[k] = 0;
        d->p++;
        d->nodes[idx].value = v;
        d->nodes[idx].is_string = true;
        return STRATA_OK;
    }
    const char *s = d->p;
    while (d->p < d->end && (is_ident_char(*d->p) || *d->p == '-' || *d->p == '+' || *d->p == '.'))
        d->p++;
    if (d->p == s) return pb_err(d, "expected a value", NULL);
    n->value = mem_strndup(s, (size_t)(d->p - s));
    if (!n->value) return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", d->source);
    return STRATA_OK;
}

static strata_status parse_fields(pb_doc *d, int parent, char close, int depth);

/* Appends a child of parent named key at (line, col); returns its index or a negative error. */
static int add_child(pb_doc *d, int parent, int *last, const char *key, int line, int col)
{
    int idx = new_node(d);
    if (idx < 0) return idx;
    pb_node *n = &d->nodes[idx];
    snprintf(n->key, sizeof n->key, "%s", key);
    n->line = line;
    n->col = col;
    if (*last < 0) d->nodes[parent].first = idx;
    else d->nodes[*last].next = idx;
    *last = idx;
    return idx;
}

static strata_status node_fail(pb_doc *d, int idx)
{
    if (idx == -1) return pb_err(d, "too many fields (more than 100000)", NULL);
    return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", d->source);
}

/* One value of field key: a message ({...} or <...>) or a scalar. */
static strata_status parse_value(pb_doc *d, int parent, int *last, const char *key, int line,
                                 int col, int depth)
{
    int idx = add_child(d, parent, last, key, line, col);
    if (idx < 0) return node_fail(d, idx);
    if (d->p < d->end && (*d->p == '{' || *d->p == '<')) {
        char close = *d->p == '{' ? '}' : '>';
        if (depth + 1 > PB_MAX_DEPTH) return pb_err(d, "messages nested deeper than 32", NULL);
        d->p++;
        d->nodes[idx].is_msg = true;
        return parse_fields(d, idx, close, depth + 1);
    }
    return parse_scalar(d, idx);
}

static strata_status parse_fields(pb_doc *d, int parent, char close, int depth)
{
    int last = -1;
    for (;;) {
        skip_space(d);
        if (d->p >= d->end) {
            if (close) return pb_err(d, "missing '", close == '}' ? "}' at the end of the file" : ">' at the end of the file");
            return STRATA_OK;
        }
        if (close && *d->p == close) {
            d->p++;
            return STRATA_OK;
        }
        if (*d->p == ',' || *d->p == ';') {
            d->p++;
            continue;
        }
        int line = d->line, col = (int)(d->p - d->line_start) + 1;
        const char *s = d->p;
        while (d->p < d->end && is_ident_char(*d->p)) d->p++;
        if (d->p == s) {
            char what[8];
            snprintf(what, sizeof what, "'%c'", *d->p);
            return pb_err(d, "expected a field name, found ", what);
        }
        char key[64];
        if ((size_t)(d->p - s) >= sizeof key) return pb_err(d, "field name too long", NULL);
        memcpy(key, s, (size_t)(d->p - s));
        key[d->p - s] = 0;
        skip_space(d);
        bool colon = false;
        if (d->p < d->end && *d->p == ':') {
            d->p++;
            colon = true;
            skip_space(d);
        }
        if (d->p < d->end && *d->p == '[') {
            d->p++;
            for (;;) {
                skip_space(d);
                if (d->p < d->end && *d->p == ']') {
                    d->p++;
                    break;
                }
                strata_status st = parse_value(d, parent, &last, key, line, col, depth);
                if (st != STRATA_OK) return st;
                skip_space(d);
                if (d->p < d->end && *d->p == ',') {
                    d->p++;
                } else if (d->p < d->end && *d->p == ']') {
                    d->p++;
                    break;
                } else {
                    return pb_err(d, "expected ',' or ']' in the list of ", key);
                }
            }
            continue;
        }
        if (!colon && !(d->p < d->end && (*d->p == '{' || *d->p == '<')))
            return pb_err(d, "expected ':' or '{' after ", key);
        strata_status st = parse_value(d, parent, &last, key, line, col, depth);
        if (st != STRATA_OK) return st;
    }
}

static void pb_free(pb_doc *d)
{
    for (int i = 0; i < d->n_nodes; i++) mem_free(d->nodes[i].value);
    mem_free(d->nodes);
}

/* ---- interpretation ------------------------------------------------------------------------------ */

static strata_status field_err(pb_doc *d, const pb_node *n, const char *fmt, ...) STRATA_PRINTF(3, 4);
static strata_status field_err(pb_doc *d, const pb_node *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(STRATA_INVALID_MODEL, "%s:%d:%d: %s", d->source, n->line, n->col, msg);
}

static strata_status want_scalar(pb_doc *d, const pb_node *n)
{
    if (n->is_msg) return field_err(d, n, "'%s' wants a value, not a message", n->key);
    return STRATA_OK;
}

static strata_status want_msg(pb_doc *d, const pb_node *n)
{
    if (!n->is_msg) return field_err(d, n, "'%s' wants a message { ... }", n->key);
    return STRATA_OK;
}

static strata_status get_int(pb_doc *d, const pb_node *n, int64_t lo, int64_t hi, int64_t *out)
{
    strata_status st = want_scalar(d, n);
    if (st != STRATA_OK) return st;
    char *endp;
    errno = 0;
    long long v = strtoll(n->value, &endp, 10);
    if (n->is_string || *endp || endp == n->value || errno)
        return field_err(d, n, "'%s' wants an integer, got '%s'", n->key, n->value);
    if (v < lo || v > hi)
        return field_err(d, n, "'%s' is %lld, outside [%lld, %lld]", n->key, v, (long long)lo,
                         (long long)hi);
    *out = v;
    return STRATA_OK;
}

static strata_status get_str(pb_doc *d, const pb_node *n, char *out, size_t cap)
{
    strata_status st = want_scalar(d, n);
    if (st != STRATA_OK) return st;
    if (strlen(n->value) >= cap) return field_err(d, n, "'%s' is longer than %zu bytes", n->key, cap - 1);
    snprintf(out, cap, "%s", n->value);
    return STRATA_OK;
}

static const struct {
    strata_dtype dtype;
    const char *kserve, *triton;
} dtype_names[] = {
    {STRATA_DTYPE_BOOL, "BOOL", "TYPE_BOOL"},   {STRATA_DTYPE_U8, "UINT8", "TYPE_UINT8"},
    {STRATA_DTYPE_U16, "UINT16", "TYPE_UINT16"}, {STRATA_DTYPE_U32, "UINT32", "TYPE_UINT32"},
    {STRATA_DTYPE_U64, "UINT64", "TYPE_UINT64"}, {STRATA_DTYPE_I8, "INT8", "TYPE_INT8"},
    {STRATA_DTYPE_I16, "INT16", "TYPE_INT16"},   {STRATA_DTYPE_I32, "INT32", "TYPE_INT32"},
    {STRATA_DTYPE_I64, "INT64", "TYPE_INT64"},   {STRATA_DTYPE_F16, "FP16", "TYPE_FP16"},
    {STRATA_DTYPE_F32, "FP32", "TYPE_FP32"},     {STRATA_DTYPE_F64, "FP64", "TYPE_FP64"},
    {STRATA_DTYPE_STRING, "BYTES", "TYPE_STRING"}, {STRATA_DTYPE_BF16, "BF16", "TYPE_BF16"},
};

const char *model_config_kserve_dtype(strata_dtype t)
{
    for (size_t i = 0; i < ARRAY_LEN(dtype_names); i++)
        if (dtype_names[i].dtype == t) return dtype_names[i].kserve;
    return "INVALID";
}

static const char *triton_dtype(strata_dtype t)
{
    for (size_t i = 0; i < ARRAY_LEN(dtype_names); i++)
        if (dtype_names[i].dtype == t) return dtype_names[i].triton;
    return "TYPE_INVALID";
}

strata_dtype model_config_dtype_from_kserve(const char *s)
{
    for (size_t i = 0; i < ARRAY_LEN(dtype_names); i++)
        if (strcmp(dtype_names[i].kserve, s) == 0) return dtype_names[i].dtype;
    return STRATA_DTYPE_UNDEFINED;
}

bool model_config_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return false;
    if (!(isalnum((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-')) return false;
    }
    return true;
}

static strata_status parse_dims(pb_doc *d, const pb_node *n, int *rank, int64_t *dims, bool allow_var)
{
    if (*rank >= STRATA_MAX_DIMS) return field_err(d, n, "more than %d dims", STRATA_MAX_DIMS);
    int64_t v;
    strata_status st = get_int(d, n, allow_var ? -1 : 0, STRATA_MAX_ELEMENTS, &v);
    if (st != STRATA_OK) return st;
    dims[(*rank)++] = v;
    return STRATA_OK;
}

static strata_status parse_io(pb_doc *d, const pb_node *m, config_io *io, bool is_input)
{
    strata_status st = want_msg(d, m);
    if (st != STRATA_OK) return st;
    memset(io, 0, sizeof *io);
    io->reshape_rank = -1;
    bool has_dims = false;
    for (int c = m->first; c >= 0; c = d->nodes[c].next) {
        const pb_node *n = &d->nodes[c];
        if (strcmp(n->key, "name") == 0) {
            st = get_str(d, n, io->name, sizeof io->name);
        } else if (strcmp(n->key, "data_type") == 0) {
            st = want_scalar(d, n);
            if (st == STRATA_OK) {
                io->dtype = STRATA_DTYPE_UNDEFINED;
                for (size_t i = 0; i < ARRAY_LEN(dtype_names); i++)
                    if (strcmp(dtype_names[i].triton, n->value) == 0) io->dtype = dtype_names[i].dtype;
                if (io->dtype == STRATA_DTYPE_UNDEFINED)
                    st = field_err(d, n, "unknown data_type '%s' (TYPE_FP32, TYPE_INT64, ...)", n->value);
            }
        } else if (strcmp(n->key, "dims") == 0) {
            has_dims = true;
            st = parse_dims(d, n, &io->rank, io->dims, true);
        } else if (strcmp(n->key, "reshape") == 0) {
            st = want_msg(d, n);
            io->reshape_rank = 0;
            for (int r = n->first; st == STRATA_OK && r >= 0; r = d->nodes[r].next) {
                if (strcmp(d->nodes[r].key, "shape") != 0)
                    st = field_err(d, &d->nodes[r], "unknown field '%s' in reshape", d->nodes[r].key);
                else
                    st = parse_dims(d, &d->nodes[r], &io->reshape_rank, io->reshape, true);
            }
        } else if (strcmp(n->key, "is_shape_tensor") == 0 || strcmp(n->key, "allow_ragged_batch") == 0) {
            if (!n->is_msg && strcmp(n->value, "true") == 0)
                st = field_err(d, n, "'%s' is not supported", n->key);
        } else if (strcmp(n->key, "format") == 0 || strcmp(n->key, "optional") == 0 ||
                   strcmp(n->key, "label_filename") == 0 ||
                   strcmp(n->key, "is_non_linear_format_io") == 0) {
            /* accepted, no effect */
        } else {
            st = field_err(d, n, "unknown field '%s' in %s", n->key, is_input ? "input" : "output");
        }
        if (st != STRATA_OK) return st;
    }
    if (!io->name[0]) return field_err(d, m, "%s without a name", is_input ? "input" : "output");
    if (io->dtype == STRATA_DTYPE_UNDEFINED)
        return field_err(d, m, "%s '%s' has no data_type", is_input ? "input" : "output", io->name);
    if (!has_dims) return field_err(d, m, "%s '%s' has no dims", is_input ? "input" : "output", io->name);
    return STRATA_OK;
}

static strata_status parse_queue_policy(pb_doc *d, const pb_node *m, model_config *c)
{
    strata_status st = want_msg(d, m);
    for (int k = m->first; st == STRATA_OK && k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "max_queue_size") == 0) {
            st = get_int(d, n, 0, SERVER_MAX_QUEUE, &c->max_queue_size);
        } else if (strcmp(n->key, "default_timeout_microseconds") == 0) {
            st = get_int(d, n, 0, (int64_t)1 << 40, &c->default_timeout_us);
        } else if (strcmp(n->key, "timeout_action") == 0) {
            st = want_scalar(d, n);
            if (st == STRATA_OK && strcmp(n->value, "REJECT") != 0 && strcmp(n->value, "DELAY") != 0)
                st = field_err(d, n, "timeout_action is REJECT or DELAY, not '%s'", n->value);
            c->timeout_delay = st == STRATA_OK && strcmp(n->value, "DELAY") == 0;
        } else if (strcmp(n->key, "allow_timeout_override") == 0) {
            /* per-request timeouts are always honoured */
        } else {
            st = field_err(d, n, "unknown field '%s' in default_queue_policy", n->key);
        }
    }
    return st;
}

static strata_status parse_batching(pb_doc *d, const pb_node *m, model_config *c)
{
    strata_status st = want_msg(d, m);
    const pb_node *def = NULL;
    c->dynamic_batching = true;
    for (int k = m->first; st == STRATA_OK && k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "preferred_batch_size") == 0) {
            if (c->n_preferred >= ARRAY_LEN(c->preferred))
                return field_err(d, n, "more than %zu preferred_batch_size values", ARRAY_LEN(c->preferred));
            st = get_int(d, n, 1, 1 << 20, &c->preferred[c->n_preferred++]);
        } else if (strcmp(n->key, "max_queue_delay_microseconds") == 0) {
            st = get_int(d, n, 0, 60 * 1000000LL, &c->max_queue_delay_us);
        } else if (strcmp(n->key, "default_queue_policy") == 0) {
            st = parse_queue_policy(d, n, c);
        } else if (strcmp(n->key, "priority_levels") == 0) {
            st = get_int(d, n, 0, 1 << 20, &c->priority_levels);
        } else if (strcmp(n->key, "default_priority_level") == 0) {
            st = get_int(d, n, 0, 1 << 20, &c->default_priority_level);
            def = n;
        } else if (strcmp(n->key, "preserve_ordering") == 0 ||
                   strcmp(n->key, "priority_queue_policy") == 0) {
            /* accepted, no effect */
        } else {
            st = field_err(d, n, "unknown field '%s' in dynamic_batching", n->key);
        }
    }
    if (st == STRATA_OK && def && c->default_priority_level > 0 && c->default_priority_level > c->priority_levels)
        st = field_err(d, def, "default_priority_level %lld is outside 1..priority_levels (%lld)",
                       (long long)c->default_priority_level, (long long)c->priority_levels);
    return st;
}

static strata_status parse_instance_group(pb_doc *d, const pb_node *m, model_config *c, bool *seen)
{
    strata_status st = want_msg(d, m);
    int64_t count = 1;
    for (int k = m->first; st == STRATA_OK && k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "count") == 0) {
            st = get_int(d, n, 1, 256, &count);
        } else if (strcmp(n->key, "kind") == 0) {
            st = want_scalar(d, n);
            if (st == STRATA_OK && strcmp(n->value, "KIND_CPU") != 0 && strcmp(n->value, "KIND_AUTO") != 0)
                st = field_err(d, n, "instance kind '%s' is not supported (KIND_CPU, KIND_AUTO)", n->value);
        } else if (strcmp(n->key, "name") == 0 || strcmp(n->key, "host_policy") == 0 ||
                   strcmp(n->key, "passive") == 0 || strcmp(n->key, "rate_limiter") == 0) {
            /* accepted, no effect */
        } else {
            st = field_err(d, n, "unknown field '%s' in instance_group", n->key);
        }
    }
    if (st != STRATA_OK) return st;
    c->instance_count = (*seen ? c->instance_count : 0) + count;
    *seen = true;
    if (c->instance_count > 256) return field_err(d, m, "more than 256 instances in all");
    return STRATA_OK;
}

static strata_status parse_version_policy(pb_doc *d, const pb_node *m, model_config *c)
{
    strata_status st = want_msg(d, m);
    if (st != STRATA_OK) return st;
    int n_kinds = 0;
    for (int k = m->first; k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if ((st = want_msg(d, n)) != STRATA_OK) return st;
        n_kinds++;
        if (strcmp(n->key, "latest") == 0) {
            c->policy = POLICY_LATEST;
            c->policy_latest = 1;
            for (int f = n->first; f >= 0; f = d->nodes[f].next) {
                if (strcmp(d->nodes[f].key, "num_versions") != 0)
                    return field_err(d, &d->nodes[f], "unknown field '%s' in latest", d->nodes[f].key);
                if ((st = get_int(d, &d->nodes[f], 1, SERVER_MAX_VERSIONS, &c->policy_latest)) != STRATA_OK)
                    return st;
            }
        } else if (strcmp(n->key, "all") == 0) {
            c->policy = POLICY_ALL;
        } else if (strcmp(n->key, "specific") == 0) {
            c->policy = POLICY_SPECIFIC;
            for (int f = n->first; f >= 0; f = d->nodes[f].next) {
                if (strcmp(d->nodes[f].key, "versions") != 0)
                    return field_err(d, &d->nodes[f], "unknown field '%s' in specific", d->nodes[f].key);
                if (c->n_policy_versions >= SERVER_MAX_VERSIONS)
                    return field_err(d, &d->nodes[f], "more than %d versions", SERVER_MAX_VERSIONS);
                st = get_int(d, &d->nodes[f], 1, INT64_MAX, &c->policy_versions[c->n_policy_versions++]);
                if (st != STRATA_OK) return st;
            }
        } else {
            return field_err(d, n, "unknown version policy '%s' (latest, all, specific)", n->key);
        }
    }
    if (n_kinds != 1) return field_err(d, m, "version_policy wants exactly one of latest, all, specific");
    return STRATA_OK;
}

/* inputs { key: "x" value { data_type: TYPE_FP32 dims: [..] zero_data: true | random_data: true } } */
static strata_status parse_warmup_input(pb_doc *d, const pb_node *m, config_warmup *w)
{
    strata_status st = want_msg(d, m);
    if (st != STRATA_OK) return st;
    if (w->n_inputs >= SERVER_MAX_IO) return field_err(d, m, "more than %d inputs in a model_warmup sample", SERVER_MAX_IO);
    config_warmup_input *in = &w->inputs[w->n_inputs];
    memset(in, 0, sizeof *in);
    in->line = m->line;
    in->col = m->col;
    const pb_node *value = NULL;
    for (int k = m->first; k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "key") == 0) st = get_str(d, n, in->name, sizeof in->name);
        else if (strcmp(n->key, "value") == 0) st = want_msg(d, n), value = n;
        else st = field_err(d, n, "unknown field '%s' in model_warmup inputs", n->key);
        if (st != STRATA_OK) return st;
    }
    if (!in->name[0]) return field_err(d, m, "model_warmup '%s': inputs entry without a key", w->name);
    if (!value) return field_err(d, m, "model_warmup '%s': input '%s' has no value", w->name, in->name);
    for (size_t i = 0; i < w->n_inputs; i++)
        if (strcmp(w->inputs[i].name, in->name) == 0)
            return field_err(d, m, "model_warmup '%s': input '%s' is listed twice", w->name, in->name);
    int n_data = 0;
    for (int k = value->first; k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "data_type") == 0) {
            st = want_scalar(d, n);
            if (st == STRATA_OK) {
                for (size_t i = 0; i < ARRAY_LEN(dtype_names); i++)
                    if (strcmp(dtype_names[i].triton, n->value) == 0) in->dtype = dtype_names[i].dtype;
                if (in->dtype == STRATA_DTYPE_UNDEFINED)
                    st = field_err(d, n, "unknown data_type '%s' (TYPE_FP32, TYPE_INT64, ...)", n->value);
            }
        } else if (strcmp(n->key, "dims") == 0) {
            st = parse_dims(d, n, &in->rank, in->dims, false);
        } else if (strcmp(n->key, "zero_data") == 0 || strcmp(n->key, "random_data") == 0) {
            st = want_scalar(d, n);
            if (st == STRATA_OK && strcmp(n->value, "true") != 0)
                st = field_err(d, n, "'%s' wants true, got '%s'", n->key, n->value);
            in->random = n->key[0] == 'r';
            n_data++;
        } else if (strcmp(n->key, "input_data_file") == 0) {
            st = field_err(d, n, "model_warmup '%s': input_data_file is not supported (use zero_data or random_data)",
                           w->name);
        } else {
            st = field_err(d, n, "unknown field '%s' in model_warmup input '%s'", n->key, in->name);
        }
        if (st != STRATA_OK) return st;
    }
    if (in->dtype == STRATA_DTYPE_UNDEFINED)
        return field_err(d, value, "model_warmup '%s': input '%s' has no data_type", w->name, in->name);
    if (n_data != 1)
        return field_err(d, value, "model_warmup '%s': input '%s' wants exactly one of zero_data, random_data",
                         w->name, in->name);
    w->n_inputs++;
    return STRATA_OK;
}

/* model_warmup { name batch_size inputs {..} count } */
static strata_status parse_warmup(pb_doc *d, const pb_node *m, model_config *c)
{
    strata_status st = want_msg(d, m);
    if (st != STRATA_OK) return st;
    if (c->n_warmup >= SERVER_MAX_WARMUP) return field_err(d, m, "more than %d model_warmup samples", SERVER_MAX_WARMUP);
    config_warmup *w = &c->warmup[c->n_warmup];
    memset(w, 0, sizeof *w);
    w->batch_size = 1;
    w->count = 1;
    w->line = w->bs_line = m->line;
    w->col = w->bs_col = m->col;
    snprintf(w->name, sizeof w->name, "#%zu", c->n_warmup + 1);
    for (int k = m->first; k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "name") == 0) {
            st = get_str(d, n, w->name, sizeof w->name);
        }
    }
    for (int k = m->first; st == STRATA_OK && k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "name") == 0) {
            /* read above */
        } else if (strcmp(n->key, "batch_size") == 0) {
            st = get_int(d, n, 1, 1 << 16, &w->batch_size);
            w->bs_line = n->line;
            w->bs_col = n->col;
        } else if (strcmp(n->key, "count") == 0) {
            st = get_int(d, n, 0, 1000, &w->count);
            if (w->count == 0) w->count = 1; /* Triton: 0 means once */
        } else if (strcmp(n->key, "inputs") == 0) {
            st = parse_warmup_input(d, n, w);
        } else {
            st = field_err(d, n, "unknown field '%s' in model_warmup", n->key);
        }
    }
    if (st == STRATA_OK) c->n_warmup++;
    return st;
}

void model_config_init(model_config *c, const char *name)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->instance_count = 1;
    c->policy = POLICY_LATEST;
    c->policy_latest = 1;
}

/* parameters { key: "K" value { string_value: "V" } }: Strata reads "precision" (fp32 or bf16,
 * the compile precision of an ONNX model's plan) and ignores other keys, as Triton leaves them to
 * the backend. */
static strata_status parse_parameter(pb_doc *d, const pb_node *m, model_config *c)
{
    if (!m->is_msg) return field_err(d, m, "parameters must be a message { key: ... value { ... } }");
    char key[64] = "", value[64] = "";
    const pb_node *value_node = m;
    strata_status st = STRATA_OK;
    for (int k = m->first; st == STRATA_OK && k >= 0; k = d->nodes[k].next) {
        const pb_node *n = &d->nodes[k];
        if (strcmp(n->key, "key") == 0) {
            st = get_str(d, n, key, sizeof key);
        } else if (strcmp(n->key, "value") == 0 && n->is_msg) {
            value_node = n;
            for (int v = n->first; st == STRATA_OK && v >= 0; v = d->nodes[v].next) {
                const pb_node *sv = &d->nodes[v];
                if (strcmp(sv->key, "string_value") == 0) st = get_str(d, sv, value, sizeof value);
                else st = field_err(d, sv, "unknown field '%s' in parameters value", sv->key);
            }
        } else {
            st = field_err(d, n, "unknown field '%s' in parameters", n->key);
        }
    }
    if (st != STRATA_OK || strcmp(key, "precision") != 0) return st;
    if (strcmp(value, "fp32") != 0 && strcmp(value, "bf16") != 0)
        return field_err(d, value_node, "parameters 'precision' is '%s'; expected fp32 or bf16", value);
    snprintf(c->precision, sizeof c->precision, "%s", strcmp(value, "fp32") == 0 ? "" : value);
    return STRATA_OK;
}

static const char *ignored_fields[] = {
    "runtime", "optimization", "default_model_filename", "cc_model_filenames", "metric_tags",
    "model_operations", "model_transaction_policy",
    "model_repository_agents", "response_cache", "model_metrics",
};

strata_status model_config_parse(const char *text, size_t n, const char *source, model_config *c)
{
    if (n > SERVER_MAX_CONFIG_BYTES)
        return error_set(STRATA_INVALID_MODEL, "%s: %zu bytes, more than the %u allowed", source, n,
                         SERVER_MAX_CONFIG_BYTES);
    pb_doc d;
    memset(&d, 0, sizeof d);
    d.src = d.p = d.line_start = text;
    d.end = text + n;
    d.source = source;
    d.line = 1;
    strata_status st = STRATA_OK;
    if (new_node(&d) != 0) return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", source);
    d.nodes[0].is_msg = true;
    if ((st = parse_fields(&d, 0, 0, 0)) != STRATA_OK) goto done;
    bool seen_group = false;
    for (int k = d.nodes[0].first; st == STRATA_OK && k >= 0; k = d.nodes[k].next) {
        const pb_node *f = &d.nodes[k];
        if (strcmp(f->key, "name") == 0) {
            char name[SERVER_MAX_NAME];
            st = get_str(&d, f, name, sizeof name);
            if (st == STRATA_OK && c->name[0] && strcmp(name, c->name) != 0)
                st = field_err(&d, f, "name '%s' differs from the model's folder name '%s'", name, c->name);
        } else if (strcmp(f->key, "platform") == 0) {
            st = get_str(&d, f, c->platform, sizeof c->platform);
        } else if (strcmp(f->key, "backend") == 0) {
            st = get_str(&d, f, c->backend, sizeof c->backend);
        } else if (strcmp(f->key, "max_batch_size") == 0) {
            st = get_int(&d, f, 0, 1 << 16, &c->max_batch_size);
        } else if (strcmp(f->key, "input") == 0 || strcmp(f->key, "output") == 0) {
            bool in = f->key[0] == 'i';
            size_t *count = in ? &c->n_inputs : &c->n_outputs;
            if (*count >= SERVER_MAX_IO) {
                st = field_err(&d, f, "more than %d %ss", SERVER_MAX_IO, f->key);
                break;
            }
            config_io *io = in ? &c->inputs[*count] : &c->outputs[*count];
            st = parse_io(&d, f, io, in);
            for (size_t i = 0; st == STRATA_OK && i < *count; i++)
                if (strcmp((in ? c->inputs : c->outputs)[i].name, io->name) == 0)
                    st = field_err(&d, f, "%s '%s' is listed twice", f->key, io->name);
            (*count)++;
            if (in) c->has_inputs = true;
            else c->has_outputs = true;
        } else if (strcmp(f->key, "dynamic_batching") == 0) {
            st = parse_batching(&d, f, c);
        } else if (strcmp(f->key, "instance_group") == 0) {
            st = parse_instance_group(&d, f, c, &seen_group);
        } else if (strcmp(f->key, "version_policy") == 0) {
            st = parse_version_policy(&d, f, c);
        } else if (strcmp(f->key, "model_warmup") == 0) {
            st = parse_warmup(&d, f, c);
        } else if (strcmp(f->key, "parameters") == 0) {
            st = parse_parameter(&d, f, c);
        } else if (strcmp(f->key, "sequence_batching") == 0 ||
                   strcmp(f->key, "ensemble_scheduling") == 0 ||
                   strcmp(f->key, "batch_input") == 0 || strcmp(f->key, "batch_output") == 0) {
            st = field_err(&d, f, "'%s' is not supported", f->key);
        } else {
            bool ignored = false;
            for (size_t i = 0; i < ARRAY_LEN(ignored_fields); i++)
                if (strcmp(f->key, ignored_fields[i]) == 0) ignored = true;
            if (!ignored) st = field_err(&d, f, "unknown field '%s'", f->key);
        }
    }
    if (st == STRATA_OK) {
        for (size_t i = 1; i < c->n_preferred; i++)
            if (c->preferred[i] <= c->preferred[i - 1]) {
                st = error_set(STRATA_INVALID_MODEL, "%s: preferred_batch_size values must ascend", source);
                break;
            }
        for (size_t i = 0; st == STRATA_OK && i < c->n_preferred; i++)
            if (c->preferred[i] > c->max_batch_size)
                st = error_set(STRATA_INVALID_MODEL,
                               "%s: preferred_batch_size %lld is larger than max_batch_size %lld",
                               source, (long long)c->preferred[i], (long long)c->max_batch_size);
        for (size_t i = 0; st == STRATA_OK && i < c->n_warmup; i++) {
            const config_warmup *w = &c->warmup[i];
            int64_t max = c->max_batch_size > 0 ? c->max_batch_size : 1;
            if (w->batch_size > max)
                st = error_set(STRATA_INVALID_MODEL, "%s:%d:%d: model_warmup '%s': batch_size %lld is larger than %s %lld",
                               source, w->bs_line, w->bs_col, w->name, (long long)w->batch_size,
                               c->max_batch_size > 0 ? "max_batch_size" : "1 (max_batch_size is 0)", (long long)max);
        }
        snprintf(c->source, sizeof c->source, "%s", source);
    }
done:
    pb_free(&d);
    return st;
}

/* ---- completion from the model ------------------------------------------------------------------ */

static strata_status complete_io(model_config *c, const strata_model *m, bool is_input, bool is_plan)
{
    size_t n_model = is_input ? strata_model_input_count(m) : strata_model_output_count(m);
    const char *what = is_input ? "input" : "output";
    if (n_model > SERVER_MAX_IO)
        return error_set(STRATA_UNSUPPORTED, "model '%s': %zu %ss, more than %d", c->name, n_model,
                         what, SERVER_MAX_IO);
    config_io *ios = is_input ? c->inputs : c->outputs;
    size_t *n_ios = is_input ? &c->n_inputs : &c->n_outputs;
    bool given = is_input ? c->has_inputs : c->has_outputs;
    int skip = c->max_batch_size > 0 ? 1 : 0;
    for (size_t i = 0; i < n_model; i++) {
        strata_value_info info;
        strata_status st = is_input ? strata_model_input_info(m, i, &info) : strata_model_output_info(m, i, &info);
        if (st != STRATA_OK) return st;
        if (info.rank < 0)
            return error_set(STRATA_UNSUPPORTED, "model '%s': %s '%s' has an unknown rank", c->name, what, info.name);
        if (skip && info.rank == 0)
            return error_set(STRATA_INVALID_MODEL,
                             "model '%s': max_batch_size %lld but %s '%s' is a scalar (no batch dim)",
                             c->name, (long long)c->max_batch_size, what, info.name);
        if (skip && info.dims[0] > 0 && !is_plan)
            return error_set(STRATA_INVALID_MODEL,
                             "model '%s': max_batch_size %lld needs a variable first dim, but %s '%s' has %lld "
                             "(set max_batch_size: 0)",
                             c->name, (long long)c->max_batch_size, what, info.name, (long long)info.dims[0]);
        config_io *io = NULL;
        for (size_t k = 0; k < *n_ios; k++)
            if (strcmp(ios[k].name, info.name) == 0) io = &ios[k];
        if (!io) {
            if (given && is_input)
                return error_set(STRATA_INVALID_MODEL, "model '%s': config.pbtxt does not list the model's input '%s'",
                                 c->name, info.name);
            if (given) continue; /* a config may serve a subset of the outputs */
            io = &ios[(*n_ios)++];
            memset(io, 0, sizeof *io);
            snprintf(io->name, sizeof io->name, "%s", info.name);
            io->dtype = info.dtype;
            io->rank = info.rank - skip;
            for (int d = 0; d < io->rank; d++) io->dims[d] = info.dims[d + skip] < 0 ? -1 : info.dims[d + skip];
            io->reshape_rank = -1;
            continue;
        }
        if (info.dtype != STRATA_DTYPE_UNDEFINED && io->dtype != info.dtype)
            return error_set(STRATA_INVALID_MODEL, "model '%s': %s '%s' is %s in config.pbtxt but %s in the model",
                             c->name, what, io->name, triton_dtype(io->dtype), triton_dtype(info.dtype));
        int rank = io->reshape_rank >= 0 ? io->reshape_rank : io->rank;
        const int64_t *dims = io->reshape_rank >= 0 ? io->reshape : io->dims;
        if (rank != info.rank - skip)
            return error_set(STRATA_INVALID_MODEL, "model '%s': %s '%s' has %d dims in config.pbtxt, the model has %d%s",
                             c->name, what, io->name, rank, info.rank - skip,
                             skip ? " after the batch dim" : "");
        for (int d = 0; d < rank; d++)
            if (dims[d] >= 0 && info.dims[d + skip] >= 0 && dims[d] != info.dims[d + skip])
                return error_set(STRATA_INVALID_MODEL, "model '%s': %s '%s' dim %d is %lld in config.pbtxt, %lld in the model",
                                 c->name, what, io->name, d + skip, (long long)dims[d],
                                 (long long)info.dims[d + skip]);
        if (io->reshape_rank >= 0) {
            int64_t a = shape_numel(io->rank, io->dims), b = shape_numel(io->reshape_rank, io->reshape);
            if (a >= 0 && b >= 0 && a != b)
                return error_set(STRATA_INVALID_MODEL, "model '%s': %s '%s' reshape has %lld elements, dims %lld",
                                 c->name, what, io->name, (long long)b, (long long)a);
        }
    }
    for (size_t k = 0; k < *n_ios; k++) {
        bool found = false;
        for (size_t i = 0; i < n_model && !found; i++) {
            strata_value_info info;
            if ((is_input ? strata_model_input_info(m, i, &info) : strata_model_output_info(m, i, &info)) == STRATA_OK &&
                strcmp(info.name, ios[k].name) == 0)
                found = true;
        }
        if (!found)
            return error_set(STRATA_INVALID_MODEL, "model '%s': config.pbtxt names %s '%s', which the model does not have",
                             c->name, what, ios[k].name);
    }
    return STRATA_OK;
}

/* "[a, b, c]" (-1 as -1) into out. */
static void dims_text(char *out, size_t cap, int rank, const int64_t *dims)
{
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < rank && k < cap; d++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", d ? ", " : "", (long long)dims[d]);
    if (k < cap) snprintf(out + k, cap - k, "]");
}

/* Checks the model_warmup samples against the completed inputs: every input given once, known,
 * same data_type, dims that fit the config's (variable dims take any size). */
static strata_status check_warmup(const model_config *c)
{
    const char *src = c->source[0] ? c->source : "config.pbtxt";
    for (size_t s = 0; s < c->n_warmup; s++) {
        const config_warmup *w = &c->warmup[s];
        for (size_t k = 0; k < w->n_inputs; k++) {
            const config_warmup_input *in = &w->inputs[k];
            const config_io *io = NULL;
            for (size_t i = 0; i < c->n_inputs; i++)
                if (strcmp(c->inputs[i].name, in->name) == 0) io = &c->inputs[i];
            if (!io)
                return error_set(STRATA_INVALID_MODEL, "%s:%d:%d: model_warmup '%s': unknown input '%s' (model '%s')",
                                 src, in->line, in->col, w->name, in->name, c->name);
            if (io->dtype != in->dtype)
                return error_set(STRATA_INVALID_MODEL, "%s:%d:%d: model_warmup '%s': input '%s' is %s, the model wants %s",
                                 src, in->line, in->col, w->name, in->name, triton_dtype(in->dtype),
                                 triton_dtype(io->dtype));
            bool fits = in->rank == io->rank;
            for (int d = 0; fits && d < io->rank; d++) fits = io->dims[d] < 0 || io->dims[d] == in->dims[d];
            if (!fits) {
                char got[160], want[160];
                dims_text(got, sizeof got, in->rank, in->dims);
                dims_text(want, sizeof want, io->rank, io->dims);
                return error_set(STRATA_INVALID_MODEL, "%s:%d:%d: model_warmup '%s': input '%s' dims %s do not match the model's %s%s",
                                 src, in->line, in->col, w->name, in->name, got, want,
                                 c->max_batch_size > 0 ? " (without the batch dim)" : "");
            }
        }
        for (size_t i = 0; i < c->n_inputs; i++) {
            bool given = false;
            for (size_t k = 0; k < w->n_inputs && !given; k++) given = strcmp(w->inputs[k].name, c->inputs[i].name) == 0;
            if (!given)
                return error_set(STRATA_INVALID_MODEL, "%s:%d:%d: model_warmup '%s' does not give input '%s'", src,
                                 w->line, w->col, w->name, c->inputs[i].name);
        }
    }
    return STRATA_OK;
}

strata_status model_config_complete(model_config *c, const strata_model *m, bool is_plan)
{
    if (!c->platform[0]) snprintf(c->platform, sizeof c->platform, "%s", is_plan ? "strata_plan" : "onnxruntime_onnx");
    if (!c->backend[0]) snprintf(c->backend, sizeof c->backend, "strata");
    strata_status st = complete_io(c, m, true, is_plan);
    if (st == STRATA_OK) st = complete_io(c, m, false, is_plan);
    if (st == STRATA_OK) st = check_warmup(c);
    return st;
}

/* ---- JSON ------------------------------------------------------------------------------------------ */

static cJSON *dims_json(int rank, const int64_t *dims)
{
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; a && d < rank; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)dims[d]));
    return a;
}

static cJSON *io_json(const config_io *io)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", io->name);
    cJSON_AddStringToObject(o, "data_type", triton_dtype(io->dtype));
    cJSON_AddItemToObject(o, "dims", dims_json(io->rank, io->dims));
    if (io->reshape_rank >= 0) {
        cJSON *r = cJSON_AddObjectToObject(o, "reshape");
        if (r) cJSON_AddItemToObject(r, "shape", dims_json(io->reshape_rank, io->reshape));
    }
    return o;
}

cJSON *model_config_to_json(const model_config *c)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddStringToObject(j, "platform", c->platform);
    cJSON_AddStringToObject(j, "backend", c->backend);
    cJSON_AddNumberToObject(j, "max_batch_size", (double)c->max_batch_size);
    cJSON *vp = cJSON_AddObjectToObject(j, "version_policy");
    if (vp && c->policy == POLICY_LATEST) {
        cJSON *l = cJSON_AddObjectToObject(vp, "latest");
        if (l) cJSON_AddNumberToObject(l, "num_versions", (double)c->policy_latest);
    } else if (vp && c->policy == POLICY_ALL) {
        cJSON_AddObjectToObject(vp, "all");
    } else if (vp) {
        cJSON *s = cJSON_AddObjectToObject(vp, "specific");
        if (s) cJSON_AddItemToObject(s, "versions", dims_json((int)c->n_policy_versions, c->policy_versions));
    }
    cJSON *in = cJSON_AddArrayToObject(j, "input"), *out = cJSON_AddArrayToObject(j, "output");
    for (size_t i = 0; in && i < c->n_inputs; i++) cJSON_AddItemToArray(in, io_json(&c->inputs[i]));
    for (size_t i = 0; out && i < c->n_outputs; i++) cJSON_AddItemToArray(out, io_json(&c->outputs[i]));
    if (c->dynamic_batching) {
        cJSON *b = cJSON_AddObjectToObject(j, "dynamic_batching");
        if (b) {
            cJSON_AddItemToObject(b, "preferred_batch_size", dims_json((int)c->n_preferred, c->preferred));
            cJSON_AddNumberToObject(b, "max_queue_delay_microseconds", (double)c->max_queue_delay_us);
            cJSON_AddNumberToObject(b, "priority_levels", (double)c->priority_levels);
            cJSON_AddNumberToObject(b, "default_priority_level", (double)c->default_priority_level);
            cJSON *q = cJSON_AddObjectToObject(b, "default_queue_policy");
            if (q) {
                cJSON_AddStringToObject(q, "timeout_action", c->timeout_delay ? "DELAY" : "REJECT");
                cJSON_AddNumberToObject(q, "default_timeout_microseconds", (double)c->default_timeout_us);
                cJSON_AddNumberToObject(q, "max_queue_size", (double)c->max_queue_size);
            }
        }
    }
    cJSON *g = cJSON_AddArrayToObject(j, "instance_group");
    cJSON *g0 = cJSON_CreateObject();
    if (g && g0) {
        cJSON_AddNumberToObject(g0, "count", (double)c->instance_count);
        cJSON_AddStringToObject(g0, "kind", "KIND_CPU");
        cJSON_AddItemToArray(g, g0);
    } else {
        cJSON_Delete(g0);
    }
    return j;
}
