/* tools/cmd_perf.c — `strata perf --url http://HOST:PORT --model NAME`, a load generator in the
 * spirit of Triton's perf_analyzer: N closed-loop clients per concurrency level send KServe v2
 * infer requests (binary extension or JSON) over keep-alive HTTP/1.1, and it reports throughput,
 * client p50/p90/p99 and the server's split (queue, input, infer, output) from /stats deltas.
 * --protocol grpc sends unary KServe v2 ModelInfer calls (raw_input_contents) instead, one channel
 * per client, and reads the split from ModelStatistics. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <protobuf-c/protobuf-c.h>

#include "cli.h"
#include "core/core.h"
#include "grpc_service.pb-c.h"

#define PERF_MAX_LEVELS 32
#define PERF_MAX_CONCURRENCY 1024
#define PERF_MAX_HEADER 65536              /* response head bytes */
#define PERF_MAX_BODY ((size_t)256 << 20)  /* response body bytes */
#define PERF_MAX_SAMPLES ((size_t)1 << 24) /* latencies kept per client */

static const char usage_text[] =
    "usage: strata perf --url http://HOST:PORT --model NAME [--model-version V] [--protocol http|grpc]\n"
    "                   [--concurrency 1,4,16,64] [--duration S (5)] [--warmup S (1)]\n"
    "                   [--input-data random|zero|DIR] [--batch B (1)] [--json] [--timeout S (30)]\n"
    "  DIR holds one file per input, named after it, with the raw little-endian bytes (Triton's\n"
    "  layout). --json sends JSON tensors instead of the binary tensor data extension.\n"
    "  --protocol grpc: --url HOST:PORT is the gRPC port; ModelInfer with raw_input_contents.\n";

typedef struct perf_target {
    char host[256];
    char port[16];
    char model[256];
    char version[32];
    int timeout_s;
    bool grpc;                   /* --protocol grpc */
} perf_target;

/* One keep-alive connection with a receive buffer. */
typedef struct perf_conn {
    int fd;
    char *buf;                   /* received bytes not yet consumed */
    size_t n, cap;
} perf_conn;

typedef struct perf_response {
    int status;                  /* HTTP status, 0 on a transport error */
    char *body;                  /* owned, NUL-terminated */
    size_t n_body;
} perf_response;

static void conn_close(perf_conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->n = 0;
}

static bool conn_open(perf_conn *c, const perf_target *t)
{
    conn_close(c);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(t->host, t->port, &hints, &res) != 0 || !res) return false;
    for (struct addrinfo *a = res; a && c->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = {t->timeout_s, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) c->fd = fd;
        else close(fd);
    }
    freeaddrinfo(res);
    return c->fd >= 0;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads more bytes into c->buf; false on EOF, error or when the buffer would pass max. */
static bool conn_fill(perf_conn *c, size_t max)
{
    if (c->n + 65536 + 1 > c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 131072;
        while (nc < c->n + 65536 + 1) nc *= 2;
        if (nc > max + 65536 + 1) nc = max + 65536 + 1;
        if (nc <= c->n + 1) return false;
        char *nb = mem_realloc(c->buf, nc);
        if (!nb) return false;
        c->buf = nb;
        c->cap = nc;
    }
    for (;;) {
        ssize_t k = recv(c->fd, c->buf + c->n, c->cap - c->n - 1, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        c->n += (size_t)k;
        return true;
    }
}

/* Value of header name in the head [p, end) (case-insensitive), copied into out. */
static bool head_value(const char *p, const char *end, const char *name, char *out, size_t n_out)
{
    size_t ln = strlen(name);
    for (const char *line = p; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) eol = end;
        if ((size_t)(eol - line) > ln && strncasecmp(line, name, ln) == 0 && line[ln] == ':') {
            const char *v = line + ln + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            size_t k = (size_t)(eol - v);
            while (k && (v[k - 1] == '\r' || v[k - 1] == ' ')) k--;
            if (k >= n_out) k = n_out - 1;
            memcpy(out, v, k);
            out[k] = 0;
            return true;
        }
        line = eol + 1;
    }
    return false;
}

/* Sends one request and reads its response (Content-Length framing; chunked is refused). */
static void http_call(perf_conn *c, const perf_target *t, const char *method, const char *path,
                      const char *extra_headers, const char *body, size_t n_body, perf_response *res)
{
    res->status = 0;
    res->body = NULL;
    res->n_body = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = c->fd < 0;
        if (fresh && !conn_open(c, t)) return;
        char head[1024];
        int nh = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: %zu\r\n%s\r\n", method, path,
                          t->host, t->port, n_body, extra_headers ? extra_headers : "");
        if (nh < 0 || (size_t)nh >= sizeof head) return;
        if (!send_all(c->fd, head, (size_t)nh) || (n_body && !send_all(c->fd, body, n_body))) {
            conn_close(c);
            if (fresh) return;
            continue; /* a kept-alive connection the server closed: retry once on a new one */
        }
        char *end = NULL;
        while (!(end = c->n ? strstr(c->buf, "\r\n\r\n") : NULL)) {
            if (c->n > PERF_MAX_HEADER || !conn_fill(c, PERF_MAX_HEADER)) break;
            c->buf[c->n] = 0;
        }
        if (!end) {
            bool nothing = c->n == 0;
            conn_close(c);
            if (fresh || !nothing) return;
            continue;
        }
        size_t head_len = (size_t)(end - c->buf) + 4;
        int status = 0;
        if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) {
            conn_close(c);
            return;
        }
        char v[64];
        if (head_value(c->buf, end, "Transfer-Encoding", v, sizeof v) || !head_value(c->buf, end, "Content-Length", v, sizeof v)) {
            conn_close(c); /* only Content-Length framing is read */
            return;
        }
        char *e;
        unsigned long long cl = strtoull(v, &e, 10);
        if (*e || cl > PERF_MAX_BODY) {
            conn_close(c);
            return;
        }
        bool close_after = head_value(c->buf, end, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0;
        while (c->n < head_len + cl)
            if (!conn_fill(c, head_len + (size_t)cl)) {
                conn_close(c);
                return;
            }
        res->body = mem_alloc((size_t)cl + 1);
        if (!res->body) {
            conn_close(c);
            return;
        }
        memcpy(res->body, c->buf + head_len, (size_t)cl);
        res->body[cl] = 0;
        res->n_body = (size_t)cl;
        res->status = status;
        size_t used = head_len + (size_t)cl;
        memmove(c->buf, c->buf + used, c->n - used);
        c->n -= used;
        if (c->buf) c->buf[c->n] = 0;
        if (close_after) conn_close(c);
        return;
    }
}

