/*
 * A small test harness: each test is a function; checks report what they
 * compared, both numbers and the bound; the run ends with ctest's and
 * CI's closing line "N passed, N failed, N skipped".
 */
#ifndef NLSQ_TESTS_CHECK_H
#define NLSQ_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures; /* in the current test */
static int check_skip_reason_set;
static char check_skip_reason[512];

#define CHECK(cond) \
    do { \
        if (!(cond)) { \
            check_failures++; \
            printf("    %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        } \
    } while (0)

#define CHECK_MSG(cond, ...) \
    do { \
        if (!(cond)) { \
            check_failures++; \
            printf("    %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__); \
            printf("\n"); \
        } \
    } while (0)

/* |got - want| <= bound, with NaN equal only to NaN and infinities exact. */
static inline int close_within(double got, double want, double bound)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= bound;
}

#define CHECK_NEAR(got, want, bound, ...) \
    do { \
        double g_ = (got), w_ = (want), b_ = (bound); \
        if (!close_within(g_, w_, b_)) { \
            check_failures++; \
            printf("    %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__); \
            printf(": got %.17g, want %.17g, |diff| %.3g > bound %.3g\n", g_, w_, fabs(g_ - w_), b_); \
        } \
    } while (0)

/* Exact, including the sign of zero. */
#define CHECK_SAME(got, want, ...) \
    do { \
        double g_ = (got), w_ = (want); \
        int same_ = isnan(w_) ? isnan(g_) : (g_ == w_ && signbit(g_) == signbit(w_)); \
        if (!same_) { \
            check_failures++; \
            printf("    %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__); \
            printf(": got %.17g, want exactly %.17g\n", g_, w_); \
        } \
    } while (0)

static inline void test_skip(const char *reason)
{
    check_skip_reason_set = 1;
    snprintf(check_skip_reason, sizeof check_skip_reason, "%s", reason);
}

/* NLSQ_TEST_FULL=1 (make test-full): the exhaustive sweeps at their full
   size; `make test` runs a leading part of each (same seeds, same order). */
static inline int test_full(void)
{
    const char *s = getenv("NLSQ_TEST_FULL");
    return s && *s && strcmp(s, "0") != 0;
}

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST(name) \
    { \
#name, name \
    }

static inline int run_tests(const test_case *tests, int count)
{
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < count; i++) {
        check_failures = 0;
        check_skip_reason_set = 0;
        tests[i].fn();
        if (check_failures) {
            failed++;
            printf("FAIL %s (%d failed checks)\n", tests[i].name, check_failures);
        } else if (check_skip_reason_set) {
            skipped++;
            printf("SKIP %s: %s\n", tests[i].name, check_skip_reason);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    /* nothing ran: ctest reports the binary as skipped (SKIP_RETURN_CODE) */
    return failed ? 1 : passed == 0 && skipped > 0 ? 77 : 0;
}

/* xorshift64*: tests draw the same points on every machine. */
typedef struct rng {
    unsigned long long s;
} rng;

static inline double rng_uniform(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (double)((r->s * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static inline double rng_range(rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_uniform(r);
}

static inline int rng_int(rng *r, int n)
{
    return (int)(rng_uniform(r) * n);
}

#endif
