/* tools/cmd_profile.c — `strata profile MODEL|PLAN [--batch B] [--iters N] [--trace FILE]
 * [--top K]`: per step the kernel, time (median over N runs), share of the run, bytes moved;
 * then the split between compute kernels, memory movement, control flow and framework overhead
 * (run time not inside any step) with the dominant class named, so that a user sees which layer
 * owns the bottleneck (the seed's debugging playbook); and a Chrome trace (chrome://tracing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct row {
    size_t step;
    uint64_t ns;
} row;

static int by_time_desc(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static const char *const cost_names[] = {"compute kernels", "memory movement (copies, layout)",
                                         "control flow (interpreter)"};
static const char *const cost_owner[] = {
    "the kernels / compiler own it: faster kernels, fusion, lower precision",
    "the compiler owns it: fold transposes and reshapes, fuse, pick layouts that need no copies",
    "the runtime owns it: control flow runs in the interpreter"};

int cmd_profile(int argc, char **argv)
{
    const char *path = NULL, *trace = NULL;
    long batch = 1, iters = 10, top = 15, threads = 0;
    const char *precision = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) iters = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) top = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) precision = argv[++i];
        else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) trace = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "strata profile: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path || batch < 1 || iters < 1) {
        fprintf(stderr, "usage: strata profile MODEL|PLAN [--batch B] [--threads T] [--iters N] [--top K] [--trace FILE] [--precision fp32|bf16]\n");
        return 2;
    }
    cli_inputs in;
    memset(&in, 0, sizeof in);
    cli_session cs;
    memset(&cs, 0, sizeof cs);
    if (precision && cli_precision_arg("profile", precision, &cs) != 0) return 2;
    strata_tensor *outs[CLI_MAX_INPUTS] = {NULL};
    strata_step_profile *steps = NULL;
    uint64_t *samples = NULL, *runs = NULL, *gaps = NULL;
    row *rows = NULL;
    int rc = 1;
    cs.n_threads = (int)threads;
    strata_status st = cli_session_open_batch(path, batch, false, &cs);
    if (st == STRATA_OK) st = cli_random_inputs(cs.model, batch, &in);
    if (st == STRATA_OK) st = strata_session_run(cs.session, in.n, in.names, in.tensors, 0, NULL, outs); /* warm-up */
    if (st == STRATA_OK) st = strata_session_set_profiling(cs.session, 1);
    if (st != STRATA_OK) {
        cli_fail("profile", st);
        goto done;
    }
    size_t n_steps = strata_session_profile(cs.session, NULL, 0, NULL);
    if (n_steps == 0) { /* profile() reports counts only after a profiled run */
        st = strata_session_run(cs.session, in.n, in.names, in.tensors, 0, NULL, outs);
        n_steps = st == STRATA_OK ? strata_session_profile(cs.session, NULL, 0, NULL) : 0;
    }
    steps = calloc(n_steps + 1, sizeof *steps);
    samples = calloc((n_steps + 1) * (size_t)iters, sizeof *samples);
    runs = calloc((size_t)iters, sizeof *runs);
    gaps = calloc((size_t)iters, sizeof *gaps);
    rows = calloc(n_steps + 1, sizeof *rows);
    if (!steps || !samples || !runs || !gaps || !rows) goto done;
    for (long k = 0; k < iters && st == STRATA_OK; k++) {
        st = strata_session_run(cs.session, in.n, in.names, in.tensors, 0, NULL, outs);
        strata_session_profile(cs.session, steps, n_steps, &runs[k]);
        for (size_t i = 0; i < n_steps; i++) samples[i * (size_t)iters + (size_t)k] = steps[i].ns;
    }
    if (st != STRATA_OK) {
        cli_fail("profile", st);
        goto done;
    }
    /* Time between steps, run by run (the run's time less its own steps'): the median run less
     * the sum of per-step medians is not it — on a noisy machine the two medians differ by more
     * than the gap itself (ResNet-50 at batch 8 showed 15 ms "overhead" that way, 0.04 ms run by run). */
    for (long k = 0; k < iters; k++) {
        uint64_t in_steps = 0;
        for (size_t i = 0; i < n_steps; i++) in_steps += samples[i * (size_t)iters + (size_t)k];
        gaps[k] = runs[k] > in_steps ? runs[k] - in_steps : 0;
    }
    qsort(gaps, (size_t)iters, sizeof *gaps, cmp_u64);
    /* medians per step and of the whole run */
    qsort(runs, (size_t)iters, sizeof *runs, cmp_u64);
    uint64_t run_med = runs[iters / 2];
    uint64_t by_cost[3] = {0, 0, 0}, bytes = 0;
    for (size_t i = 0; i < n_steps; i++) {
        qsort(samples + i * (size_t)iters, (size_t)iters, sizeof *samples, cmp_u64);
        rows[i].step = i;
        rows[i].ns = samples[i * (size_t)iters + (size_t)iters / 2];
        by_cost[steps[i].cost] += rows[i].ns;
        bytes += steps[i].bytes_read + steps[i].bytes_written;
    }
    uint64_t overhead = gaps[iters / 2];
    printf("%s: batch %ld, %zu steps, median run %.3f ms over %ld runs\n", path, batch, n_steps,
           (double)run_med / 1e6, iters);
    printf("%5s %-28s %-14s %-34s %10s %6s %10s\n", "step", "node", "op", "kernel", "ms", "share", "MB moved");
    qsort(rows, n_steps, sizeof *rows, by_time_desc);
    for (size_t r = 0; r < n_steps && (long)r < top; r++) {
        const strata_step_profile *s = &steps[rows[r].step];
        printf("%5zu %-28.28s %-14.14s %-34.34s %10.3f %5.1f%% %10.3f\n", rows[r].step, s->node, s->op_type,
               s->kernel, (double)rows[r].ns / 1e6, run_med ? 100.0 * (double)rows[r].ns / (double)run_med : 0,
               (double)(s->bytes_read + s->bytes_written) / 1e6);
    }
    if ((long)n_steps > top) printf("  ... %zu more steps\n", n_steps - (size_t)top);
    printf("time by class:\n");
    int dominant = 0;
    for (int c = 0; c < 3; c++) {
        printf("  %-36s %9.3f ms %5.1f%%\n", cost_names[c], (double)by_cost[c] / 1e6,
               run_med ? 100.0 * (double)by_cost[c] / (double)run_med : 0);
        if (by_cost[c] > by_cost[dominant]) dominant = c;
    }
    printf("  %-36s %9.3f ms %5.1f%%\n", "framework overhead (between steps)", (double)overhead / 1e6,
           run_med ? 100.0 * (double)overhead / (double)run_med : 0);
    printf("  %-36s %9.3f MB per run\n", "bytes moved by steps", (double)bytes / 1e6);
    printf("  allocation: %zu heap allocations in the last run\n", strata_session_last_run_allocations(cs.session));
    if (overhead > by_cost[dominant])
        printf("dominant cost: framework overhead — the runtime owns it (per-step dispatch, shape inference)\n");
    else
        printf("dominant cost: %s — %s\n", cost_names[dominant], cost_owner[dominant]);
    if (trace) {
        FILE *f = fopen(trace, "w");
        if (!f) {
            fprintf(stderr, "strata profile: cannot write '%s'\n", trace);
            goto done;
        }
        fprintf(f, "{\"traceEvents\":[\n");
        for (size_t i = 0; i < n_steps; i++) {
            fprintf(f, "%s{\"name\":", i ? ",\n" : "");
            json_string(f, steps[i].node && steps[i].node[0] ? steps[i].node : steps[i].op_type);
            fprintf(f, ",\"cat\":");
            json_string(f, cost_names[steps[i].cost]);
            fprintf(f, ",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"op\":",
                    (double)steps[i].start_ns / 1e3, (double)steps[i].ns / 1e3);
            json_string(f, steps[i].op_type);
            fprintf(f, ",\"kernel\":");
            json_string(f, steps[i].kernel);
            fprintf(f, ",\"bytes\":%llu}}", (unsigned long long)(steps[i].bytes_read + steps[i].bytes_written));
        }
        fprintf(f, "\n]}\n");
        fclose(f);
        printf("trace: %s (last run; open in chrome://tracing or ui.perfetto.dev)\n", trace);
    }
    rc = 0;
done:
    for (size_t o = 0; o < CLI_MAX_INPUTS; o++) strata_tensor_destroy(outs[o]);
    free(steps);
    free(samples);
    free(runs);
    free(gaps);
    free(rows);
    cli_session_close(&cs);
    cli_inputs_release(&in);
    return rc;
}