/* GET path as JSON (NULL unless 200 and valid JSON). */
static cJSON *get_json(const perf_target *t, const char *path, int *status)
{
    perf_conn c = {.fd = -1};
    perf_response r;
    http_call(&c, t, "GET", path, NULL, NULL, 0, &r);
    conn_close(&c);
    mem_free(c.buf);
    *status = r.status;
    cJSON *j = r.status == 200 ? cJSON_ParseWithLength(r.body, r.n_body) : NULL;
    mem_free(r.body);
    return j;
}

/* ---- the request ------------------------------------------------------------------------------ */

typedef struct perf_request {
    char *bytes;                 /* the whole body */
    size_t n;
    char headers[256];           /* extra headers */
    char path[600];
    int64_t rows;                /* batch rows per request */
} perf_request;

static strata_dtype dtype_of(const char *s, size_t *size)
{
    static const struct {
        const char *name;
        strata_dtype t;
    } map[] = {{"FP32", STRATA_DTYPE_F32}, {"FP64", STRATA_DTYPE_F64}, {"FP16", STRATA_DTYPE_F16},
               {"BF16", STRATA_DTYPE_BF16}, {"INT8", STRATA_DTYPE_I8},  {"INT16", STRATA_DTYPE_I16},
               {"INT32", STRATA_DTYPE_I32}, {"INT64", STRATA_DTYPE_I64}, {"UINT8", STRATA_DTYPE_U8},
               {"UINT16", STRATA_DTYPE_U16}, {"UINT32", STRATA_DTYPE_U32}, {"UINT64", STRATA_DTYPE_U64},
               {"BOOL", STRATA_DTYPE_BOOL}};
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (strcmp(s, map[i].name) == 0) {
            *size = strata_dtype_size(map[i].t);
            return map[i].t;
        }
    *size = 0;
    return STRATA_DTYPE_UNDEFINED;
}

/* Fills n elements: zeros, or small random values valid for the type (xorshift, seeded). */
static void fill_random(uint8_t *p, strata_dtype t, size_t esize, size_t n, uint64_t *seed, bool zero)
{
    memset(p, 0, n * esize);
    if (zero) return;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = *seed;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        *seed = x;
        float f = (float)(x >> 40) / (float)(1u << 24);
        if (t == STRATA_DTYPE_F32) {
            memcpy(p + i * 4, &f, 4);
        } else if (t == STRATA_DTYPE_F64) {
            double d = f;
            memcpy(p + i * 8, &d, 8);
        } else if (t == STRATA_DTYPE_F16 || t == STRATA_DTYPE_BF16) {
            uint16_t h = t == STRATA_DTYPE_F16 ? f32_to_f16(f) : f32_to_bf16(f);
            memcpy(p + i * 2, &h, 2);
        } else if (t == STRATA_DTYPE_BOOL) {
            p[i] = (uint8_t)(x & 1);
        } else {
            p[i * esize] = (uint8_t)(x % 100); /* small non-negative integers, little-endian */
        }
    }
}

/* Reads a whole file (at most max bytes). */
static char *read_file(const char *path, size_t max, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = mem_alloc(max + 1);
    size_t k = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || k > max) {
        mem_free(buf);
        return NULL;
    }
    *n = k;
    return buf;
}

static void json_number(char **p, strata_dtype t, const uint8_t *src, size_t i)
{
    double d = 0;
    switch (t) {
    case STRATA_DTYPE_F32: { float f; memcpy(&f, src + i * 4, 4); d = f; break; }
    case STRATA_DTYPE_F64: memcpy(&d, src + i * 8, 8); break;
    case STRATA_DTYPE_F16: { uint16_t h; memcpy(&h, src + i * 2, 2); d = f16_to_f32(h); break; }
    case STRATA_DTYPE_BF16: { uint16_t h; memcpy(&h, src + i * 2, 2); d = bf16_to_f32(h); break; }
    case STRATA_DTYPE_BOOL: *p += sprintf(*p, "%s", src[i] ? "true" : "false"); return;
    default: {
        size_t es = strata_dtype_size(t);
        uint64_t u = 0;
        memcpy(&u, src + i * es, es);
        if (t == STRATA_DTYPE_I8) d = (int8_t)u;
        else if (t == STRATA_DTYPE_I16) d = (int16_t)u;
        else if (t == STRATA_DTYPE_I32) d = (int32_t)u;
        else if (t == STRATA_DTYPE_I64) d = (double)(int64_t)u;
        else d = (double)u;
    }
    }
    *p += sprintf(*p, "%.9g", d);
}

