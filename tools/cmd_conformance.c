/* tools/cmd_conformance.c — `strata conformance DIR... [--filter S] [--min N] [-v] [-j N]`:
 * runs the ONNX backend test folders (model.onnx + test_data_set_K/input_I.pb, output_I.pb),
 * each test in a child process with a time limit so that a crash or a hang is a reported
 * failure, prints one line per failing test with the reason and "N of M tests passed". */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "compile/compile.h"

#define MAX_IO 64
#define TEST_SECONDS 60

/* Reads a test data file holding a tensor, a SequenceProto or an OptionalProto by the value's
 * kind (serialize/onnx_read.c; to move to serialize.h). */

/* Ops that exist only for training: an inference stack does not run them. */
static const char *const training_ops[] = {"Adagrad", "Adam", "Momentum", "Gradient"};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir starting with prefix (caller frees each and the array). */
static char **list_dir(const char *dir, const char *prefix, size_t *n_out)
{
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_str);
    *n_out = n;
    return names;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

static bool close_enough(double got, double want, strata_dtype t)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    double rtol = 1e-3, atol = 1e-7;
    if (t == STRATA_DTYPE_F16 || t == STRATA_DTYPE_BF16) atol = 1e-5;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* Writes the first difference between got and want into why; returns true when equal.
 * Sequences and optionals compare element by element. */
static bool compare(const strata_tensor *got, const strata_tensor *want, const char *name,
                    char *why, size_t n_why)
{
    char a[200], b[200];
    if (dtype_is_container(got->dtype) || dtype_is_container(want->dtype)) {
        if (got->dtype != want->dtype || got->dims[0] != want->dims[0]) {
            snprintf(why, n_why, "output '%s': got %s, want %s", name,
                     tensor_describe(got, a, sizeof a), tensor_describe(want, b, sizeof b));
            return false;
        }
        for (int64_t i = 0; i < want->dims[0]; i++) {
            const strata_tensor *g = ((strata_tensor *const *)got->data)[i];
            const strata_tensor *w = ((strata_tensor *const *)want->data)[i];
            char sub[300];
            snprintf(sub, sizeof sub, "%s[%lld]", name, (long long)i);
            if (!g || !w) {
                snprintf(why, n_why, "output '%s': element missing", sub);
                return false;
            }
            if (!compare(g, w, sub, why, n_why)) return false;
        }
        return true;
    }
    if (got->dtype != want->dtype || got->rank != want->rank ||
        memcmp(got->dims, want->dims, (size_t)got->rank * sizeof got->dims[0]) != 0) {
        snprintf(why, n_why, "output '%s': got %s, want %s", name, tensor_describe(got, a, sizeof a),
                 tensor_describe(want, b, sizeof b));
        return false;
    }
    int64_t n = strata_tensor_numel(want);
    for (int64_t i = 0; i < n; i++) {
        if (want->dtype == STRATA_DTYPE_STRING) {
            const char *g = ((char *const *)got->data)[i], *w = ((char *const *)want->data)[i];
            if (strcmp(g ? g : "", w ? w : "") != 0) {
                snprintf(why, n_why, "output '%s': mismatch at index %lld: got \"%.40s\" want \"%.40s\"",
                         name, (long long)i, g ? g : "", w ? w : "");
                return false;
            }
        } else if (dtype_is_narrow_float(want->dtype)) { /* 8/4-bit floats: the exact code */
            uint8_t g = ((const uint8_t *)got->data)[i], w = ((const uint8_t *)want->data)[i];
            double gv = tensor_get_f64(got, i), wv = tensor_get_f64(want, i);
            if (g != w && !(isnan(gv) && isnan(wv))) {
                snprintf(why, n_why, "output '%s': mismatch at index %lld: got 0x%02x want 0x%02x", name,
                         (long long)i, g, w);
                return false;
            }
        } else if (dtype_is_float(want->dtype)) {
            double g = tensor_get_f64(got, i), w = tensor_get_f64(want, i);
            if (!close_enough(g, w, want->dtype)) {
                snprintf(why, n_why, "output '%s': mismatch at index %lld: got %.9g want %.9g", name,
                         (long long)i, g, w);
                return false;
            }
        } else if (want->dtype == STRATA_DTYPE_C64 || want->dtype == STRATA_DTYPE_C128) {
            if (memcmp(got->data, want->data, want->n_bytes) != 0) {
                snprintf(why, n_why, "output '%s': complex values differ", name);
                return false;
            }
            return true;
        } else {
            int64_t g = tensor_get_i64(got, i), w = tensor_get_i64(want, i);
            if (g != w) {
                snprintf(why, n_why, "output '%s': mismatch at index %lld: got %lld want %lld", name,
                         (long long)i, (long long)g, (long long)w);
                return false;
            }
        }
    }
    return true;
}

/* Runs one test folder in this process; writes the reason for a failure into why.
 * Returns 0 pass, 1 fail, 2 skip. */
