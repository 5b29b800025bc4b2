/*
 * "No allocation per fit": this binary interposes malloc, calloc, realloc
 * and aligned_alloc (forwarding to glibc's own) and counts the calls made
 * during nlsq_fit_batch. A batch of 20,000 fits must make exactly as many
 * as a batch of 500 of the same shape, on the interpreter and on the
 * compiled kernel, with a fixed mask shared and with per-fit masks
 * (a lane keeps a pass per set of free parameters it meets). Under the
 * sanitizers, which own malloc, the test is skipped.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>

#include "check.h"
#include "nlsq.h"

#ifndef NLSQ_SANITIZED
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static atomic_long allocations;
static atomic_int counting;

static void count_one(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed)) atomic_fetch_add(&allocations, 1);
}

void *malloc(size_t size)
{
    count_one();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    count_one();
    return __libc_calloc(count, size);
}

void *realloc(void *p, size_t size)
{
    count_one();
    return __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    count_one();
    return __libc_memalign(align, size);
}

void free(void *p)
{
    __libc_free(p);
}
#endif

/* Allocations made by one nlsq_fit_batch of nfits fits (the result's own
   arrays included: a fixed number of them). */
static long allocations_for(const nlsq_model *m, size_t nfits, nlsq_backend backend, int per_fit_masks)
{
#ifdef NLSQ_SANITIZED
    (void)m, (void)nfits, (void)backend, (void)per_fit_masks;
    return -1;
#else
    enum { M = 24 };
    double x[M], *y = malloc(nfits * M * sizeof *y), *p0 = malloc(nfits * 3 * sizeof *p0);
    unsigned char *fixed = calloc(nfits * 3, 1);
    for (int i = 0; i < M; i++) x[i] = 0.25 * i;
    for (size_t f = 0; f < nfits; f++) {
        for (int i = 0; i < M; i++)
            y[f * M + i] = (2 + 0.001 * (double)(f % 97)) * exp(-0.8 * x[i]) + 0.5 + 0.01 * sin(3.0 * i + (double)f);
        p0[3 * f] = 2, p0[3 * f + 1] = 1, p0[3 * f + 2] = 0.5;
        fixed[3 * f + 2] = f % 3 == 0; /* two sets of free parameters */
    }
    nlsq_batch b = nlsq_batch_default();
    b.nfits = nfits;
    b.m = M;
    b.x = x;
    b.x_shared = 1;
    b.y = y;
    b.p0 = p0;
    b.fixed = per_fit_masks ? fixed : NULL;
    nlsq_options o = nlsq_options_default();
    /* one thread: a lane makes its passes when it first gets a fit, and
       with two a small batch may, under load, never reach the second */
    o.threads = 1;
    o.backend = backend;
    nlsq_batch_result *r = NULL;
    nlsq_error err;
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
    nlsq_status st = nlsq_fit_batch(m, &b, &o, NLSQ_BATCH_PERR, &r, &err);
    atomic_store(&counting, 0);
    long count = atomic_load(&allocations);
    CHECK_MSG(st == NLSQ_OK && r && r->converged == nfits, "%zu fits: %s", nfits,
              st == NLSQ_OK ? "not all converged" : err.message);
    nlsq_batch_result_free(r);
    free(y);
    free(p0);
    free(fixed);
    return count;
#endif
}

static void test_batch_allocations_do_not_grow_with_fits(void)
{
#ifdef NLSQ_SANITIZED
    test_skip("the sanitizers own malloc here, so it cannot be counted (the release build counts it)");
    return;
#endif
    nlsq_model *m = NULL;
    nlsq_error err;
    if (nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &err) != NLSQ_OK) {
        CHECK(0);
        return;
    }
    struct {
        const char *what;
        nlsq_backend backend;
        int masks;
    } cases[] = {{"interpreter", NLSQ_BACKEND_INTERP, 0},
                 {"compiled kernel", NLSQ_BACKEND_JIT, 0},
                 {"interpreter, per-fit fixed masks", NLSQ_BACKEND_INTERP, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        allocations_for(m, 500, cases[c].backend, cases[c].masks); /* the kernel compiled or loaded first */
        long few = allocations_for(m, 500, cases[c].backend, cases[c].masks);
        long many = allocations_for(m, 20000, cases[c].backend, cases[c].masks);
        CHECK_MSG(few == many, "%s: %ld allocations for 500 fits, %ld for 20000", cases[c].what, few, many);
        printf("    %-34s %ld allocations for 500 fits, %ld for 20,000\n", cases[c].what, few, many);
    }
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {TEST(test_batch_allocations_do_not_grow_with_fits)};
    return run_tests(tests, 1);
}