/* Builds the request from the model's metadata. */
static bool build_request(const perf_target *t, const char *input_data, int64_t batch, bool json, perf_request *out)
{
    char path[560];
    snprintf(path, sizeof path, "/v2/models/%s%s%s", t->model, t->version[0] ? "/versions/" : "", t->version);
    int status = 0;
    cJSON *meta = get_json(t, path, &status);
    if (!meta) {
        fprintf(stderr, "strata perf: GET %s: %s\n", path, status ? "not 200 or not JSON" : "no answer");
        return false;
    }
    snprintf(out->path, sizeof out->path, "%s/infer", path);
    out->rows = batch;
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(meta, "inputs");
    size_t n_in = (size_t)cJSON_GetArraySize(inputs);
    bool zero = strcmp(input_data, "zero") == 0, random = strcmp(input_data, "random") == 0;
    /* JSON header (binary) or whole JSON body; data regions appended after the header */
    size_t cap = 4096;
    uint8_t **data = mem_calloc(n_in ? n_in : 1, sizeof *data);
    size_t *nbytes = mem_calloc(n_in ? n_in : 1, sizeof *nbytes);
    cJSON *req = cJSON_CreateObject();
    cJSON *arr = req ? cJSON_AddArrayToObject(req, "inputs") : NULL;
    bool ok = data && nbytes && arr && n_in > 0;
    if (n_in == 0) fprintf(stderr, "strata perf: model metadata lists no inputs\n");
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    size_t i = 0;
    for (const cJSON *in = inputs ? inputs->child : NULL; ok && in; in = in->next, i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
        size_t esize = 0;
        strata_dtype type = cJSON_IsString(dt) ? dtype_of(dt->valuestring, &esize) : STRATA_DTYPE_UNDEFINED;
        if (!cJSON_IsString(name) || type == STRATA_DTYPE_UNDEFINED || !cJSON_IsArray(shape)) {
            fprintf(stderr, "strata perf: input %zu: unusable metadata (BYTES inputs are not generated)\n", i);
            ok = false;
            break;
        }
        cJSON *o = cJSON_CreateObject(), *sh = cJSON_CreateArray();
        if (!o || !sh) {
            cJSON_Delete(o);
            cJSON_Delete(sh);
            ok = false;
            break;
        }
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", name->valuestring);
        cJSON_AddStringToObject(o, "datatype", dt->valuestring);
        cJSON_AddItemToObject(o, "shape", sh);
        uint64_t numel = 1;
        int d = 0;
        for (const cJSON *v = shape->child; v; v = v->next, d++) {
            double dim = v->valuedouble;
            int64_t use = dim >= 0 ? (int64_t)dim : d == 0 ? batch : 1;
            if (d == 0 && dim >= 0 && batch != 1 && (int64_t)dim != batch) {
                fprintf(stderr, "strata perf: input '%s' has a fixed dim 0 (%g): --batch does not apply\n", name->valuestring, dim);
                ok = false;
            }
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)use));
            numel *= (uint64_t)use;
        }
        nbytes[i] = (size_t)numel * esize;
        if (!ok || nbytes[i] > PERF_MAX_BODY) {
            ok = false;
            break;
        }
        if (random || zero) {
            data[i] = mem_alloc(nbytes[i] ? nbytes[i] : 1);
            if (!data[i]) {
                ok = false;
                break;
            }
            fill_random(data[i], type, esize, (size_t)numel, &seed, zero);
        } else {
            char fp[4600];
            size_t n = 0;
            snprintf(fp, sizeof fp, "%s/%s", input_data, name->valuestring);
            data[i] = (uint8_t *)read_file(fp, PERF_MAX_BODY, &n);
            if (!data[i] || n != nbytes[i]) {
                fprintf(stderr, "strata perf: %s: %s (want %zu raw bytes)\n", fp, data[i] ? "wrong size" : "cannot read", nbytes[i]);
                ok = false;
                break;
            }
        }
        if (json) {
            /* the numbers are appended by hand below (cJSON would double the memory) */
            cJSON_AddItemToObject(o, "data", cJSON_CreateArray());
            cap += nbytes[i] / esize * 26 + 16;
        } else {
            cJSON *p = cJSON_AddObjectToObject(o, "parameters");
            if (p) cJSON_AddNumberToObject(p, "binary_data_size", (double)nbytes[i]);
            cap += nbytes[i];
        }
    }
    if (ok && !json) {
        cJSON *p = cJSON_AddObjectToObject(req, "parameters");
        if (p) cJSON_AddBoolToObject(p, "binary_data_output", true);
    }
    char *text = ok ? cJSON_PrintUnformatted(req) : NULL;
    if (ok && !text) ok = false;
    if (ok) {
        size_t nt = strlen(text);
        out->bytes = mem_alloc(cap + nt);
        ok = out->bytes != NULL;
        if (ok && !json) {
            memcpy(out->bytes, text, nt);
            size_t off = nt;
            for (size_t k = 0; k < n_in; k++) {
                memcpy(out->bytes + off, data[k], nbytes[k]);
                off += nbytes[k];
            }
            out->n = off;
            snprintf(out->headers, sizeof out->headers,
                     "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: %zu\r\n", nt);
        } else if (ok) {
            /* splice each input's numbers into its empty "data":[] */
            char *w = out->bytes;
            const char *r = text;
            size_t k = 0;
            for (const cJSON *in = inputs->child; in && k < n_in; in = in->next, k++) {
                const char *hole = strstr(r, "\"data\":[]");
                if (!hole) break;
                size_t pre = (size_t)(hole - r) + 8;
                memcpy(w, r, pre);
                w += pre;
                size_t esize = 0;
                strata_dtype type = dtype_of(cJSON_GetObjectItemCaseSensitive(in, "datatype")->valuestring, &esize);
                for (size_t e = 0; e < nbytes[k] / esize; e++) {
                    if (e) *w++ = ',';
                    json_number(&w, type, data[k], e);
                }
                r = hole + 8;
            }
            size_t rest = strlen(r);
            memcpy(w, r, rest);
            w += rest;
            out->n = (size_t)(w - out->bytes);
            snprintf(out->headers, sizeof out->headers, "Content-Type: application/json\r\n");
        }
    }
    if (text) cJSON_free(text);
    for (size_t k = 0; data && k < n_in; k++) mem_free(data[k]);
    mem_free(data);
    mem_free(nbytes);
    cJSON_Delete(req);
    cJSON_Delete(meta);
    return ok;
}

