/* tools/cmd_bench.c — `strata bench MODEL|PLAN [--batch B] [--threads T] [--iters N]
 * [--warmup W] [--reference] [--json]`: load time (compile + plan open + session), first-run
 * time, then N timed runs: p50/p90/p99 latency and throughput. Random inputs. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *sorted, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)sorted[i < n ? i : n - 1] / 1e6;
}

int cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    long batch = 1, threads = 0, iters = 20, warmup = 2;
    const char *precision = NULL;
    bool json = false, reference = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) iters = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) precision = argv[++i];
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--reference") == 0) reference = true;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "strata bench: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path || batch < 1 || iters < 1 || warmup < 0 || threads < 0) {
        fprintf(stderr, "usage: strata bench MODEL|PLAN [--batch B] [--threads T] [--iters N] "
                        "[--warmup W] [--reference] [--json] [--precision fp32|bf16]\n");
        return 2;
    }
    cli_inputs in;
    memset(&in, 0, sizeof in);
    cli_session cs;
    memset(&cs, 0, sizeof cs);
    if (precision && cli_precision_arg("bench", precision, &cs) != 0) return 2;
    uint64_t *lat = calloc((size_t)iters, sizeof *lat);
    strata_tensor *outs[CLI_MAX_INPUTS] = {NULL};
    int rc = 1;
    cs.n_threads = (int)threads;
    strata_status st = cli_session_open_batch(path, batch, reference, &cs);
    if (st == STRATA_OK) st = cli_random_inputs(cs.model, batch, &in);
    if (st != STRATA_OK || !lat) {
        cli_fail("bench", st);
        goto done;
    }
    size_t n_out = strata_model_output_count(cs.model);
    if (n_out > CLI_MAX_INPUTS) n_out = CLI_MAX_INPUTS;
    uint64_t t0 = clock_now_ns();
    st = strata_session_run(cs.session, in.n, in.names, in.tensors, 0, NULL, outs);
    double first_ms = (double)(clock_now_ns() - t0) / 1e6;
    if (st != STRATA_OK) {
        cli_fail("bench", st);
        goto done;
    }
    for (long w = 0; w < warmup && st == STRATA_OK; w++)
        st = strata_session_run(cs.session, in.n, in.names, in.tensors, 0, NULL, outs);
    for (long k = 0; k < iters && st == STRATA_OK; k++) {
        uint64_t a = clock_now_ns();
        st = strata_session_run(cs.session, in.n, in.names, in.tensors, 0, NULL, outs);
        lat[k] = clock_now_ns() - a;
    }
    if (st != STRATA_OK) {
        cli_fail("bench", st);
        goto done;
    }
    qsort(lat, (size_t)iters, sizeof *lat, cmp_u64);
    double p50 = pct(lat, (size_t)iters, 0.5), p90 = pct(lat, (size_t)iters, 0.9), p99 = pct(lat, (size_t)iters, 0.99);
    double sum = 0;
    for (long k = 0; k < iters; k++) sum += (double)lat[k] / 1e6;
    double mean = sum / (double)iters, throughput = (double)batch * 1000.0 / mean;
    if (json) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "model", path);
        cJSON_AddNumberToObject(r, "batch", (double)batch);
        cJSON_AddNumberToObject(r, "threads", (double)threads);
        cJSON_AddNumberToObject(r, "iters", (double)iters);
        cJSON_AddStringToObject(r, "path", reference ? "reference" : cs.compile_ms > 0 ? "compiled in memory" : "plan");
        cJSON_AddNumberToObject(r, "compile_ms", cs.compile_ms);
        cJSON_AddNumberToObject(r, "load_ms", cs.load_ms);
        cJSON_AddNumberToObject(r, "first_run_ms", first_ms);
        cJSON_AddNumberToObject(r, "p50_ms", p50);
        cJSON_AddNumberToObject(r, "p90_ms", p90);
        cJSON_AddNumberToObject(r, "p99_ms", p99);
        cJSON_AddNumberToObject(r, "mean_ms", mean);
        cJSON_AddNumberToObject(r, "throughput_per_s", throughput);
        cJSON_AddNumberToObject(r, "first_over_p50", first_ms / p50);
        if (cs.plan) cJSON_AddNumberToObject(r, "arena_bytes", (double)strata_plan_arena_bytes(cs.plan));
        char *text = cJSON_PrintUnformatted(r);
        if (text) puts(text);
        free(text);
        cJSON_Delete(r);
    } else {
        printf("%s: batch %ld, %s\n", path, batch,
               reference ? "reference interpreter" : cs.compile_ms > 0 ? "compiled in memory" : "plan");
        if (cs.compile_ms > 0) printf("compile:   %9.3f ms\n", cs.compile_ms);
        printf("load:      %9.3f ms (plan open + session)\n", cs.load_ms);
        printf("first run: %9.3f ms (%.2fx the median)\n", first_ms, first_ms / p50);
        printf("latency:   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  (mean %.3f, %ld runs)\n", p50, p90, p99, mean, iters);
        printf("throughput: %.1f samples/s\n", throughput);
    }
    rc = 0;
done:
    for (size_t o = 0; o < CLI_MAX_INPUTS; o++) strata_tensor_destroy(outs[o]);
    free(lat);
    cli_session_close(&cs);
    cli_inputs_release(&in);
    return rc;
}
