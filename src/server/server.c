/* server/server.c — the server object: loads the repository, starts the KServe HTTP frontend and
 * the metrics endpoint, and shuts down in order (stop accepting, drain in-flight requests within
 * the drain timeout, stop the schedulers, close the connections, free the models). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct server {
    repository *repo;            /* models */
    kserve_ctx kctx;             /* shared by the HTTP handlers */
    http_server *http;           /* KServe v2 REST */
    http_server *metrics;        /* /metrics, or NULL */
    grpc_frontend *grpc;         /* KServe v2 gRPC, or NULL */
    int drain_timeout_s;         /* bound on the drain at stop */
};

strata_status server_create(const server_options *o, server **out)
{
    *out = NULL;
    /* the control mode and its arguments are checked by repository_open */
    server *s = mem_calloc(1, sizeof *s);
    if (!s) return error_set(STRATA_OUT_OF_MEMORY, "server: out of memory");
    s->drain_timeout_s = o->drain_timeout_s > 0 ? o->drain_timeout_s : 30;
    atomic_init(&s->kctx.in_flight, 0);
    atomic_init(&s->kctx.draining, false);
    strata_status st = repository_open(o, &s->repo);
    if (st != STRATA_OK) goto fail;
    s->kctx.repo = s->repo;
    st = http_server_start(o->host, o->http_port, kserve_http_handle, &s->kctx, &s->http);
    if (st != STRATA_OK) goto fail;
    if (o->metrics_port >= 0) {
        st = http_server_start(o->host, o->metrics_port, kserve_http_metrics, &s->kctx, &s->metrics);
        if (st != STRATA_OK) goto fail;
    }
    if (o->grpc_port > 0) {
        st = kserve_grpc_start(o->host, o->grpc_port, &s->kctx, &s->grpc);
        if (st != STRATA_OK) goto fail;
    }
    *out = s;
    return STRATA_OK;
fail:
    kserve_grpc_stop(s->grpc);
    http_server_stop(s->metrics);
    http_server_stop(s->http);
    repository_close(s->repo);
    mem_free(s);
    return st;
}

int server_http_port(const server *s) { return http_server_port(s->http); }
int server_metrics_port(const server *s) { return s->metrics ? http_server_port(s->metrics) : -1; }
int server_grpc_port(const server *s) { return s->grpc ? kserve_grpc_port(s->grpc) : -1; }
bool server_ready(const server *s) { return repository_ready(s->repo); }

int server_destroy(server *s)
{
    if (!s) return 0;
    atomic_store(&s->kctx.draining, true);
    http_server_quiesce(s->http);
    kserve_grpc_quiesce(s->grpc);
    uint64_t deadline = clock_now_ns() + (uint64_t)s->drain_timeout_s * 1000000000u;
    while (atomic_load(&s->kctx.in_flight) > 0 && clock_now_ns() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int left = (int)atomic_load(&s->kctx.in_flight);
    repository_stop(s->repo); /* anything still queued is answered now */
    kserve_grpc_stop(s->grpc);
    http_server_stop(s->metrics);
    http_server_stop(s->http);
    repository_close(s->repo);
    mem_free(s);
    return left;
}