static bool compiled_path; /* --compiled: run the compiler's pipeline first */

/* The compiled path: compile for these inputs' shapes into a plan file, open it, run it. */
static strata_status run_compiled(const char *model_path, const ir_graph *g, strata_tensor **inputs,
                                  size_t n_in, strata_tensor **outputs, char *why, size_t n_why)
{
    compile_options o;
    memset(&o, 0, sizeof o);
    const char *names[MAX_IO];
    for (size_t i = 0; i < n_in && i < ARRAY_LEN(o.shapes); i++) {
        names[i] = g->values[g->inputs[i]].name;
        if (dtype_is_container(inputs[i]->dtype)) continue; /* no tensor shape to give */
        compile_shape *s = &o.shapes[o.n_shapes++];
        snprintf(s->name, sizeof s->name, "%s", names[i]);
        s->rank = inputs[i]->rank;
        for (int d = 0; d < s->rank; d++) s->min[d] = s->opt[d] = s->max[d] = inputs[i]->dims[d];
    }
    char plan_path[64];
    snprintf(plan_path, sizeof plan_path, "/tmp/strata-conf-%ld.plan", (long)getpid());
    ir_model *cm = NULL;
    strata_plan *plan = NULL;
    strata_session *s = NULL;
    strata_status st = onnx_read_model(model_path, &cm);
    if (st == STRATA_OK) st = compile_optimize(cm, &o);
    if (st == STRATA_OK) st = compile_write_plan(cm, &o, plan_path);
    ir_model_destroy(cm);
    if (st != STRATA_OK) {
        snprintf(why, n_why, "compile error: %s", strata_last_error());
        unlink(plan_path);
        return st;
    }
    st = strata_plan_open(plan_path, &plan);
    unlink(plan_path);
    if (st == STRATA_OK) st = strata_session_create_plan(plan, NULL, &s);
    if (st == STRATA_OK) st = strata_session_run(s, n_in, names, inputs, 0, NULL, outputs);
    if (st != STRATA_OK) snprintf(why, n_why, "plan: %s", strata_last_error());
    strata_session_destroy(s);
    strata_plan_close(plan);
    return st;
}

static int run_one(const char *test_dir, char *why, size_t n_why)
{
    char path[4096];
    ir_model *m = NULL;
    strata_tensor *inputs[MAX_IO] = {NULL}, *outputs[MAX_IO] = {NULL}, *wants[MAX_IO] = {NULL};
    size_t n_sets = 0;
    char **sets = NULL;
    int verdict = 1;
    snprintf(path, sizeof path, "%s/model.onnx", test_dir);
    strata_status st = onnx_read_model(path, &m);
    if (st != STRATA_OK) {
        snprintf(why, n_why, "load error: %s", strata_last_error());
        goto done;
    }
    for (size_t i = 0; i < m->graph->n_nodes; i++)
        for (size_t k = 0; k < ARRAY_LEN(training_ops); k++)
            if (strcmp(m->graph->nodes[i].op_type, training_ops[k]) == 0) {
                snprintf(why, n_why, "skipped: training-only op %s (Strata runs inference)",
                         training_ops[k]);
                verdict = 2;
                goto done;
            }
    const ir_graph *g = m->graph;
    if (g->n_outputs > MAX_IO) {
        snprintf(why, n_why, "more than %d outputs", MAX_IO);
        goto done;
    }
    sets = list_dir(test_dir, "test_data_set_", &n_sets);
    if (n_sets == 0) {
        snprintf(why, n_why, "no test_data_set_* folders");
        goto done;
    }
    for (size_t k = 0; k < n_sets; k++) {
        size_t n_in = 0, n_want = 0;
        for (;; n_in++) {
            snprintf(path, sizeof path, "%s/%s/input_%zu.pb", test_dir, sets[k], n_in);
            struct stat sb;
            if (n_in >= MAX_IO || stat(path, &sb) != 0) break;
            int kind = n_in < g->n_inputs ? (int)g->values[g->inputs[n_in]].kind : VALUE_TENSOR;
            if ((st = onnx_read_value_file(path, kind, &inputs[n_in])) != STRATA_OK) {
                snprintf(why, n_why, "input data: %s", strata_last_error());
                goto done;
            }
        }
        for (;; n_want++) {
            snprintf(path, sizeof path, "%s/%s/output_%zu.pb", test_dir, sets[k], n_want);
            struct stat sb;
            if (n_want >= MAX_IO || stat(path, &sb) != 0) break;
            int kind = n_want < g->n_outputs ? (int)g->values[g->outputs[n_want]].kind : VALUE_TENSOR;
            if ((st = onnx_read_value_file(path, kind, &wants[n_want])) != STRATA_OK) {
                snprintf(why, n_why, "output data: %s", strata_last_error());
                goto done;
            }
        }
        if (n_want != g->n_outputs) {
            snprintf(why, n_why, "%zu expected outputs for %zu graph outputs", n_want, g->n_outputs);
            goto done;
        }
        if (compiled_path) {
            snprintf(path, sizeof path, "%s/model.onnx", test_dir);
            st = run_compiled(path, g, inputs, n_in, outputs, why, n_why);
            if (st != STRATA_OK) goto done;
        } else {
            st = ir_eval(g, NULL, (const strata_tensor *const *)inputs, n_in, outputs, g->n_outputs);
        }
        if (st != STRATA_OK) {
            snprintf(why, n_why, "%s", strata_last_error());
            goto done;
        }
        for (size_t o = 0; o < n_want; o++)
            if (!compare(outputs[o], wants[o], g->values[g->outputs[o]].name, why, n_why)) goto done;
        for (size_t i = 0; i < MAX_IO; i++) {
            strata_tensor_destroy(inputs[i]);
            strata_tensor_destroy(outputs[i]);
            strata_tensor_destroy(wants[i]);
            inputs[i] = outputs[i] = wants[i] = NULL;
        }
    }
    verdict = 0;
done:
    for (size_t i = 0; i < MAX_IO; i++) {
        strata_tensor_destroy(inputs[i]);
        strata_tensor_destroy(outputs[i]);
        strata_tensor_destroy(wants[i]);
    }
    free_list(sets, n_sets);
    ir_model_destroy(m);
    return verdict;
}

