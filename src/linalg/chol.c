/* Cholesky factorisation and triangular solves. */
#include <math.h>

#include "linalg.h"

int chol_factor(double *A, size_t lda, int n)
{
    for (int j = 0; j < n; j++) {
        double d = A[(size_t)j * lda + j];
        for (int k = 0; k < j; k++) d -= A[(size_t)k * lda + j] * A[(size_t)k * lda + j];
        if (!(d > 0)) return j + 1; /* also catches NaN */
        d = sqrt(d);
        A[(size_t)j * lda + j] = d;
        for (int i = j + 1; i < n; i++) {
            double v = A[(size_t)j * lda + i];
            for (int k = 0; k < j; k++) v -= A[(size_t)k * lda + i] * A[(size_t)k * lda + j];
            A[(size_t)j * lda + i] = v / d;
        }
    }
    return 0;
}

void tri_solve_upper(const double *R, size_t ldr, int n, double *b)
{
    for (int i = n - 1; i >= 0; i--) {
        double v = b[i];
        for (int j = i + 1; j < n; j++) v -= R[(size_t)j * ldr + i] * b[j];
        b[i] = v / R[(size_t)i * ldr + i];
    }
}

void tri_solve_upper_trans(const double *R, size_t ldr, int n, double *b)
{
    for (int i = 0; i < n; i++) {
        double v = b[i];
        for (int j = 0; j < i; j++) v -= R[(size_t)i * ldr + j] * b[j];
        b[i] = v / R[(size_t)i * ldr + i];
    }
}

void tri_solve_lower(const double *L, size_t ldl, int n, double *b)
{
    for (int i = 0; i < n; i++) {
        double v = b[i];
        for (int j = 0; j < i; j++) v -= L[(size_t)j * ldl + i] * b[j];
        b[i] = v / L[(size_t)i * ldl + i];
    }
}

void tri_solve_lower_trans(const double *L, size_t ldl, int n, double *b)
{
    for (int i = n - 1; i >= 0; i--) {
        double v = b[i];
        for (int j = i + 1; j < n; j++) v -= L[(size_t)i * ldl + j] * b[j];
        b[i] = v / L[(size_t)i * ldl + i];
    }
}