/* ---- load --------------------------------------------------------------------------------------- */

typedef struct perf_client {
    const perf_target *t;
    const perf_request *rq;
    uint64_t start_ns, measure_ns, end_ns; /* warmup from start, measured from measure to end */
    uint64_t *lat;               /* latencies (ns) of measured successes */
    size_t n_lat, cap_lat;
    uint64_t n_ok, n_err, n_transport; /* measured */
    int last_err_status;
    char last_err[160];
    pthread_t thread;
} perf_client;

/* Counts one finished request: kind 0 success, 1 error status, 2 transport error. */
static void client_record(perf_client *c, uint64_t t0, uint64_t t1, int kind, int status, const char *msg)
{
    /* a request counts where it completes (unbiased for latencies near the window's length) */
    bool measured = t1 >= c->measure_ns && t1 <= c->end_ns;
    if (kind == 0) {
        if (measured) {
            c->n_ok++;
            if (c->n_lat == c->cap_lat && c->cap_lat < PERF_MAX_SAMPLES) {
                size_t nc = c->cap_lat ? c->cap_lat * 2 : 4096;
                uint64_t *nl = mem_realloc(c->lat, nc * sizeof *nl);
                if (nl) c->lat = nl, c->cap_lat = nc;
            }
            if (c->n_lat < c->cap_lat) c->lat[c->n_lat++] = t1 - t0;
        }
        return;
    }
    if (measured) {
        if (kind == 2) c->n_transport++;
        else c->n_err++;
    }
    c->last_err_status = status;
    snprintf(c->last_err, sizeof c->last_err, "%.150s", msg);
    if (kind == 2) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL); /* do not spin on a refused connection */
    }
}

static void *client_main(void *arg)
{
    perf_client *c = arg;
    perf_conn conn = {.fd = -1};
    for (;;) {
        uint64_t t0 = clock_now_ns();
        if (t0 >= c->end_ns) break;
        perf_response r;
        http_call(&conn, c->t, "POST", c->rq->path, c->rq->headers, c->rq->bytes, c->rq->n, &r);
        uint64_t t1 = clock_now_ns();
        client_record(c, t0, t1, r.status == 200 ? 0 : r.status == 0 ? 2 : 1, r.status, r.body ? r.body : "(transport error)");
        mem_free(r.body);
    }
    conn_close(&conn);
    mem_free(conn.buf);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Server counters summed over the model's versions (false when /stats is not served). */
typedef struct server_counters {
    double success, success_ns, fail, queue_ns, input_ns, infer_ns, output_ns, inferences, execs;
} server_counters;

static double dur_ns(const cJSON *is, const char *key, const char *field)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(is, key);
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, field) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool server_stats(const perf_target *t, server_counters *sc)
{
    memset(sc, 0, sizeof *sc);
    char path[600];
    snprintf(path, sizeof path, "/v2/models/%s%s%s/stats", t->model, t->version[0] ? "/versions/" : "", t->version);
    int status;
    cJSON *j = get_json(t, path, &status);
    const cJSON *list = j ? cJSON_GetObjectItemCaseSensitive(j, "model_stats") : NULL;
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(j);
        return false;
    }
    for (const cJSON *m = list->child; m; m = m->next) {
        const cJSON *is = cJSON_GetObjectItemCaseSensitive(m, "inference_stats");
        sc->success += dur_ns(is, "success", "count");
        sc->success_ns += dur_ns(is, "success", "ns");
        sc->fail += dur_ns(is, "fail", "count");
        sc->queue_ns += dur_ns(is, "queue", "ns");
        sc->input_ns += dur_ns(is, "compute_input", "ns");
        sc->infer_ns += dur_ns(is, "compute_infer", "ns");
        sc->output_ns += dur_ns(is, "compute_output", "ns");
        const cJSON *ic = cJSON_GetObjectItemCaseSensitive(m, "inference_count");
        const cJSON *ec = cJSON_GetObjectItemCaseSensitive(m, "execution_count");
        sc->inferences += cJSON_IsNumber(ic) ? ic->valuedouble : 0;
        sc->execs += cJSON_IsNumber(ec) ? ec->valuedouble : 0;
    }
    cJSON_Delete(j);
    return true;
}

/* ---- gRPC (--protocol grpc): unary calls on a channel with a pluck completion queue ------------- */

#define PERF_GRPC_INFER "/inference.GRPCInferenceService/ModelInfer"

typedef struct perf_grpc {
    grpc_channel *ch;
    grpc_completion_queue *cq;
} perf_grpc;

typedef struct perf_grpc_reply {
    grpc_status_code code;       /* GRPC_STATUS_UNAVAILABLE etc. for transport failures */
    char msg[160];               /* the status details */
    uint8_t *bytes;              /* the response message (owned), NULL when none came */
    size_t n;
} perf_grpc_reply;

