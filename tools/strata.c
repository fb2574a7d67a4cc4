/* tools/strata.c — the `strata` command line: a table of subcommands, each in cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"inspect", cmd_inspect, "inspect MODEL|PLAN [--json] [--slots]   inputs, outputs, ops, params, FLOPs; plan memory"},
    {"run", cmd_run, "run MODEL|PLAN -i NAME=x.npy ... [-o DIR] [--labels y.npy] [--reference]"},
    {"bench", cmd_bench, "bench MODEL|PLAN [--batch B] [--threads T] [--iters N] [--json]   latency, throughput"},
    {"profile", cmd_profile, "profile MODEL|PLAN [--batch B] [--iters N] [--trace FILE]   where the time goes"},
    {"compile", cmd_compile, "compile MODEL -o OUT.onnx [--shape N=DxD|--profile N=MIN:OPT:MAX] [--dump DIR] [-v]"},
    {"serve", cmd_serve, "serve --model-repository DIR [--http-port 8000] [--metrics-port 8002] [--plan-cache DIR]   KServe v2 server"},
    {"perf", cmd_perf, "perf --url http://HOST:PORT --model NAME [--concurrency 1,4,16,64] [--duration S] [--batch B]   load generator"},
    {"conformance", cmd_conformance, "conformance DIR... [--compiled] [--filter S] [--min N] [-v]   ONNX backend tests"},
};

int cli_fail(const char *cmd, strata_status st)
{
    fprintf(stderr, "strata %s: %s: %s\n", cmd, strata_status_name(st), strata_last_error());
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f, "strata %s — an inference stack\nusage:\n", STRATA_VERSION_STRING);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  strata %s\n", commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("strata %s\n", STRATA_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "strata: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
