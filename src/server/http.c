/* server/http.c — the HTTP/1.1 frontend on libmicrohttpd (no hand-written HTTP parsing): one
 * thread per connection so a handler may wait for its inference, limits from reliability.md 3.0
 * (body 64 MiB checked from Content-Length before reading, header count and size, URL length,
 * chunk count, connection limit, inactivity timeout), bodies collected for a protocol handler. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "internal.h"

#define HTTP_MAX_URL 8192
#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_CHUNKS 65536
#define HTTP_MAX_CONNECTIONS 1024
#define HTTP_TIMEOUT_S 30
#define HTTP_POOL_BYTES (96 * 1024)   /* request line + headers must fit (64 KiB + slack) */

struct http_server {
    struct MHD_Daemon *d;        /* the daemon */
    http_handler fn;             /* protocol handler */
    void *ctx;                   /* its context */
    int port;                    /* bound port */
};

/* Per request state, from the first call of the access handler to completion. */
typedef struct conn_state {
    char *body;                  /* collected body (NUL-terminated) */
    size_t n, cap;
    size_t n_chunks;             /* upload callbacks of a chunked body */
    bool chunked;                /* Transfer-Encoding present */
    int fail_status;             /* set when the body is refused (413, 400) */
    char fail_msg[200];
} conn_state;

static enum MHD_Result send_response(struct MHD_Connection *c, http_response *res, bool close)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        res->n_body, res->body ? res->body : (void *)"", res->body ? mem_free : NULL);
    if (!r) {
        mem_free(res->body);
        return MHD_NO;
    }
    res->body = NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type ? res->content_type : "application/json");
    if (res->header_name[0]) MHD_add_response_header(r, res->header_name, res->header_value);
    if (close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, bool close, const char *msg)
{
    http_response res;
    memset(&res, 0, sizeof res);
    http_error(&res, status, "%s", msg);
    return send_response(c, &res, close);
}

typedef struct header_check {
    size_t count;                /* headers seen */
    size_t longest;              /* longest name + value */
    size_t n_length;             /* Content-Length headers */
    size_t n_encoding;           /* Transfer-Encoding headers */
} header_check;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    header_check *hc = cls;
    hc->count++;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) hc->n_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) hc->n_encoding++;
    size_t n = strlen(key) + (value ? strlen(value) : 0);
    if (n > hc->longest) hc->longest = n;
    return MHD_YES;
}