static void *pb_alloc(void *data, size_t n)
{
    (void)data;
    return mem_alloc(n ? n : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    mem_free(p);
}

static ProtobufCAllocator pb_allocator(void)
{
    return (ProtobufCAllocator){.alloc = pb_alloc, .free = pb_free, .allocator_data = NULL};
}

static void grpc_conn_close(perf_grpc *g)
{
    if (g->ch) grpc_channel_destroy(g->ch);
    if (g->cq) {
        grpc_completion_queue_shutdown(g->cq);
        grpc_completion_queue_destroy(g->cq);
    }
    g->ch = NULL;
    g->cq = NULL;
}

static bool grpc_conn_open(perf_grpc *g, const perf_target *t)
{
    char target[300];
    snprintf(target, sizeof target, strchr(t->host, ':') ? "[%s]:%s" : "%s:%s", t->host, t->port);
    grpc_arg args[2];
    memset(args, 0, sizeof args);
    args[0].type = args[1].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)PERF_MAX_BODY;
    args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)PERF_MAX_BODY;
    grpc_channel_args ca = {.num_args = 2, .args = args};
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    g->ch = cr ? grpc_channel_create(target, cr, &ca) : NULL;
    if (cr) grpc_channel_credentials_release(cr);
    g->cq = grpc_completion_queue_create_for_pluck(NULL);
    if (g->ch && g->cq) return true;
    grpc_conn_close(g);
    return false;
}

/* One unary call of method with the packed request bytes; never waits past timeout_s (+1 s). */
static void grpc_unary(perf_grpc *g, const char *method, const uint8_t *req, size_t n, int timeout_s, perf_grpc_reply *r)
{
    r->code = GRPC_STATUS_UNAVAILABLE;
    r->msg[0] = 0;
    r->bytes = NULL;
    r->n = 0;
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(timeout_s, GPR_TIMESPAN));
    grpc_slice mslice = grpc_slice_from_static_string(method);
    grpc_call *call = grpc_channel_create_call(g->ch, NULL, GRPC_PROPAGATE_DEFAULTS, g->cq, mslice, NULL, deadline, NULL);
    if (!call) {
        snprintf(r->msg, sizeof r->msg, "cannot create a call of %s", method);
        return;
    }
    grpc_slice body = grpc_slice_from_static_buffer(req, n); /* req outlives the call */
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1), *recv = NULL;
    grpc_metadata_array md_init, md_trail;
    grpc_metadata_array_init(&md_init);
    grpc_metadata_array_init(&md_trail);
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_init;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &md_trail;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    grpc_call_error ce = send ? grpc_call_start_batch(call, ops, 6, call, NULL) : GRPC_CALL_ERROR;
    if (ce == GRPC_CALL_OK) {
        /* the call's deadline ends it; the wait's own limit is only a guard */
        gpr_timespec guard = gpr_time_add(deadline, gpr_time_from_seconds(1, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_pluck(g->cq, call, guard, NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            grpc_call_cancel(call, NULL);
            grpc_completion_queue_pluck(g->cq, call, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
            code = GRPC_STATUS_DEADLINE_EXCEEDED;
        }
        r->code = code;
        size_t k = GRPC_SLICE_LENGTH(details);
        if (k >= sizeof r->msg) k = sizeof r->msg - 1;
        memcpy(r->msg, GRPC_SLICE_START_PTR(details), k);
        r->msg[k] = 0;
        if (recv && code == GRPC_STATUS_OK) {
            grpc_byte_buffer_reader rd;
            if (grpc_byte_buffer_reader_init(&rd, recv)) {
                grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
                grpc_byte_buffer_reader_destroy(&rd);
                r->n = GRPC_SLICE_LENGTH(all);
                r->bytes = mem_alloc(r->n ? r->n : 1);
                if (r->bytes) memcpy(r->bytes, GRPC_SLICE_START_PTR(all), r->n);
                else r->code = GRPC_STATUS_RESOURCE_EXHAUSTED, snprintf(r->msg, sizeof r->msg, "out of memory");
                grpc_slice_unref(all);
            }
        }
    } else {
        snprintf(r->msg, sizeof r->msg, "grpc_call_start_batch failed (%d)", (int)ce);
    }
    if (recv) grpc_byte_buffer_destroy(recv);
    if (send) grpc_byte_buffer_destroy(send);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&md_init);
    grpc_metadata_array_destroy(&md_trail);
    grpc_call_unref(call);
}

/* Packs m into a new buffer (mem_alloc). */
static uint8_t *pb_pack(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = mem_alloc(*n ? *n : 1);
    if (b) protobuf_c_message_pack(m, b);
    return b;
}

/* Unary call of a small message, unpacked by d (NULL with a message on stderr). */
static ProtobufCMessage *grpc_query(perf_grpc *g, const perf_target *t, const char *method, const ProtobufCMessage *req,
                                    const ProtobufCMessageDescriptor *d, bool quiet)
{
    size_t n;
    uint8_t *b = pb_pack(req, &n);
    if (!b) return NULL;
    perf_grpc_reply r;
    grpc_unary(g, method, b, n, t->timeout_s, &r);
    mem_free(b);
    ProtobufCAllocator a = pb_allocator();
    ProtobufCMessage *m = r.code == GRPC_STATUS_OK && r.bytes ? protobuf_c_message_unpack(d, &a, r.n, r.bytes) : NULL;
    if (!m && !quiet)
        fprintf(stderr, "strata perf: %s: gRPC status %d %s\n", method, (int)r.code, r.code == GRPC_STATUS_OK ? "(response does not decode)" : r.msg);
    mem_free(r.bytes);
    return m;
}

/* The packed ModelInferRequest (raw_input_contents) from ModelMetadata over gRPC. */
static bool build_request_grpc(perf_grpc *g, const perf_target *t, const char *input_data, int64_t batch, perf_request *out)
{
    Inference__ModelMetadataRequest mq = INFERENCE__MODEL_METADATA_REQUEST__INIT;
    mq.name = (char *)t->model;
    mq.version = (char *)t->version;
    ProtobufCAllocator a = pb_allocator();
    Inference__ModelMetadataResponse *meta = (Inference__ModelMetadataResponse *)grpc_query(
        g, t, "/inference.GRPCInferenceService/ModelMetadata", &mq.base, &inference__model_metadata_response__descriptor, false);
    if (!meta) return false;
    out->rows = batch;
    size_t n_in = meta->n_inputs;
    bool ok = n_in > 0;
    if (!ok) fprintf(stderr, "strata perf: model metadata lists no inputs\n");
    bool zero = strcmp(input_data, "zero") == 0, random = strcmp(input_data, "random") == 0;
    Inference__ModelInferRequest req = INFERENCE__MODEL_INFER_REQUEST__INIT;
    req.model_name = (char *)t->model;
    req.model_version = (char *)t->version;
    Inference__ModelInferRequest__InferInputTensor *ins = mem_calloc(n_in ? n_in : 1, sizeof *ins);
    Inference__ModelInferRequest__InferInputTensor **inp = mem_calloc(n_in ? n_in : 1, sizeof *inp);
    ProtobufCBinaryData *raw = mem_calloc(n_in ? n_in : 1, sizeof *raw);
    int64_t *shapes = mem_calloc(n_in ? n_in * 16 : 1, sizeof *shapes);
    ok = ok && ins && inp && raw && shapes;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; ok && i < n_in; i++) {
        const Inference__ModelMetadataResponse__TensorMetadata *in = meta->inputs[i];
        size_t esize = 0;
        strata_dtype type = dtype_of(in->datatype, &esize);
        if (type == STRATA_DTYPE_UNDEFINED || in->n_shape > 16) {
            fprintf(stderr, "strata perf: input %zu: unusable metadata (BYTES inputs are not generated)\n", i);
            ok = false;
            break;
        }
        ins[i] = (Inference__ModelInferRequest__InferInputTensor)INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
        ins[i].name = in->name;
        ins[i].datatype = in->datatype;
        ins[i].shape = shapes + i * 16;
        ins[i].n_shape = in->n_shape;
        inp[i] = &ins[i];
        uint64_t numel = 1;
        for (size_t d = 0; d < in->n_shape; d++) {
            int64_t dim = in->shape[d], use = dim >= 0 ? dim : d == 0 ? batch : 1;
            if (d == 0 && dim >= 0 && batch != 1 && dim != batch) {
                fprintf(stderr, "strata perf: input '%s' has a fixed dim 0 (%lld): --batch does not apply\n", in->name, (long long)dim);
                ok = false;
            }
            ins[i].shape[d] = use;
            numel *= (uint64_t)use;
            if (numel > PERF_MAX_BODY) ok = false;
        }
        size_t nbytes = (size_t)numel * esize;
        if (!ok || nbytes > PERF_MAX_BODY) {
            ok = false;
            break;
        }
        if (random || zero) {
            raw[i].data = mem_alloc(nbytes ? nbytes : 1);
            if (!raw[i].data) {
                ok = false;
                break;
            }
            fill_random(raw[i].data, type, esize, (size_t)numel, &seed, zero);
            raw[i].len = nbytes;
        } else {
            char fp[4600];
            size_t n = 0;
            snprintf(fp, sizeof fp, "%s/%s", input_data, in->name);
            raw[i].data = (uint8_t *)read_file(fp, PERF_MAX_BODY, &n);
            raw[i].len = n;
            if (!raw[i].data || n != nbytes) {
                fprintf(stderr, "strata perf: %s: %s (want %zu raw bytes)\n", fp, raw[i].data ? "wrong size" : "cannot read", nbytes);
                ok = false;
                break;
            }
        }
    }
    if (ok) {
        req.n_inputs = n_in;
        req.inputs = inp;
        req.n_raw_input_contents = n_in;
        req.raw_input_contents = raw;
        out->bytes = (char *)pb_pack(&req.base, &out->n);
        ok = out->bytes != NULL;
    }
    for (size_t i = 0; raw && i < n_in; i++) mem_free(raw[i].data);
    mem_free(raw);
    mem_free(shapes);
    mem_free(inp);
    mem_free(ins);
    protobuf_c_message_free_unpacked(&meta->base, &a);
    return ok;
}

