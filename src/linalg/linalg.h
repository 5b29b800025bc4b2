/*
 * Small dense linear algebra for passes and solvers. Column-major storage
 * (element (i, j) of a matrix with leading dimension ld is a[j*ld + i]),
 * caller-provided workspace, no allocation, no dependency on anything of
 * ours but the numeric core (src/kernel/), whose dot products, norms and
 * MINPACK pieces are the ones the compiled kernels run too.
 */
#ifndef NLSQ_LINALG_LINALG_H
#define NLSQ_LINALG_LINALG_H

#include <stddef.h>

#include "kernel/dot.h"     /* nk_dot4, nk_norm: every sum in one order */
#include "kernel/minpack.h" /* nk_qr_pivoted, nk_qrsolv, nk_lmpar */

/*
 * Fold `rows` rows of the column-major block A (nc columns, leading
 * dimension lda) into the nc x nc upper-triangular R (leading dimension
 * ldr) by Householder reflections: afterwards R is the triangular factor
 * of [R; A]. A is overwritten. Rows of R may end up with either sign.
 * Hidden by name: GCC gives the ifunc of its target clones default
 * visibility whatever -fvisibility says.
 */
__attribute__((visibility("hidden"))) void qr_fold(double *R, size_t ldr, int nc, double *A, size_t lda, size_t rows);

/* R1 <- triangular factor of [R1; R2], both nc x nc upper triangular;
   R2 is overwritten. */
void qr_merge(double *R1, const double *R2, int nc, double *work /* nc*nc */);

/*
 * One-sided Jacobi SVD (Hestenes) of the column-major m x n matrix A, m >= n:
 * on return A holds U*S (column j is s_j u_j), s the singular values in
 * decreasing order, V (n x n, ld n) the right singular vectors. Accurate to
 * a few ulp relative to each singular value for well-scaled columns.
 * Returns the number of sweeps, or -1 if 60 sweeps did not converge.
 */
int svd_jacobi(double *A, size_t lda, int m, int n, double *s, double *V);

/*
 * SVD by Householder bidiagonalisation and implicit-shift QR on the
 * bidiagonal (Golub-Kahan-Reinsch, Demmel-Kahan zero shift) of the
 * column-major m x n A, m >= n, n >= 1; A is destroyed. s: the singular
 * values in decreasing order; V (n x n, ld n): the right singular
 * vectors; b (m entries, or NULL): its first n entries become U^T b (U is
 * never formed). Normwise backward stable: singular values to about
 * 1e-15 s_max. work: svd_work_doubles(m, n). Returns the number of QR
 * steps, or -1 if A is not finite or the steps did not converge (in 6 n^2
 * of them: in practice about 2 n).
 */
int svd_bidiag(double *A, size_t lda, int m, int n, double *s, double *V, double *b, double *work);
size_t svd_work_doubles(int m, int n);

/*
 * The fallback: one-sided Jacobi of the column-major m x n A (ld m) with
 * the tolerance of LAPACK's dgesvj (sqrt(m) eps) and up to 200 sweeps;
 * outputs as svd_bidiag's (A left holding U S). work: n doubles. Returns
 * 0, or -1 when the sweeps did not converge or A is not finite.
 */
int svd_jacobi_rhs(double *A, int m, int n, double *s, double *V, double *b, double *work);

/*
 * The solvers' SVD: svd_bidiag, or where its steps do not converge,
 * one-sided Jacobi on a copy of A (ld m). Same outputs as svd_bidiag
 * (A destroyed). work: svd_robust_work_doubles(m, n). Returns 0, or -1
 * when neither converged (A not finite, or both stalled): the caller
 * must then stop and say so, never carry on with s and V.
 */
int svd_robust(double *A, int m, int n, double *s, double *V, double *b, double *work);
size_t svd_robust_work_doubles(int m, int n);

/*
 * Eigen decomposition of the symmetric n x n column-major A (ld n, both
 * triangles filled) by cyclic Jacobi rotations: w the eigenvalues in
 * ascending order, V (n x n, ld n) the orthonormal eigenvectors (column i
 * belongs to w[i]), so A = V diag(w) V^T. A is destroyed. Accurate
 * relative to each eigenvalue of a positive definite A; O(n^3) a sweep,
 * for small n. Returns the number of sweeps, or -1 when A is not finite
 * or 60 sweeps did not converge.
 */
int sym_eigen_jacobi(double *A, int n, double *w, double *V);

/* Cholesky A = L L^T in place (lower triangle of the n x n column-major A);
   returns 0, or k+1 if the leading (k+1) x (k+1) minor is not positive
   definite. */
int chol_factor(double *A, size_t lda, int n);

/* Triangular solves in place on b (length n). */
void tri_solve_upper(const double *R, size_t ldr, int n, double *b);       /* R x = b   */
void tri_solve_upper_trans(const double *R, size_t ldr, int n, double *b); /* R^T x = b */
void tri_solve_lower(const double *L, size_t ldl, int n, double *b);       /* L x = b   */
void tri_solve_lower_trans(const double *L, size_t ldl, int n, double *b); /* L^T x = b */

#endif
