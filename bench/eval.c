/*
 * bench/eval: nanoseconds per point for model + full Jacobian at 10^6
 * points, for the four reference models, nlsq's block interpreter (with
 * the vector math the CPU allows, and with scalar libm) against the
 * hand-written C functions in handwritten.c (-O2), measured in the same
 * run. Best of several repetitions; the results of both are compared so a
 * fast wrong answer cannot hide.
 *
 * Then the time of one pass (model, Jacobian, rows and the fold into
 * R_aug) at 10^7 points ($NLSQ_BENCH_PASS_POINTS): the interpreter, the
 * compiled kernel on one thread and on all cores, and the hand-written
 * fused loops of handfused.c (-O3 -march=native).
 *
 *   bench_eval [points] [repetitions]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"
#include "handfused.h"
#include "handwritten.h"
#include "exec/jit.h"
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
    {"2-D gaussian",
     "A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B",
     "x,y",
     6,
     {3, 0.1, 0.8, -0.2, 0.6, 0.3},
     hand_gauss2d},
    {"3 gaussians + c",
     "a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c",
     "x",
     10,
     {1, -1, 0.5, 2, 0, 0.3, 1.5, 1.2, 0.4, 0.1},
     hand_three_gauss},
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

/* ---- per pass: the compiled kernel against a hand-written fused loop ---- */

typedef double (*hand_pass_fn)(const double *p, const double *x, const double *y, size_t m, double *R);
static const hand_pass_fn HAND_PASS[4] = {hand_pass_decay, hand_pass_gauss_linear, hand_pass_gauss2d,
                                          hand_pass_three_gauss};

static double time_pass(pass *ps, const pass_data *d, const double *p, double *R, int reps)
{
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        pass_out out = {.R = R, .residuals = NULL};
        double t0 = now();
        pass_run(ps, d, p, &out);
        best = fmin(best, now() - t0);
    }
    return best;
}

/* Largest relative difference of |R_jj| (rows may differ in sign). */
static double diag_diff(const double *R1, const double *R2, int nc)
{
    double worst = 0;
    for (int j = 0; j < nc; j++) {
        double a = fabs(R1[j * nc + j]), b = fabs(R2[j * nc + j]);
        worst = fmax(worst, fabs(a - b) / fmax(b, 1e-300));
    }
    return worst;
}

static void bench_passes(size_t n, int reps)
{
    double *x = malloc(2 * n * sizeof *x), *y = malloc(n * sizeof *y);
    double R1[121], R2[121];
    if (!x || !y) exit(1);
    for (size_t i = 0; i < n; i++) {
        x[i] = -3 + 6.0 * (double)i / (double)n;
        x[n + i] = 2 - 4.0 * (double)((i * 7919) % n) / (double)n;
    }
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    pool *pl = cores > 1 ? pool_new(cores) : NULL;
    const vmath *wide = vmath_avx2();
    int width = wide && vmath_select() == wide ? 4 : 1;
    printf("\nper pass (model, Jacobian, rows and fold into R_aug), %zu points, best of %d\n", n, reps);
    printf("%-18s | %10s | %10s %10s | %9s | %10s %8s | %s\n", "model", "interp ms", "jit ms", "hand ms", "jit/hand",
           "jit ms", "speedup", "|R_jj| jit vs hand");
    printf("%-18s | %10s | %10s %10s | %9s | %10s %8s |\n", "", "(1 thread)", "(1 thread)", "(-O3 nat.)", "",
           "(all cores)", "");
    for (size_t k = 0; k < sizeof MODELS / sizeof MODELS[0]; k++) {
        const bench_model *bm = &MODELS[k];
        nlsq_model_options o = nlsq_model_options_default();
        o.vars = bm->vars;
        nlsq_model *m = NULL;
        if (nlsq_model_parse(bm->text, &o, &m, NULL) != NLSQ_OK) exit(1);
        /* y: the model at slightly different parameters, so r is not 0 */
        double q[10];
        for (int j = 0; j < bm->nparams; j++) q[j] = bm->p[j] * 1.01;
        nlsq_model_eval(m, q, x, n, y, NULL, NULL);
        int cols[10];
        for (int j = 0; j < bm->nparams; j++) cols[j] = j;
        jit_entry *e = jit_get(m, cols, bm->nparams, width, JIT_WAIT);
        if (!jit_kernel_ready(e)) {
            printf("%-18s | no compiled kernel: %s\n", bm->name, e ? e->note : "out of memory");
            nlsq_model_free(m);
            continue;
        }
        pass pi, pj, pa;
        if (pass_init(&pi, &m->prog, vmath_select(), cols, bm->nparams, NLSQ_LOSS_LINEAR, 1, NULL) != 0 ||
            pass_init(&pj, &m->prog, vmath_select(), cols, bm->nparams, NLSQ_LOSS_LINEAR, 1, NULL) != 0 ||
            pass_init(&pa, &m->prog, vmath_select(), cols, bm->nparams, NLSQ_LOSS_LINEAR, 1, pl) != 0 ||
            pass_use_jit(&pj, e) != 0 || pass_use_jit(&pa, e) != 0)
            exit(1);
        pass_arrays da = {x, n, y, NULL};
        pass_data d = pass_data_arrays(&da, n, 1.0, 0);
        double t_interp = time_pass(&pi, &d, bm->p, R1, reps);
        double t_jit = time_pass(&pj, &d, bm->p, R1, reps);
        double t_all = time_pass(&pa, &d, bm->p, R1, reps);
        double t_hand = INFINITY;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            HAND_PASS[k](bm->p, x, y, n, R2);
            t_hand = fmin(t_hand, now() - t0);
        }
        printf("%-18s | %10.1f | %10.1f %10.1f | %9.2f | %10.1f %7.2fx | %.1e\n", bm->name, 1e3 * t_interp, 1e3 * t_jit,
               1e3 * t_hand, t_jit / t_hand, 1e3 * t_all, t_jit / t_all, diag_diff(R1, R2, bm->nparams + 1));
        pass_free(&pi);
        pass_free(&pj);
        pass_free(&pa);
        nlsq_model_free(m);
    }
    pool_free(pl);
    free(x);
    free(y);
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
    printf("%-18s %3s | %12s %12s | %12s | %9s %9s | %s\n", "model", "n", "interp ns/pt", "scalar ns/pt", "hand ns/pt",
           "ratio", "ratio", "normwise diff");
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
    const char *pass_points = getenv("NLSQ_BENCH_PASS_POINTS");
    bench_passes(pass_points ? (size_t)atof(pass_points) : 10000000, reps < 5 ? reps : 5);
    return 0;
}
