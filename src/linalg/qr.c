/*
 * Householder QR, in the form the passes need: fold a block of rows into a
 * running upper triangle. For column k the reflector acts on R[k][k] and
 * column k of the block only (the rows of R below k are already zero), so
 * folding B rows into an nc-column triangle costs about 2 B nc^2 flops and
 * touches each block column contiguously.
 *
 * The reflector follows LAPACK's dlarfg: H = I - tau v v^T with v[0] = 1,
 * beta = -sign(alpha) ||(alpha, x)||, so that H (alpha, x) = (beta, 0).
 */
#include <math.h>

#include "linalg.h"

/* The scaled sum of squares of LAPACK's dnrm2: immune to overflow and
   underflow, but a division per element. */
static double norm_scaled(const double *x, size_t n, size_t stride)
{
    double scale = 0, ssq = 1;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i * stride]);
        if (a == 0) continue;
        if (isnan(a)) return a;
        if (scale < a) {
            ssq = 1 + ssq * (scale / a) * (scale / a);
            scale = a;
        } else {
            ssq += (a / scale) * (a / scale);
        }
    }
    return scale * sqrt(ssq);
}

double vec_norm(const double *x, size_t n, size_t stride)
{
    /* the plain sum of squares is exact enough unless it overflows or
       enters the subnormal range; only then pay for scaling */
    double ssq = stride == 1 ? vec_dot4(x, x, n) : 0;
    if (stride != 1)
        for (size_t i = 0; i < n; i++) ssq += x[i * stride] * x[i * stride];
    if (ssq > 0x1p-900 && ssq < 0x1p900) return sqrt(ssq);
    if (ssq == 0) return 0;
    return norm_scaled(x, n, stride);
}

/*
 * vec_dot4 of one column a with four columns b0..b3 in a single sweep: each
 * of the four sums is formed exactly as vec_dot4 forms it (four partial sums,
 * the same order), so the results are vec_dot4's to the bit; but the sixteen
 * partial sums are independent, so the sweep runs at the speed of the
 * arithmetic, not of the latency of one chain of additions.
 */
static void dot4_x4(const double *restrict a, const double *restrict b0, const double *restrict b1,
                    const double *restrict b2, const double *restrict b3, size_t n, double out[4])
{
    double s[4][4] = {{0}};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; l++) {
            s[0][l] += a[i + l] * b0[i + l];
            s[1][l] += a[i + l] * b1[i + l];
            s[2][l] += a[i + l] * b2[i + l];
            s[3][l] += a[i + l] * b3[i + l];
        }
    }
    for (; i < n; i++) {
        s[0][0] += a[i] * b0[i];
        s[1][0] += a[i] * b1[i];
        s[2][0] += a[i] * b2[i];
        s[3][0] += a[i] * b3[i];
    }
    for (int c = 0; c < 4; c++) out[c] = (s[c][0] + s[c][1]) + (s[c][2] + s[c][3]);
}

/* The same, bit for bit, on x86-64 CPUs with AVX2 (4 lanes, no FMA). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void qr_fold(double *R, size_t ldr, int nc, double *A, size_t lda, size_t rows)
{
    if (rows == 0) return;
    for (int k = 0; k < nc; k++) {
        double *ak = A + (size_t)k * lda;
        double xnorm = vec_norm(ak, rows, 1);
        if (xnorm == 0) continue; /* H = I */
        double alpha = R[(size_t)k * ldr + k];
        double beta = -copysign(alpha == 0 ? xnorm : hypot(alpha, xnorm), alpha); /* hypot(0, x) = |x| */
        double tau = (beta - alpha) / beta;
        double scal = 1 / (alpha - beta);
        for (size_t i = 0; i < rows; i++) ak[i] *= scal;
        R[(size_t)k * ldr + k] = beta;
        /* the later columns four at a time, then one at a time */
        int j = k + 1;
        for (; j + 4 <= nc; j += 4) {
            double *a0 = A + (size_t)j * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            double dots[4], d[4];
            dot4_x4(ak, a0, a1, a2, a3, rows, dots);
            for (int c = 0; c < 4; c++) {
                double *rkj = &R[(size_t)(j + c) * ldr + k];
                d[c] = (*rkj + dots[c]) * tau;
                *rkj -= d[c];
            }
            for (size_t i = 0; i < rows; i++) {
                a0[i] -= d[0] * ak[i];
                a1[i] -= d[1] * ak[i];
                a2[i] -= d[2] * ak[i];
                a3[i] -= d[3] * ak[i];
            }
        }
        for (; j < nc; j++) {
            double *aj = A + (size_t)j * lda;
            double *rkj = &R[(size_t)j * ldr + k];
            double dot = (*rkj + vec_dot4(ak, aj, rows)) * tau;
            *rkj -= dot;
            for (size_t i = 0; i < rows; i++) aj[i] -= dot * ak[i];
        }
    }
}

