/*
 * bench/eval: nanoseconds per point for model + full Jacobian at 10^6
 * points, for the four reference models, nlsq's block interpreter (with
 * the vector math the CPU allows, and with scalar libm) against the
 * hand-written C functions in handwritten.c (-O2), measured in the same
 * run. Best of several repetitions; the results of both are compared so a
 * fast wrong answer cannot hide.
 *
 *   bench_eval [points] [repetitions]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "exec/exec.h"
#include "handwritten.h"
#include "nlsq.h"

typedef void (*hand_fn)(const double *, const double *, size_t, double *, double *);

typedef struct bench_model {
    const char *name, *text, *vars;
    int nparams;
    double p[10];
    hand_fn hand;
} bench_model;

static const bench_model MODELS[] = {
    {"exponential decay", "a*exp(-b*x) + c", "x", 3, {2.5, 1.3, 0.5}, hand_decay},
    {"gaussian + linear", "A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x", "x", 5, {3, 0.2, 0.7, 0.1, 0.05}, hand_gauss_linear},
    {"2-D gaussian", "A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B", "x,y", 6, {3, 0.1, 0.8, -0.2, 0.6, 0.3},
     hand_gauss2d},
    {"3 gaussians + c",
     "a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c", "x", 10,
     {1, -1, 0.5, 2, 0, 0.3, 1.5, 1.2, 0.4, 0.1}, hand_three_gauss},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double time_nlsq(const nlsq_model *m, const double *p, const double *x, size_t n, double *f, double *J, int reps)
{
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (nlsq_model_eval(m, p, x, n, f, J, NULL) != NLSQ_OK) exit(1);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static double time_hand(hand_fn fn, const double *p, const double *x, size_t n, double *f, double *J, int reps)
{
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        fn(p, x, n, f, J);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* Normwise: max |a - b| over max |b|, so values that cancel to nearly
   zero (in either code) do not dominate. */
static double max_rel_diff(const double *a, const double *b, size_t n)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atof(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    double *x = malloc(2 * n * sizeof *x), *f1 = malloc(n * sizeof *f1), *f2 = malloc(n * sizeof *f2);
    double *J1 = malloc(10 * n * sizeof *J1), *J2 = malloc(10 * n * sizeof *J2);
    if (!x || !f1 || !f2 || !J1 || !J2) return 1;
    for (size_t i = 0; i < n; i++) {
        x[i] = -3 + 6.0 * (double)i / (double)n;
        x[n + i] = 2 - 4.0 * (double)((i * 7919) % n) / (double)n;
    }
    printf("bench_eval: %zu points, best of %d; vector math: %s\n", n, reps, vmath_select()->name);
    printf("%-18s %3s | %12s %12s | %12s | %9s %9s | %s\n", "model", "n", "interp ns/pt", "scalar ns/pt",
           "hand ns/pt", "ratio", "ratio", "normwise diff");
    printf("%-18s %3s | %12s %12s | %12s | %9s %9s | %s\n", "", "", "(auto)", "(libm)", "(C, -O2)", "auto/hand",
           "libm/hand", "f, J vs hand");
    for (size_t k = 0; k < sizeof MODELS / sizeof MODELS[0]; k++) {
        const bench_model *bm = &MODELS[k];
        nlsq_model_options o = nlsq_model_options_default();
        o.vars = bm->vars;
        nlsq_model *m = NULL;
        nlsq_error e;
        if (nlsq_model_parse(bm->text, &o, &m, &e) != NLSQ_OK) {
            fprintf(stderr, "%s: %s\n", bm->name, e.message);
            return 1;
        }
        unsetenv("NLSQ_VECTOR_MATH");
        double t_auto = time_nlsq(m, bm->p, x, n, f1, J1, reps);
        setenv("NLSQ_VECTOR_MATH", "off", 1);
        double t_scalar = time_nlsq(m, bm->p, x, n, f1, J1, reps);
        unsetenv("NLSQ_VECTOR_MATH");
        nlsq_model_eval(m, bm->p, x, n, f1, J1, NULL);
        double t_hand = time_hand(bm->hand, bm->p, x, n, f2, J2, reps);
        double diff = fmax(max_rel_diff(f1, f2, n), max_rel_diff(J1, J2, n * (size_t)bm->nparams));
        printf("%-18s %3d | %12.2f %12.2f | %12.2f | %9.2f %9.2f | %.1e\n", bm->name, bm->nparams, 1e9 * t_auto / n,
               1e9 * t_scalar / n, 1e9 * t_hand / n, t_auto / t_hand, t_scalar / t_hand, diff);
        nlsq_model_free(m);
    }
    free(x);
    free(f1);
    free(f2);
    free(J1);
    free(J2);
    return 0;
}
