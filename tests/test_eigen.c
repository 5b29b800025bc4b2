/*
 * The symmetric eigen solver (sym_eigen_jacobi, src/linalg/eigen.c):
 * closed-form spectra (2 x 2, diagonal, indefinite, the second-difference
 * matrix whose eigenvalues are 2 - 2 cos(k pi / (n + 1))), and on random
 * symmetric matrices the defining properties A V = V diag(w), V^T V = I,
 * ascending w; a matrix made from a known spectrum spanning 1 to 1e-12
 * gives back its eigenvalues to a few ulp of the largest.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "linalg/linalg.h"

#define PI 3.14159265358979323846
#define NMAX 16

/* max |A V - V diag(w)| and max |V^T V - I| */
static void residuals(const double *A, int n, const double *w, const double *V, double *res, double *orth)
{
    *res = *orth = 0;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < n; i++) {
            double av = 0, vv = 0;
            for (int k = 0; k < n; k++) {
                av += A[(size_t)k * n + i] * V[(size_t)j * n + k];
                vv += V[(size_t)i * n + k] * V[(size_t)j * n + k];
            }
            *res = fmax(*res, fabs(av - w[j] * V[(size_t)j * n + i]));
            *orth = fmax(*orth, fabs(vv - (i == j)));
        }
    }
}

static void test_two_by_two_has_eigenvalues_one_and_three(void)
{
    double A[4] = {2, 1, 1, 2}, w[2], V[4];
    CHECK(sym_eigen_jacobi(A, 2, w, V) >= 0);
    CHECK_NEAR(w[0], 1, 4e-16, "smaller eigenvalue");
    CHECK_NEAR(w[1], 3, 1e-15, "larger eigenvalue");
    CHECK_NEAR(fabs(V[0]), sqrt(0.5), 1e-15, "eigenvector of 1");
    CHECK_NEAR(V[0] + V[1], 0, 1e-15, "eigenvector of 1 is (1, -1)/sqrt 2");
}

static void test_diagonal_matrix_needs_no_sweep_and_is_sorted(void)
{
    double A[9] = {3, 0, 0, 0, -1, 0, 0, 0, 2}, w[3], V[9];
    CHECK(sym_eigen_jacobi(A, 3, w, V) == 0);
    CHECK_SAME(w[0], -1, "w0");
    CHECK_SAME(w[1], 2, "w1");
    CHECK_SAME(w[2], 3, "w2");
    CHECK_SAME(V[0 * 3 + 1], 1, "the eigenvector of -1 is e2");
    CHECK_SAME(V[2 * 3 + 0], 1, "the eigenvector of 3 is e1");
}

static void test_indefinite_matrix_with_zero_diagonal(void)
{
    double A[4] = {0, 1, 1, 0}, w[2], V[4];
    CHECK(sym_eigen_jacobi(A, 2, w, V) >= 0);
    CHECK_NEAR(w[0], -1, 1e-15, "w0");
    CHECK_NEAR(w[1], 1, 1e-15, "w1");
}

static void test_second_difference_matrix_spectrum(void)
{
    for (int n = 1; n <= NMAX; n++) {
        double A[NMAX * NMAX] = {0}, A0[NMAX * NMAX], w[NMAX], V[NMAX * NMAX], res, orth;
        for (int i = 0; i < n; i++) {
            A[(size_t)i * n + i] = 2;
            if (i + 1 < n) A[(size_t)i * n + i + 1] = A[(size_t)(i + 1) * n + i] = -1;
        }
        memcpy(A0, A, sizeof A);
        CHECK_MSG(sym_eigen_jacobi(A, n, w, V) >= 0, "n = %d did not converge", n);
        for (int k = 1; k <= n; k++)
            CHECK_NEAR(w[k - 1], 2 - 2 * cos(k * PI / (n + 1)), 1e-14, "n = %d, eigenvalue %d", n, k);
        residuals(A0, n, w, V, &res, &orth);
        CHECK_NEAR(res, 0, 1e-14, "n = %d: |A V - V W|", n);
        CHECK_NEAR(orth, 0, 1e-14, "n = %d: |V^T V - I|", n);
    }
}

static void test_random_symmetric_matrices_decompose(void)
{
    rng g = {0x9e3779b97f4a7c15ull};
    for (int t = 0; t < 200; t++) {
        int n = 1 + rng_int(&g, NMAX);
        double A[NMAX * NMAX], A0[NMAX * NMAX], w[NMAX], V[NMAX * NMAX], res, orth;
        for (int j = 0; j < n; j++)
            for (int i = 0; i <= j; i++) A[(size_t)j * n + i] = A[(size_t)i * n + j] = rng_range(&g, -1, 1);
        memcpy(A0, A, (size_t)n * n * sizeof *A);
        CHECK_MSG(sym_eigen_jacobi(A, n, w, V) >= 0, "matrix %d did not converge", t);
        residuals(A0, n, w, V, &res, &orth);
        CHECK_NEAR(res, 0, 1e-14 * n, "matrix %d (n = %d): |A V - V W|", t, n);
        CHECK_NEAR(orth, 0, 1e-14 * n, "matrix %d (n = %d): |V^T V - I|", t, n);
        for (int i = 1; i < n; i++) CHECK_MSG(w[i - 1] <= w[i], "matrix %d: not ascending at %d", t, i);
    }
}

/* A = Q diag(lambda) Q^T with Q a product of random rotations and lambda
   from 1 down to 1e-12 (the covariance of a stretched search): each
   eigenvalue back to a few ulp of the largest, the spectrum's own error. */
static void test_known_ill_conditioned_spectrum(void)
{
    enum { n = 8 };
    rng g = {12345};
    double Q[n * n], A[n * n], w[n], V[n * n], lam[n];
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) Q[j * n + i] = i == j;
    for (int r = 0; r < 40; r++) {
        int p = rng_int(&g, n), q = rng_int(&g, n);
        if (p == q) continue;
        double th = rng_range(&g, -PI, PI), c = cos(th), s = sin(th);
        for (int i = 0; i < n; i++) {
            double a = Q[p * n + i], b = Q[q * n + i];
            Q[p * n + i] = c * a - s * b;
            Q[q * n + i] = s * a + c * b;
        }
    }
    for (int k = 0; k < n; k++) lam[k] = pow(10.0, -12.0 * k / (n - 1));
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double v = 0;
            for (int k = 0; k < n; k++) v += Q[k * n + i] * lam[k] * Q[k * n + j];
            A[j * n + i] = v;
        }
    CHECK(sym_eigen_jacobi(A, n, w, V) >= 0);
    for (int k = 0; k < n; k++) CHECK_NEAR(w[n - 1 - k], lam[k], 1e-15, "eigenvalue %d", k);
}

static void test_non_finite_matrix_is_refused(void)
{
    double A[4] = {1, NAN, NAN, 1}, w[2], V[4];
    CHECK(sym_eigen_jacobi(A, 2, w, V) == -1);
    double B[4] = {1, 0, 0, INFINITY};
    CHECK(sym_eigen_jacobi(B, 2, w, V) == -1);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_two_by_two_has_eigenvalues_one_and_three),
        TEST(test_diagonal_matrix_needs_no_sweep_and_is_sorted),
        TEST(test_indefinite_matrix_with_zero_diagonal),
        TEST(test_second_difference_matrix_spectrum),
        TEST(test_random_symmetric_matrices_decompose),
        TEST(test_known_ill_conditioned_spectrum),
        TEST(test_non_finite_matrix_is_refused),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
