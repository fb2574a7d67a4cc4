/* tests/test.h — the test framework: TEST(name) registers a test; EXPECT_* record failures
 * with file:line and keep going; SKIP(reason) ends a test as skipped. One runner (run.c). */
#ifndef STRATA_TEST_H
#define STRATA_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void test_skip(const char *reason);
/* Path of ../shared (STRATA_SHARED env or ../shared next to the repo). */
const char *test_shared_dir(void);
/* A fresh temporary folder for this test (removed at exit). */
const char *test_tmpdir(void);

#define TEST(name)                                                                        \
    static void name(void);                                                               \
    __attribute__((constructor)) static void name##_register(void) { test_register(#name, name); } \
    static void name(void)

#define EXPECT(cond)                                                                      \
    do {                                                                                  \
        if (!(cond)) test_fail(__FILE__, __LINE__, "expected %s", #cond);                 \
    } while (0)
#define EXPECT_EQ(a, b)                                                                   \
    do {                                                                                  \
        long long ea_ = (long long)(a), eb_ = (long long)(b);                             \
        if (ea_ != eb_) test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, ea_, #b, eb_); \
    } while (0)
#define EXPECT_NEAR(a, b, tol)                                                            \
    do {                                                                                  \
        double ea_ = (double)(a), eb_ = (double)(b);                                      \
        if (!(fabs(ea_ - eb_) <= (tol)))                                                  \
            test_fail(__FILE__, __LINE__, "%s = %g, expected %g (tol %g)", #a, ea_, eb_, (double)(tol)); \
    } while (0)
#define EXPECT_STR_CONTAINS(hay, needle)                                                  \
    do {                                                                                  \
        const char *eh_ = (hay);                                                          \
        if (!eh_ || !strstr(eh_, (needle)))                                               \
            test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", eh_ ? eh_ : "(null)", (needle)); \
    } while (0)
/* Status helpers: st must be STRATA_OK / must be code. */
#define EXPECT_OK(st)                                                                     \
    do {                                                                                  \
        int es_ = (int)(st);                                                              \
        if (es_ != 0) test_fail(__FILE__, __LINE__, "%s failed: %s", #st, strata_last_error()); \
    } while (0)
#define EXPECT_STATUS(st, code)                                                           \
    do {                                                                                  \
        int es_ = (int)(st);                                                              \
        if (es_ != (int)(code))                                                           \
            test_fail(__FILE__, __LINE__, "%s returned %d, expected %s (last error: %s)", #st, es_, #code, strata_last_error()); \
    } while (0)
#define SKIP(reason)                                                                      \
    do {                                                                                  \
        test_skip(reason);                                                                \
        return;                                                                           \
    } while (0)

#endif
