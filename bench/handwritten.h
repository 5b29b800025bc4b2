/* Hand-written model + Jacobian for the four reference models: what a
   careful C programmer would write, scalar libm, compiled with -O2. */
#ifndef NLSQ_BENCH_HANDWRITTEN_H
#define NLSQ_BENCH_HANDWRITTEN_H

#include <stddef.h>

/* Same layout as nlsq_model_eval: x[k*m + i], f[i], J[i*n + j]. */
void hand_decay(const double *p, const double *x, size_t m, double *f, double *J);
void hand_gauss_linear(const double *p, const double *x, size_t m, double *f, double *J);
void hand_gauss2d(const double *p, const double *x, size_t m, double *f, double *J);
void hand_three_gauss(const double *p, const double *x, size_t m, double *f, double *J);

#endif
