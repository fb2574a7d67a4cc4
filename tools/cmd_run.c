/* tools/cmd_run.c — `strata run MODEL|PLAN -i NAME=x.npy ... [-o DIR] [--labels y.npy]
 * [--reference]`: runs a plan, or an ONNX model compiled in memory (or, with --reference, by the
 * reference interpreter) on .npy inputs, writes each output as DIR/<name>.npy and prints a summary; for a 2-D
 * float output, the predicted class per row (and the accuracy against --labels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define MAX_IO 64

static void print_predictions(const strata_tensor *t, const strata_tensor *labels)
{
    int64_t rows = t->dims[0], cols = t->dims[1];
    int64_t correct = 0, shown = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t best = 0;
        double bv = tensor_get_f64(t, r * cols);
        for (int64_t c = 1; c < cols; c++) {
            double v = tensor_get_f64(t, r * cols + c);
            if (v > bv) bv = v, best = c;
        }
        int64_t want = labels && r < strata_tensor_numel(labels) ? tensor_get_i64(labels, r) : -1;
        if (want == best) correct++;
        if (shown++ < 10)
            printf("  row %lld: class %lld (score %.4f)%s\n", (long long)r, (long long)best, bv,
                   want < 0 ? "" : want == best ? "  ok" : "  WRONG");
    }
    if (rows > 10) printf("  ... %lld more rows\n", (long long)(rows - 10));
    if (labels)
        printf("accuracy: %lld of %lld = %.4f\n", (long long)correct, (long long)rows,
               rows ? (double)correct / (double)rows : 0.0);
}

int cmd_run(int argc, char **argv)
{
    const char *model_path = NULL, *out_dir = NULL, *labels_path = NULL;
    const char *names[MAX_IO];
    strata_tensor *inputs[MAX_IO] = {NULL}, *outputs[MAX_IO] = {NULL}, *labels = NULL;
    size_t n_in = 0;
    cli_session cs;
    memset(&cs, 0, sizeof cs);
    bool reference = false;
    strata_status st;
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "--input") == 0) && i + 1 < argc) {
            char *spec = argv[++i], *eq = strchr(spec, '=');
            if (!eq || n_in >= MAX_IO) {
                fprintf(stderr, "strata run: -i wants NAME=FILE.npy, got '%s'\n", spec);
                goto done;
            }
            *eq = 0;
            names[n_in] = spec;
            st = strata_npy_read(eq + 1, &inputs[n_in]);
            if (st != STRATA_OK) {
                cli_fail("run", st);
                goto done;
            }
            n_in++;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output-dir") == 0) && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
            if (cli_precision_arg("run", argv[++i], &cs) != 0) return 2;
        } else if (strcmp(argv[i], "--reference") == 0) {
            reference = true;
        } else if (strcmp(argv[i], "--labels") == 0 && i + 1 < argc) {
            labels_path = argv[++i];
        } else if (argv[i][0] != '-' && !model_path) {
            model_path = argv[i];
        } else {
            fprintf(stderr, "strata run: unexpected argument '%s'\n", argv[i]);
            goto done;
        }
    }
    if (!model_path) {
        fprintf(stderr, "usage: strata run MODEL|PLAN -i NAME=x.npy ... [-o DIR] [--labels y.npy] [--reference] [--precision fp32|bf16]\n");
        goto done;
    }
    if (labels_path && (st = strata_npy_read(labels_path, &labels)) != STRATA_OK) {
        cli_fail("run", st);
        goto done;
    }
    if ((st = cli_session_open(model_path, n_in, names, inputs, reference, &cs)) != STRATA_OK) {
        cli_fail("run", st);
        goto done;
    }
    const strata_model *m = cs.model;
    strata_session *s = cs.session;
    size_t n_out = strata_model_output_count(m);
    if (n_out > MAX_IO) {
        fprintf(stderr, "strata run: more than %d outputs\n", MAX_IO);
        goto done;
    }
    uint64_t t0 = clock_now_ns();
    st = strata_session_run(s, n_in, names, inputs, 0, NULL, outputs);
    uint64_t t1 = clock_now_ns();
    if (st != STRATA_OK) {
        cli_fail("run", st);
        goto done;
    }
    if (out_dir && mkdir(out_dir, 0755) != 0) {
        struct stat sb;
        if (stat(out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "strata run: cannot create output folder '%s'\n", out_dir);
            goto done;
        }
    }
    printf("%s: %s%.2f ms to load, ran in %.3f ms\n", model_path,
           reference ? "reference interpreter, " : cs.compile_ms > 0 ? "compiled in memory, " : "plan, ",
           cs.compile_ms + cs.load_ms, (double)(t1 - t0) / 1e6);
    for (size_t o = 0; o < n_out; o++) {
        strata_value_info info;
        char desc[200];
        strata_model_output_info(m, o, &info);
        printf("output '%s': %s\n", info.name, tensor_describe(outputs[o], desc, sizeof desc));
        if (outputs[o]->rank == 2 && dtype_is_float(outputs[o]->dtype) && outputs[o]->dims[1] > 1)
            print_predictions(outputs[o], labels);
        if (out_dir) {
            char path[4096], safe[256];
            size_t k = 0;
            for (const char *p = info.name; *p && k + 1 < sizeof safe; p++)
                safe[k++] = (*p == '/' || *p == '\\' || *p == ':') ? '_' : *p;
            safe[k] = 0;
            snprintf(path, sizeof path, "%s/%s.npy", out_dir, safe);
            if ((st = strata_npy_write(path, outputs[o])) != STRATA_OK) {
                cli_fail("run", st);
                goto done;
            }
            printf("  wrote %s\n", path);
        }
    }
    rc = 0;
done:
    for (size_t i = 0; i < MAX_IO; i++) {
        strata_tensor_destroy(inputs[i]);
        strata_tensor_destroy(outputs[i]);
    }
    strata_tensor_destroy(labels);
    cli_session_close(&cs);
    return rc;
}
