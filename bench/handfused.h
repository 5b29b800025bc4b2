/* Hand-written fused passes (model, Jacobian, rows, Householder fold) for
   the four reference models: the peers of nlsq's compiled kernels in
   bench/eval. Each returns the cost 1/2 sum r^2 and leaves the
   (n+1) x (n+1) triangle of [J | r] in R (column-major). */
#ifndef NLSQ_BENCH_HANDFUSED_H
#define NLSQ_BENCH_HANDFUSED_H

#include <stddef.h>

double hand_pass_decay(const double *p, const double *x, const double *y, size_t m, double *R);
double hand_pass_gauss_linear(const double *p, const double *x, const double *y, size_t m, double *R);
double hand_pass_gauss2d(const double *p, const double *xy, const double *z, size_t m, double *R);
double hand_pass_three_gauss(const double *p, const double *x, const double *y, size_t m, double *R);

#endif
