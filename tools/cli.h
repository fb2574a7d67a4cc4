/* tools/cli.h — the `strata` command line's subcommands (one file each) and shared helpers. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "serialize/serialize.h"

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_perf(int argc, char **argv);

/* An open model or plan with one session (cli_session.c). */
typedef struct cli_session {
    strata_plan *plan;            /* plan path (also for ONNX compiled in memory) */
    strata_model *owned_model;    /* --reference path */
    const strata_model *model;    /* inputs/outputs of what runs (borrowed) */
    strata_session *session;
    double compile_ms;            /* in-memory compile time (0 for a plan file) */
    double load_ms;               /* plan open + session creation */
    int n_threads;                /* set before opening: session threads (0 = one per core) */
    int precision;                /* set before opening: compile_precision for ONNX compiled in
                                     memory (--precision fp32|bf16) */
} cli_session;

/* Parses --precision's value into cs->precision; 2 (usage error, message printed) when bad. */
int cli_precision_arg(const char *cmd, const char *value, cli_session *cs);

/* Opens path (plan or ONNX; ONNX is compiled for the given inputs' shapes, or run by the
 * reference interpreter when reference is true). cs->n_threads is read, the rest written. */
strata_status cli_session_open(const char *path, size_t n_inputs, const char *const *names,
                               strata_tensor *const *inputs, bool reference, cli_session *cs);
/* The same for benchmarks: symbolic input dims taken as batch (dim 0) or 1. */
strata_status cli_session_open_batch(const char *path, int64_t batch, bool reference, cli_session *cs);
void cli_session_close(cli_session *cs);

/* Random inputs for benchmarking (cli_inputs.c). */
#define CLI_MAX_INPUTS 64
typedef struct cli_inputs {
    const char *names[CLI_MAX_INPUTS];      /* borrowed from the model */
    strata_tensor *tensors[CLI_MAX_INPUTS]; /* owned */
    size_t n;
} cli_inputs;
strata_status cli_random_inputs(const strata_model *m, int64_t batch, cli_inputs *in);
void cli_inputs_release(cli_inputs *in);

/* Prints "strata CMD: <status name>: <last error>" to stderr and returns 1. */
int cli_fail(const char *cmd, strata_status st);

#endif
