/*
 * The four reference models of bench/eval, their true parameters, starts
 * (each nonzero parameter 25% off, alternately up and down) and synthetic
 * data with Gaussian noise, shared by the C and C++ benchmark runners.
 * Data files (for the SciPy runner): DIR/MODEL_M.bin = x rows then y,
 * float64, native byte order.
 */
#ifndef NLSQ_BENCH_FITDATA_H
#define NLSQ_BENCH_FITDATA_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct bench_fit_model {
    const char *name, *text, *vars;
    int n, nvars;
    double truth[10];
    double noise;
} bench_fit_model;

static const bench_fit_model FIT_MODELS[4] = {
    {"decay", "a*exp(-b*x) + c", "x", 3, 1, {2.5, 1.3, 0.5}, 0.01},
    {"gauss_lin", "A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x", "x", 5, 1, {3, 0.2, 0.7, 0.1, 0.05}, 0.02},
    {"gauss2d",
     "A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B",
     "x,y",
     6,
     2,
     {3, 0.1, 0.8, -0.2, 0.6, 0.3},
     0.02},
    {"gauss3",
     "a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c",
     "x",
     10,
     1,
     {1, -1, 0.5, 2, 0.05, 0.3, 1.5, 1.2, 0.4, 0.1},
     0.01},
};

static inline void fit_start(const bench_fit_model *bm, double *p0)
{
    for (int j = 0; j < bm->n; j++) p0[j] = bm->truth[j] * (j % 2 ? 0.75 : 1.25);
}

/* splitmix64 + Box-Muller: the same numbers everywhere */
static inline double fit_uniform(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static inline double fit_gauss(uint64_t *s)
{
    double u = fit_uniform(s), v = fit_uniform(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* x: nvars rows of m; y: m. f(x, truth) from the hand-written code. */
typedef void (*fit_eval_fn)(const double *p, const double *x, size_t m, double *f, double *J);

static inline void fit_make_data(const bench_fit_model *bm, size_t m, double *x, double *y, double *Jscratch_unused,
                                 fit_eval_fn eval_one)
{
    (void)Jscratch_unused;
    uint64_t s = 20261124u + m;
    for (size_t i = 0; i < m; i++) {
        double t = (double)i / (double)(m > 1 ? m - 1 : 1);
        if (bm->nvars == 1) {
            x[i] = bm->n == 3 ? 5 * t : -3 + 6 * t;
        } else {
            x[i] = -2 + 4 * fit_uniform(&s);
            x[m + i] = -2 + 4 * fit_uniform(&s);
        }
    }
    /* values in chunks through the hand-written model (no m x n Jacobian) */
    double Jtmp[10 * 1024];
    for (size_t i0 = 0; i0 < m; i0 += 1024) {
        size_t len = m - i0 < 1024 ? m - i0 : 1024;
        if (bm->nvars == 1) {
            eval_one(bm->truth, x + i0, len, y + i0, Jtmp);
        } else {
            double xy[2 * 1024];
            for (size_t k = 0; k < len; k++) {
                xy[k] = x[i0 + k];
                xy[len + k] = x[m + i0 + k];
            }
            eval_one(bm->truth, xy, len, y + i0, Jtmp);
        }
    }
    for (size_t i = 0; i < m; i++) y[i] += bm->noise * fit_gauss(&s);
}

#endif