/* Server counters from ModelStatistics over gRPC (false when not answered). */
static bool server_stats_grpc(perf_grpc *g, const perf_target *t, server_counters *sc)
{
    memset(sc, 0, sizeof *sc);
    Inference__ModelStatisticsRequest q = INFERENCE__MODEL_STATISTICS_REQUEST__INIT;
    q.name = (char *)t->model;
    q.version = (char *)t->version;
    Inference__ModelStatisticsResponse *r = (Inference__ModelStatisticsResponse *)grpc_query(
        g, t, "/inference.GRPCInferenceService/ModelStatistics", &q.base, &inference__model_statistics_response__descriptor, true);
    if (!r) return false;
#define DUR(x, f) ((x) ? (double)(x)->f : 0.0)
    for (size_t i = 0; i < r->n_model_stats; i++) {
        const Inference__ModelStatistics *m = r->model_stats[i];
        const Inference__InferStatistics *is = m->inference_stats;
        if (is) {
            sc->success += DUR(is->success, count);
            sc->success_ns += DUR(is->success, ns);
            sc->fail += DUR(is->fail, count);
            sc->queue_ns += DUR(is->queue, ns);
            sc->input_ns += DUR(is->compute_input, ns);
            sc->infer_ns += DUR(is->compute_infer, ns);
            sc->output_ns += DUR(is->compute_output, ns);
        }
        sc->inferences += (double)m->inference_count;
        sc->execs += (double)m->execution_count;
    }
#undef DUR
    ProtobufCAllocator a = pb_allocator();
    protobuf_c_message_free_unpacked(&r->base, &a);
    return true;
}

