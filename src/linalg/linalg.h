/*
 * Small dense linear algebra for passes and solvers. Column-major storage
 * (element (i, j) of a matrix with leading dimension ld is a[j*ld + i]),
 * caller-provided workspace, no allocation, no dependency on anything else
 * of ours: these run inside fused kernels and per-fit batch loops.
 */
#ifndef NLSQ_LINALG_LINALG_H
#define NLSQ_LINALG_LINALG_H

#include <stddef.h>

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
 * Householder QR with column pivoting of the m x n column-major A:
 * A P = Q R. On return the upper triangle of A is R (and rdiag its
 * diagonal), perm[j] the original index of column j, acnorm the original
 * column norms, b (length m) becomes Q^T b. work: n doubles. Entries below
 * the diagonal are left undefined.
 */
void qr_pivoted(double *A, size_t lda, int m, int n, int *perm, double *rdiag, double *acnorm, double *b,
                double *work);

/*
 * One-sided Jacobi SVD (Hestenes) of the column-major m x n matrix A, m >= n:
 * on return A holds U*S (column j is s_j u_j), s the singular values in
 * decreasing order, V (n x n, ld n) the right singular vectors. Accurate to
 * a few ulp relative to each singular value for well-scaled columns.
 * Returns the number of sweeps, or -1 if 60 sweeps did not converge.
 */
int svd_jacobi(double *A, size_t lda, int m, int n, double *s, double *V);

/* Cholesky A = L L^T in place (lower triangle of the n x n column-major A);
   returns 0, or k+1 if the leading (k+1) x (k+1) minor is not positive
   definite. */
int chol_factor(double *A, size_t lda, int n);

/* Triangular solves in place on b (length n). */
void tri_solve_upper(const double *R, size_t ldr, int n, double *b);       /* R x = b   */
void tri_solve_upper_trans(const double *R, size_t ldr, int n, double *b); /* R^T x = b */
void tri_solve_lower(const double *L, size_t ldl, int n, double *b);       /* L x = b   */
void tri_solve_lower_trans(const double *L, size_t ldl, int n, double *b); /* L^T x = b */

/* sum a[i]*b[i] in four partial sums (lane i % 4, the tail in lane 0),
   added as (s0 + s1) + (s2 + s3): independent chains of additions, one
   fixed order. Every sum over a block of points is formed this way (the
   fold, the pass's row sums, and the compiled kernels, which repeat it). */
static inline double vec_dot4(const double *a, const double *b, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Euclidean norm without overflow or harmful underflow. */
double vec_norm(const double *x, size_t n, size_t stride);

#endif