void qr_merge(double *R1, const double *R2, int nc, double *work)
{
    /* R2 as a block of nc rows; only its upper triangle is nonzero */
    for (int j = 0; j < nc; j++)
        for (int i = 0; i < nc; i++) work[(size_t)j * nc + i] = i <= j ? R2[(size_t)j * nc + i] : 0.0;
    qr_fold(R1, (size_t)nc, nc, work, (size_t)nc, (size_t)nc);
}

/*
 * Householder QR with column pivoting (Businger & Golub 1965), the
 * factorisation MINPACK's lmder works with: A P = Q R, the column of
 * largest remaining norm brought forward at each step, remaining norms
 * downdated and recomputed when cancellation makes the downdate
 * unreliable. On return the upper triangle of A holds R (diagonal in
 * rdiag as well), perm[j] is the original column at position j, acnorm
 * the original column norms, and b (length m) is overwritten by Q^T b.
 */
void qr_pivoted(double *A, size_t lda, int m, int n, int *perm, double *rdiag, double *acnorm, double *b,
                double *work)
{
    for (int j = 0; j < n; j++) {
        acnorm[j] = vec_norm(A + (size_t)j * lda, (size_t)m, 1);
        rdiag[j] = work[j] = acnorm[j];
        perm[j] = j;
    }
    int steps = m < n ? m : n;
    for (int j = 0; j < steps; j++) {
        int kmax = j;
        for (int k = j + 1; k < n; k++)
            if (rdiag[k] > rdiag[kmax]) kmax = k;
        if (kmax != j) {
            for (int i = 0; i < m; i++) {
                double t = A[(size_t)j * lda + i];
                A[(size_t)j * lda + i] = A[(size_t)kmax * lda + i];
                A[(size_t)kmax * lda + i] = t;
            }
            rdiag[kmax] = rdiag[j];
            work[kmax] = work[j];
            int t = perm[j];
            perm[j] = perm[kmax];
            perm[kmax] = t;
        }
        double *aj = A + (size_t)j * lda;
        double ajnorm = vec_norm(aj + j, (size_t)(m - j), 1);
        if (ajnorm != 0) {
            if (aj[j] < 0) ajnorm = -ajnorm;
            for (int i = j; i < m; i++) aj[i] /= ajnorm;
            aj[j] += 1; /* v = x/||x|| + e1, H = I - v v^T / v[0] */
            for (int k = j + 1; k < n; k++) {
                double *ak = A + (size_t)k * lda, sum = 0;
                for (int i = j; i < m; i++) sum += aj[i] * ak[i];
                double t = sum / aj[j];
                for (int i = j; i < m; i++) ak[i] -= t * aj[i];
                if (rdiag[k] != 0) {
                    double q = ak[j] / rdiag[k];
                    double rest = 1 - q * q; /* fmax(0, rest), without the call to libm */
                    rdiag[k] *= sqrt(rest > 0 ? rest : 0);
                    if (0.05 * (rdiag[k] / work[k]) * (rdiag[k] / work[k]) <= 2.220446049250313e-16) {
                        rdiag[k] = vec_norm(ak + j + 1, (size_t)(m - j - 1), 1);
                        work[k] = rdiag[k];
                    }
                }
            }
            double sum = 0;
            for (int i = j; i < m; i++) sum += aj[i] * b[i];
            double t = sum / aj[j];
            for (int i = j; i < m; i++) b[i] -= t * aj[i];
        }
        rdiag[j] = -ajnorm;
        aj[j] = rdiag[j];
    }
}