/* A closed-loop gRPC client: its own channel and completion queue, ModelInfer until end_ns. */
static void *grpc_client_main(void *arg)
{
    perf_client *c = arg;
    perf_grpc g = {0};
    bool open = grpc_conn_open(&g, c->t);
    ProtobufCAllocator a = pb_allocator();
    for (;;) {
        uint64_t t0 = clock_now_ns();
        if (t0 >= c->end_ns) break;
        perf_grpc_reply r = {.code = GRPC_STATUS_UNAVAILABLE};
        if (open) grpc_unary(&g, PERF_GRPC_INFER, (const uint8_t *)c->rq->bytes, c->rq->n, c->t->timeout_s, &r);
        else snprintf(r.msg, sizeof r.msg, "cannot create a channel");
        int kind = 0; /* 0 ok, 1 error status, 2 transport */
        if (r.code == GRPC_STATUS_OK) {
            Inference__ModelInferResponse *m = r.bytes ? inference__model_infer_response__unpack(&a, r.n, r.bytes) : NULL;
            if (!m || m->n_outputs == 0) {
                kind = 1;
                snprintf(r.msg, sizeof r.msg, "%s", m ? "ModelInferResponse without outputs" : "ModelInferResponse does not decode");
            }
            if (m) inference__model_infer_response__free_unpacked(m, &a);
        } else {
            kind = r.code == GRPC_STATUS_UNAVAILABLE || r.code == GRPC_STATUS_DEADLINE_EXCEEDED ? 2 : 1;
        }
        mem_free(r.bytes);
        uint64_t t1 = clock_now_ns();
        client_record(c, t0, t1, kind, (int)r.code, r.msg[0] ? r.msg : "(no details)");
    }
    grpc_conn_close(&g);
    return NULL;
}

static bool parse_list(const char *s, int *out, size_t *n)
{
    *n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > PERF_MAX_CONCURRENCY || *n == PERF_MAX_LEVELS) return false;
        out[(*n)++] = (int)v;
        if (*end == ',') end++;
        else if (*end) return false;
        s = end;
    }
    return *n > 0;
}

static bool parse_url(const char *url, perf_target *t)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : strncmp(url, "grpc://", 7) == 0 ? url + 7 : url;
    if (strncmp(url, "https://", 8) == 0) return false;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof t->host) return false;
    char hp[256];
    memcpy(hp, p, n);
    hp[n] = 0;
    char *colon = strrchr(hp, ':');
    if (colon && !strchr(colon, ']')) {
        *colon = 0;
        snprintf(t->port, sizeof t->port, "%.15s", colon + 1);
    } else {
        snprintf(t->port, sizeof t->port, "%s", t->grpc ? "8001" : "80");
    }
    if (hp[0] == '[') { /* [::1] */
        size_t k = strlen(hp);
        if (k < 2 || hp[k - 1] != ']') return false;
        hp[k - 1] = 0;
        memmove(hp, hp + 1, k - 1);
    }
    snprintf(t->host, sizeof t->host, "%s", hp);
    return t->host[0] && t->port[0];
}

