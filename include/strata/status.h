/* strata/status.h — status codes and the thread's last error message.
 * Every fallible Strata function returns a strata_status; STRATA_OK is 0. The detail of a
 * failure (what was wrong and where: file@offset, node, tensor) is in strata_last_error(). */
#ifndef STRATA_STATUS_H
#define STRATA_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/* The one status table: name, HTTP status, gRPC code, short text. Numbers reach files and
 * wires, so a code keeps its position forever. */
#define STRATA_STATUS_MAP(X)                                                        \
    X(OK, 200, 0, "ok")                                                             \
    X(INVALID_ARGUMENT, 400, 3, "invalid argument")                                 \
    X(INVALID_MODEL, 400, 3, "invalid model")                                       \
    X(UNSUPPORTED, 400, 12, "unsupported op, type or attribute")                    \
    X(NOT_FOUND, 404, 5, "not found")                                               \
    X(PLAN_MISMATCH, 400, 9, "plan does not fit this machine or version")          \
    X(OUT_OF_MEMORY, 500, 8, "out of memory")                                       \
    X(IO_ERROR, 500, 14, "i/o error")                                               \
    X(QUEUE_FULL, 503, 14, "queue full")                                            \
    X(TIMEOUT, 504, 4, "deadline exceeded")                                         \
    X(CANCELLED, 499, 1, "cancelled")                                               \
    X(INTERNAL, 500, 13, "internal error")

typedef enum strata_status {
#define STRATA_STATUS_ENUM(name, http, grpc, text) STRATA_##name,
    STRATA_STATUS_MAP(STRATA_STATUS_ENUM)
#undef STRATA_STATUS_ENUM
    STRATA_STATUS_COUNT
} strata_status;

/* "INVALID_MODEL": a static string; "UNKNOWN" for a value outside the table. */
STRATA_API const char *strata_status_name(strata_status s);
/* HTTP status and gRPC code that the server answers for s. */
STRATA_API int strata_status_http(strata_status s);
STRATA_API int strata_status_grpc(strata_status s);
/* Detail of this thread's last failure; valid until the next failing call on this thread. */
STRATA_API const char *strata_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
