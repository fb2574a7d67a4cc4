/* core/status.c — the status table's names and codes, and the thread-local last error.
 * The function that detects a failure writes the message; callers pass the code through. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static _Thread_local char last_error[1024];

static const struct {
    const char *name;
    int http;
    int grpc;
} status_table[] = {
#define ROW(name, http, grpc, text) {#name, http, grpc},
    STRATA_STATUS_MAP(ROW)
#undef ROW
};
_Static_assert(sizeof(status_table) / sizeof(status_table[0]) == STRATA_STATUS_COUNT,
               "status table and enum differ");

const char *strata_status_name(strata_status s)
{
    if ((unsigned)s >= STRATA_STATUS_COUNT) return "UNKNOWN";
    return status_table[s].name;
}

int strata_status_http(strata_status s)
{
    if ((unsigned)s >= STRATA_STATUS_COUNT) return 500;
    return status_table[s].http;
}

int strata_status_grpc(strata_status s)
{
    if ((unsigned)s >= STRATA_STATUS_COUNT) return 2;
    return status_table[s].grpc;
}

const char *strata_last_error(void)
{
    return last_error;
}

strata_status error_set(strata_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

strata_status error_prefix(strata_status code, const char *fmt, ...)
{
    char prefix[512], old[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof last_error - 3) n = sizeof last_error - 3;
    memcpy(last_error, prefix, n);
    memcpy(last_error + n, ": ", 2);
    size_t rest = sizeof last_error - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(last_error + n + 2, old, m);
    last_error[n + 2 + m] = 0;
    return code;
}