int cmd_perf(int argc, char **argv)
{
    perf_target t = {.timeout_s = 30};
    const char *url = NULL, *input_data = "random", *protocol = "http";
    int levels[PERF_MAX_LEVELS] = {1, 4, 16, 64};
    size_t n_levels = 4;
    double duration = 5, warmup = 1;
    int64_t batch = 1;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "strata perf: '%s' wants a value\n%s", a, usage_text);
            return 2;
        }
        i++;
        char *end = NULL;
        if (strcmp(a, "--url") == 0) url = v;
        else if (strcmp(a, "--model") == 0 && strlen(v) < sizeof t.model) snprintf(t.model, sizeof t.model, "%s", v);
        else if (strcmp(a, "--model-version") == 0 && strlen(v) < sizeof t.version) snprintf(t.version, sizeof t.version, "%s", v);
        else if (strcmp(a, "--protocol") == 0) protocol = v;
        else if (strcmp(a, "--input-data") == 0) input_data = v;
        else if (strcmp(a, "--concurrency") == 0 && parse_list(v, levels, &n_levels)) continue;
        else if (strcmp(a, "--duration") == 0 && (duration = strtod(v, &end)) > 0 && duration <= 3600 && !*end) continue;
        else if (strcmp(a, "--warmup") == 0 && (warmup = strtod(v, &end)) >= 0 && warmup <= 600 && !*end) continue;
        else if (strcmp(a, "--batch") == 0 && (batch = strtoll(v, &end, 10)) >= 1 && batch <= 1 << 20 && !*end) continue;
        else if (strcmp(a, "--timeout") == 0 && (t.timeout_s = (int)strtol(v, &end, 10)) >= 1 && t.timeout_s <= 3600 && !*end) continue;
        else {
            fprintf(stderr, "strata perf: bad argument '%s %s'\n%s", a, v, usage_text);
            return 2;
        }
    }
    if (!url || !t.model[0]) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(protocol, "http") != 0 && strcmp(protocol, "grpc") != 0) {
        fprintf(stderr, "strata perf: --protocol %s: want http or grpc\n", protocol);
        return 2;
    }
    t.grpc = strcmp(protocol, "grpc") == 0;
    if (t.grpc && json) {
        fprintf(stderr, "strata perf: --json applies to --protocol http only\n");
        return 2;
    }
    if (!parse_url(url, &t)) {
        fprintf(stderr, "strata perf: '%s' is not an http://HOST:PORT URL\n", url);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    perf_request rq = {0};
    perf_grpc stats_conn = {0}; /* gRPC: metadata and statistics */
    if (t.grpc) {
        grpc_init();
        bool ok = grpc_conn_open(&stats_conn, &t) && build_request_grpc(&stats_conn, &t, input_data, batch, &rq);
        if (!ok) {
            grpc_conn_close(&stats_conn);
            mem_free(rq.bytes);
            grpc_shutdown();
            return 1;
        }
    } else if (!build_request(&t, input_data, batch, json, &rq)) {
        return 1;
    }
    printf("strata perf: %s model '%s'%s%s, %s requests of %zu bytes, batch %lld, %.1f s per level (+%.1f s warmup)\n", url,
           t.model, t.version[0] ? " version " : "", t.version, t.grpc ? "gRPC raw" : json ? "JSON" : "binary", rq.n, (long long)batch, duration, warmup);
    printf("%11s %10s %10s %9s %9s %9s %9s | %9s %9s %9s %9s %9s %9s %6s\n", "concurrency", "infer/s", "req/s", "avg_us",
           "p50_us", "p90_us", "p99_us", "srv_queue", "srv_input", "srv_infer", "srv_output", "srv_other", "net+http", "batch");
    int rc = 0;
    for (size_t li = 0; li < n_levels; li++) {
        int n = levels[li];
        perf_client *cl = mem_calloc((size_t)n, sizeof *cl);
        if (!cl) {
            fprintf(stderr, "strata perf: out of memory\n");
            rc = 1;
            break;
        }
        server_counters s0, s1;
        uint64_t start = clock_now_ns();
        uint64_t measure = start + (uint64_t)(warmup * 1e9);
        uint64_t endt = measure + (uint64_t)(duration * 1e9);
        int started = 0;
        for (int k = 0; k < n; k++) {
            cl[k] = (perf_client){.t = &t, .rq = &rq, .start_ns = start, .measure_ns = measure, .end_ns = endt};
            if (pthread_create(&cl[k].thread, NULL, t.grpc ? grpc_client_main : client_main, &cl[k]) != 0) break;
            started++;
        }
        /* server counters around the measured window */
        while (clock_now_ns() < measure) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        bool have0 = t.grpc ? server_stats_grpc(&stats_conn, &t, &s0) : server_stats(&t, &s0);
        while (clock_now_ns() < endt) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        bool have1 = t.grpc ? server_stats_grpc(&stats_conn, &t, &s1) : server_stats(&t, &s1);
        for (int k = 0; k < started; k++) pthread_join(cl[k].thread, NULL);
        size_t total = 0;
        uint64_t ok = 0, err = 0, tr = 0;
        for (int k = 0; k < started; k++) total += cl[k].n_lat, ok += cl[k].n_ok, err += cl[k].n_err, tr += cl[k].n_transport;
        uint64_t *all = mem_alloc((total ? total : 1) * sizeof *all);
        double sum = 0;
        size_t m = 0;
        for (int k = 0; all && k < started; k++)
            for (size_t q = 0; q < cl[k].n_lat; q++) all[m++] = cl[k].lat[q], sum += (double)cl[k].lat[q];
        if (m) qsort(all, m, sizeof *all, cmp_u64);
#define PCT(p) (m ? (double)all[(size_t)((double)(m - 1) * (p))] / 1e3 : 0.0)
        double rps = (double)ok / duration, avg = m ? sum / (double)m / 1e3 : 0;
        printf("%11d %10.1f %10.1f %9.1f %9.1f %9.1f %9.1f |", n, rps * (double)batch, rps, avg, PCT(0.50), PCT(0.90), PCT(0.99));
        double dq = 0, di = 0, dn = 0, dout = 0, dother = 0, dnet = 0, dbatch = 0;
        bool have = have0 && have1 && s1.success > s0.success;
        if (have) {
            double ds = s1.success - s0.success;
            dq = (s1.queue_ns - s0.queue_ns) / ds / 1e3;
            di = (s1.input_ns - s0.input_ns) / ds / 1e3;
            dn = (s1.infer_ns - s0.infer_ns) / ds / 1e3;
            dout = (s1.output_ns - s0.output_ns) / ds / 1e3;
            double srv = (s1.success_ns - s0.success_ns) / ds / 1e3;
            dother = srv - dq - di - dn - dout;
            dnet = avg - srv;
            dbatch = s1.execs > s0.execs ? (s1.inferences - s0.inferences) / (s1.execs - s0.execs) : 0;
            printf(" %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %6.1f\n", dq, di, dn, dout, dother, dnet, dbatch);
        } else {
            printf(" %9s %9s %9s %9s %9s %9s %6s\n", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a");
        }
        /* one machine-readable line per level (bench scripts read these) */
        printf("PERF concurrency=%d throughput=%.2f rps=%.2f avg_us=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f ok=%llu "
               "errors=%llu transport_errors=%llu server=%s queue_us=%.1f input_us=%.1f infer_us=%.1f output_us=%.1f "
               "other_us=%.1f net_us=%.1f avg_batch=%.2f\n",
               n, rps * (double)batch, rps, avg, PCT(0.50), PCT(0.90), PCT(0.99), (unsigned long long)ok,
               (unsigned long long)err, (unsigned long long)tr, have ? "yes" : "no", dq, di, dn, dout, dother, dnet, dbatch);
#undef PCT
        if (err || tr) {
            for (int k = 0; k < started; k++)
                if (cl[k].last_err[0]) {
                    fprintf(stderr, "strata perf: concurrency %d: %llu errors, %llu transport errors; last: %s %d %s\n", n,
                            (unsigned long long)err, (unsigned long long)tr, t.grpc ? "gRPC status" : "HTTP",
                            cl[k].last_err_status, cl[k].last_err);
                    break;
                }
            rc = 1;
        }
        fflush(stdout);
        for (int k = 0; k < n; k++) mem_free(cl[k].lat);
        mem_free(all);
        mem_free(cl);
    }
    mem_free(rq.bytes);
    if (t.grpc) {
        grpc_conn_close(&stats_conn);
        grpc_shutdown();
    }
    return rc;
}