/* Content-Length as digits only (no sign, no hex, no spaces); false when malformed. */
static bool parse_length(const char *s, uint64_t *out)
{
    if (!*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    http_server *h = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        cs = mem_calloc(1, sizeof *cs);
        if (!cs) return MHD_NO;
        *con_cls = cs;
        if (strlen(url) > HTTP_MAX_URL) return send_error(c, 414, true, "URL longer than 8192 bytes");
        header_check hc = {0, 0, 0, 0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &hc);
        if (hc.count > HTTP_MAX_HEADERS)
            return send_error(c, 431, true, "more than 100 request headers");
        if (hc.longest > HTTP_MAX_HEADER)
            return send_error(c, 431, true, "a request header is longer than 8192 bytes");
        /* framing that smuggling lives in: refuse rather than guess */
        if (hc.n_length > 1) return send_error(c, 400, true, "more than one Content-Length header");
        if (hc.n_encoding > 1) return send_error(c, 400, true, "more than one Transfer-Encoding header");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (cl && te) return send_error(c, 400, true, "both Content-Length and Transfer-Encoding");
        if (te && strcasecmp(te, "chunked") != 0)
            return send_error(c, 501, true, "only Transfer-Encoding: chunked is supported");
        const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        if (ce && strcasecmp(ce, "identity") != 0)
            return send_error(c, 415, true, "Content-Encoding is not supported (send the body uncompressed)");
        cs->chunked = te != NULL;
        if (cl) {
            uint64_t n;
            if (!parse_length(cl, &n)) return send_error(c, 400, true, "malformed Content-Length");
            if (n > SERVER_MAX_BODY) {
                char msg[160];
                snprintf(msg, sizeof msg, "request body of %llu bytes exceeds the limit of %zu bytes",
                         (unsigned long long)n, SERVER_MAX_BODY);
                return send_error(c, 413, true, msg);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cs->fail_status) return MHD_YES; /* discard the rest */
        if (cs->chunked && ++cs->n_chunks > HTTP_MAX_CHUNKS) {
            cs->fail_status = 400;
            snprintf(cs->fail_msg, sizeof cs->fail_msg, "request body exceeds the maximum of %d chunks", HTTP_MAX_CHUNKS);
            return MHD_YES;
        }
        if (cs->n + n > SERVER_MAX_BODY) {
            cs->fail_status = 413;
            snprintf(cs->fail_msg, sizeof cs->fail_msg, "request body exceeds the limit of %zu bytes", SERVER_MAX_BODY);
            mem_free(cs->body);
            cs->body = NULL;
            cs->n = cs->cap = 0;
            return MHD_YES;
        }
        if (cs->n + n + 1 > cs->cap) {
            size_t cap = cs->cap ? cs->cap : 4096;
            while (cap < cs->n + n + 1) cap *= 2;
            if (cap > SERVER_MAX_BODY + 1) cap = SERVER_MAX_BODY + 1;
            char *nb = mem_realloc(cs->body, cap);
            if (!nb) {
                cs->fail_status = 503;
                snprintf(cs->fail_msg, sizeof cs->fail_msg, "out of memory for a %zu-byte body", cs->n + n);
                return MHD_YES;
            }
            cs->body = nb;
            cs->cap = cap;
        }
        memcpy(cs->body + cs->n, upload_data, n);
        cs->n += n;
        cs->body[cs->n] = 0;
        return MHD_YES;
    }
    if (cs->fail_status) return send_error(c, cs->fail_status, true, cs->fail_msg);
    http_request req = {method, url, cs->body ? cs->body : "", cs->n, c};
    http_response res;
    memset(&res, 0, sizeof res);
    h->fn(h->ctx, &req, &res);
    return send_response(c, &res, false);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    conn_state *cs = *con_cls;
    if (cs) {
        mem_free(cs->body);
        mem_free(cs);
        *con_cls = NULL;
    }
}

/* Keeps the URL as sent: %-escapes are not decoded (names with '%' are not valid anyway, and a
 * decoded %00 or %2f must not change the route). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

strata_status http_server_start(const char *host, int port, http_handler fn, void *ctx, http_server **out)
{
    *out = NULL;
    if (port < 0 || port > 65535) return error_set(STRATA_INVALID_ARGUMENT, "port %d is not a TCP port", port);
    http_server *h = mem_calloc(1, sizeof *h);
    if (!h) return error_set(STRATA_OUT_OF_MEMORY, "http: out of memory");
    h->fn = fn;
    h->ctx = ctx;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* closed by default: --host 0.0.0.0 opens it */
    if (host && inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        mem_free(h);
        return error_set(STRATA_INVALID_ARGUMENT, "'%s' is not an IPv4 address", host);
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_BYTES,
                            MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
                            MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_END);
    if (!h->d) {
        mem_free(h);
        return error_set(STRATA_IO_ERROR, "cannot listen on %s:%d (port in use?)", host ? host : "127.0.0.1", port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : port;
    *out = h;
    return STRATA_OK;
}

int http_server_port(const http_server *h) { return h ? h->port : -1; }

void http_server_quiesce(http_server *h)
{
    if (!h || !h->d) return;
    MHD_socket s = MHD_quiesce_daemon(h->d);
    if (s != MHD_INVALID_SOCKET) close(s);
}

void http_server_stop(http_server *h)
{
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    mem_free(h);
}

const char *http_header(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND, name);
}

void http_error(http_response *res, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    if (j && cJSON_AddStringToObject(j, "error", msg)) {
        http_json(res, status, j);
    } else {
        res->status = 500;
        res->content_type = "application/json";
        res->body = NULL;
        res->n_body = 0;
    }
    cJSON_Delete(j);
}

void http_json(http_response *res, int status, const cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j);
    mem_free(res->body);
    res->body = NULL;
    res->n_body = 0;
    res->content_type = "application/json";
    res->status = text ? status : 500;
    if (text) {
        size_t n = strlen(text);
        res->body = mem_alloc(n + 1);
        if (res->body) {
            memcpy(res->body, text, n + 1);
            res->n_body = n;
        } else {
            res->status = 500;
        }
        cJSON_free(text);
    }
}
