/* tests/run.c — the one test runner: `strata-test [pattern...]` runs every registered test
 * whose name contains a pattern (all when none), one line per failure, then a summary line
 * "N passed, N failed, N skipped". Each test runs in a forked child so a crash is a failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 2048

static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int n_tests;
static int failures_in_test;
static int skipped_in_test;
static const char *current;
static char tmpdir[256];

void test_register(const char *name, test_fn fn)
{
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "FAIL %s (%s:%d): ", current, file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    failures_in_test++;
}

void test_skip(const char *reason)
{
    fprintf(stdout, "SKIP %s: %s\n", current, reason);
    skipped_in_test = 1;
}

const char *test_shared_dir(void)
{
    const char *e = getenv("STRATA_SHARED");
    return e && *e ? e : "../shared";
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/strata-test-XXXXXX");
        if (!mkdtemp(tmpdir)) tmpdir[0] = 0;
    }
    return tmpdir;
}

static int cmp_tests(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    qsort(tests, (size_t)n_tests, sizeof tests[0], cmp_tests);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < n_tests; i++) {
        int match = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strstr(tests[i].name, argv[a])) match = 1;
        if (!match) continue;
        current = tests[i].name;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            failures_in_test = 0;
            skipped_in_test = 0;
            tmpdir[0] = 0;
            alarm(120);
            tests[i].fn();
            if (tmpdir[0]) {
                char cmd[300];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0) { /* leave it */ }
            }
            fflush(stdout);
            _exit(failures_in_test ? 1 : skipped_in_test ? 2 : 0);
        }
        int wst = 0;
        waitpid(pid, &wst, 0);
        if (WIFEXITED(wst) && WEXITSTATUS(wst) == 0) {
            passed++;
        } else if (WIFEXITED(wst) && WEXITSTATUS(wst) == 2) {
            skipped++;
        } else {
            if (WIFSIGNALED(wst)) printf("FAIL %s: killed by signal %d\n", current, WTERMSIG(wst));
            failed++;
        }
    }
    printf("unit: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
