/* tools/cmd_serve.c — `strata serve --model-repository DIR [--http-port 8000] [--grpc-port 8001]
 * [--metrics-port 8002] [--model-control-mode none|poll|explicit] [--repository-poll-secs S] [--load-model NAME]...`:
 * serves the repository over KServe v2 HTTP and gRPC until SIGTERM/SIGINT, then stops accepting, drains
 * in-flight requests (at most 30 s) and exits 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "server/server.h"

static const char usage_text[] =
    "usage: strata serve --model-repository DIR [--http-port 8000] [--grpc-port 8001 (0: off)]\n"
    "                    [--metrics-port 8002]\n"
    "                    [--model-control-mode none|poll|explicit] [--repository-poll-secs 15]\n"
    "                    [--load-model NAME]... [--plan-cache DIR] [--host 127.0.0.1]\n"
    "                    [--drain-timeout 30]\n";

static bool parse_port(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < 0 || v > 65535) return false;
    *out = (int)v;
    return true;
}

int cmd_serve(int argc, char **argv)
{
    char load_models[4096] = "";
    int poll_secs = 15;
    server_options o = {.http_port = 8000, .grpc_port = 8001, .metrics_port = 8002, .control_mode = "none", .drain_timeout_s = 30};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "strata serve: '%s' wants a value\n%s", a, usage_text);
            return 2;
        }
        i++;
        if (strcmp(a, "--model-repository") == 0) o.repository = v;
        else if (strcmp(a, "--plan-cache") == 0) o.plan_cache = v;
        else if (strcmp(a, "--model-control-mode") == 0) o.control_mode = v;
        else if (strcmp(a, "--repository-poll-secs") == 0 && parse_port(v, &poll_secs) && poll_secs > 0) continue;
        else if (strcmp(a, "--load-model") == 0 && strlen(v) < 128 && !strchr(v, ',') &&
                 strlen(load_models) + strlen(v) + 2 < sizeof load_models) {
            if (load_models[0]) strcat(load_models, ",");
            strcat(load_models, v);
        }
        else if (strcmp(a, "--host") == 0) o.host = v;
        else if (strcmp(a, "--http-port") == 0 && parse_port(v, &o.http_port)) continue;
        else if (strcmp(a, "--metrics-port") == 0 && parse_port(v, &o.metrics_port)) continue;
        else if (strcmp(a, "--grpc-port") == 0 && parse_port(v, &o.grpc_port)) continue;
        else if (strcmp(a, "--drain-timeout") == 0 && parse_port(v, &o.drain_timeout_s)) continue;
        else {
            fprintf(stderr, "strata serve: bad argument '%s %s'\n%s", a, v, usage_text);
            return 2;
        }
    }
    if (!o.repository) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(o.control_mode, "none") != 0 && strcmp(o.control_mode, "poll") != 0 &&
        strcmp(o.control_mode, "explicit") != 0) {
        fprintf(stderr, "strata serve: --model-control-mode is none, poll or explicit, not '%s'\n%s", o.control_mode, usage_text);
        return 2;
    }
    o.poll_secs = poll_secs;
    o.load_models = load_models[0] ? load_models : NULL;
    /* every thread inherits this mask; the main thread takes the signals with sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    server *s = NULL;
    strata_status st = server_create(&o, &s);
    if (st != STRATA_OK) return cli_fail("serve", st);
    printf("strata serve: KServe v2 HTTP on port %d, gRPC on port %d, metrics on port %d, %s\n", server_http_port(s),
           server_grpc_port(s), server_metrics_port(s), server_ready(s) ? "ready" : "NOT ready (see POST /v2/repository/index)");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    printf("strata serve: %s: draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    fflush(stdout);
    int left = server_destroy(s);
    if (left) fprintf(stderr, "strata serve: %d requests still in flight after the drain timeout\n", left);
    printf("strata serve: stopped\n");
    return 0;
}
