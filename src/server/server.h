/* server/server.h — the server layer's interface: serve a Triton-layout model repository over
 * KServe v2 (HTTP and gRPC) with dynamic batching and Prometheus metrics. Used by
 * tools/cmd_serve.c; everything else of the layer is in internal.h. */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H

#include <stdbool.h>

#include "strata/strata.h"

typedef struct server_options {
    const char *repository;    /* model repository folder */
    const char *host;          /* address to bind ("127.0.0.1"); NULL = every interface */
    int http_port;             /* KServe v2 REST port (0 = any free port) */
    int metrics_port;          /* Prometheus /metrics port; -1 = off */
    int grpc_port;             /* KServe v2 gRPC port; 0 = off */
    const char *control_mode;  /* "none" (default), "poll" or "explicit" */
    int poll_secs;             /* poll mode: rescan period in seconds (0 = 15) */
    const char *load_models;   /* explicit mode: comma-separated models to load at start, "*" = all */
    const char *plan_cache;    /* folder for compiled plans; NULL = $TMPDIR/strata-plan-cache */
    int drain_timeout_s;       /* at stop: how long in-flight requests may take (default 30) */
} server_options;

typedef struct server server;

/* Loads the repository and starts listening. Models that fail to load are reported by the
 * repository index and make the server not ready; the error of a bad option is a status. */
strata_status server_create(const server_options *o, server **out);
/* Ports actually bound. */
int server_http_port(const server *s);
int server_metrics_port(const server *s);
int server_grpc_port(const server *s);   /* -1 when off */
/* True when every model loaded. */
bool server_ready(const server *s);
/* Stops accepting, waits (bounded) for in-flight requests, closes everything; accepts NULL.
 * Returns how many requests were still in flight when the drain timeout ended (0 normally). */
int server_destroy(server *s);

#endif