/* Runs a test in a child process (crash or hang → failure with the signal named). */
static int run_isolated(const char *test_dir, char *why, size_t n_why)
{
    int fds[2];
    if (pipe(fds) != 0) return run_one(test_dir, why, n_why);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(TEST_SECONDS);
        char msg[1024] = "";
        int v = run_one(test_dir, msg, sizeof msg);
        char buf[1100];
        int len = snprintf(buf, sizeof buf, "%d%s", v, msg);
        if (write(fds[1], buf, (size_t)len) < 0) _exit(3);
        _exit(0);
    }
    close(fds[1]);
    char buf[1100];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fds[0]);
    int wst = 0;
    waitpid(pid, &wst, 0);
    if (got == 0) {
        if (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM)
            snprintf(why, n_why, "timed out after %d s", TEST_SECONDS);
        else if (WIFSIGNALED(wst))
            snprintf(why, n_why, "crashed with signal %d (%s)", WTERMSIG(wst), strsignal(WTERMSIG(wst)));
        else
            snprintf(why, n_why, "child exited without a verdict");
        return 1;
    }
    snprintf(why, n_why, "%.1000s", buf + 1);
    return buf[0] - '0';
}

int cmd_conformance(int argc, char **argv)
{
    const char *filter = NULL;
    long min_pass = -1;
    bool verbose = false;
    const char *dirs[64];
    size_t n_dirs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
        else if (strcmp(argv[i], "--min") == 0 && i + 1 < argc) min_pass = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-v") == 0) verbose = true;
        else if (strcmp(argv[i], "--compiled") == 0) compiled_path = true;
        else if (argv[i][0] != '-' && n_dirs < 64) dirs[n_dirs++] = argv[i];
        else {
            fprintf(stderr, "strata conformance: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (n_dirs == 0) {
        fprintf(stderr, "usage: strata conformance DIR... [--compiled] [--filter S] [--min N] [-v]\n");
        return 2;
    }
    long total = 0, passed = 0, skipped = 0;
    for (size_t d = 0; d < n_dirs; d++) {
        size_t n = 0;
        char **tests = list_dir(dirs[d], "test_", &n);
        if (!tests) {
            fprintf(stderr, "strata conformance: cannot read folder '%s'\n", dirs[d]);
            return 1;
        }
        long dir_total = 0, dir_pass = 0, dir_skip = 0;
        for (size_t i = 0; i < n; i++) {
            if (filter && !strstr(tests[i], filter)) continue;
            char test_dir[4096], why[1024] = "";
            snprintf(test_dir, sizeof test_dir, "%s/%s", dirs[d], tests[i]);
            int v = run_isolated(test_dir, why, sizeof why);
            dir_total++;
            if (v == 0) {
                dir_pass++;
                if (verbose) printf("PASS %s\n", tests[i]);
            } else if (v == 2) {
                dir_skip++;
                if (verbose) printf("SKIP %s: %s\n", tests[i], why);
            } else {
                printf("FAIL %s: %s\n", tests[i], why);
            }
            fflush(stdout);
        }
        printf("%s: %ld of %ld tests passed (%ld skipped)\n", dirs[d], dir_pass, dir_total, dir_skip);
        total += dir_total;
        passed += dir_pass;
        skipped += dir_skip;
        free_list(tests, n);
    }
    if (n_dirs > 1) printf("all: %ld of %ld tests passed (%ld skipped)\n", passed, total, skipped);
    if (min_pass >= 0 && passed < min_pass) {
        printf("conformance: %ld passed is below the baseline of %ld\n", passed, min_pass);
        return 1;
    }
    return 0;
}
