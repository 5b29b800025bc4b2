/*
 * The fitting engine below and at nlsq_curve_fit: the pass against an
 * independent QR, the small linear algebra, the solvers on problems with
 * known answers, curve_fit's options, and every kind of bad input.
 */
#define _DEFAULT_SOURCE
#include <math.h>

#include "check.h"
#include "exec/exec.h"
#include "linalg/linalg.h"
#include "nlsq.h"

static nlsq_model *parse(const char *text, const char *vars)
{
    nlsq_model_options o = nlsq_model_options_default();
    if (vars) o.vars = vars;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &o, &m, &e) != NLSQ_OK) CHECK_MSG(0, "parse \"%s\": %s", text, e.message);
    return m;
}

/* ---- linear algebra ------------------------------------------------------- */

/* Modified Gram-Schmidt in long double: R of a column-major m x n matrix,
   with positive diagonal. An algorithm unrelated to Householder. */
static void mgs_r(const double *A, int m, int n, long double *R)
{
    long double *Q = malloc(sizeof *Q * (size_t)m * (size_t)n);
    for (int i = 0; i < m * n; i++) Q[i] = A[i];
    for (int j = 0; j < n; j++) {
        for (int k = 0; k < j; k++) {
            long double d = 0;
            for (int i = 0; i < m; i++) d += Q[(size_t)k * m + i] * Q[(size_t)j * m + i];
            R[(size_t)j * n + k] = d;
            for (int i = 0; i < m; i++) Q[(size_t)j * m + i] -= d * Q[(size_t)k * m + i];
        }
        long double nrm = 0;
        for (int i = 0; i < m; i++) nrm += Q[(size_t)j * m + i] * Q[(size_t)j * m + i];
        nrm = sqrtl(nrm);
        R[(size_t)j * n + j] = nrm;
        for (int i = 0; i < m; i++) Q[(size_t)j * m + i] /= nrm;
        for (int k = j + 1; k < n; k++) R[(size_t)k * n + j] = 0;
    }
    free(Q);
}

/* Compare an R with rows of either sign to a reference with positive
   diagonal, relative to the row's scale. */
static void check_r_equal(const double *R, const long double *ref, int n, double tol, const char *what)
{
    for (int i = 0; i < n; i++) {
        double sign = R[(size_t)i * n + i] < 0 ? -1 : 1, scale = fabs((double)ref[(size_t)(n - 1) * n + i]);
        for (int j = i; j < n; j++) scale = fmax(scale, fabs((double)ref[(size_t)j * n + i]));
        for (int j = i; j < n; j++)
            CHECK_NEAR(sign * R[(size_t)j * n + i], (double)ref[(size_t)j * n + i], tol * scale, "%s R[%d][%d]", what,
                       i, j);
    }
}

static void test_pass_r_aug_equals_independent_qr_of_full_matrix(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c*sin(d*x)", NULL);
    if (!m) return;
    enum { M = 1000, N = 4, NC = N + 1 };
    static double x[M], y[M], f[M], J[M * N], A[M * NC];
    rng r = {99};
    for (int i = 0; i < M; i++) {
        x[i] = i * 0.01;
        y[i] = 2 * exp(-0.7 * x[i]) + 0.3 * sin(1.7 * x[i]) + 0.01 * (rng_uniform(&r) - 0.5);
    }
    double p[N] = {1.8, 0.6, 0.35, 1.65};
    nlsq_model_eval(m, p, x, M, f, J, NULL);
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) A[(size_t)j * M + i] = J[i * N + j];
        A[(size_t)N * M + i] = f[i] - y[i];
    }
    long double ref[NC * NC];
    mgs_r(A, M, NC, ref);
    int cols[N] = {0, 1, 2, 3};
    pass ps;
    CHECK(pass_init(&ps, &m->prog, vmath_select(), cols, N, NLSQ_LOSS_LINEAR, 1, NULL) == 0);
    double R[NC * NC];
    pass_arrays da = {x, M, y, NULL};
    pass_data d = pass_data_arrays(&da, M, 1.0, 0);
    pass_out out = {.R = R, .residuals = NULL};
    pass_run(&ps, &d, p, &out);
    check_r_equal(R, ref, NC, 1e-13, "pass");
    double ss = 0;
    for (int i = 0; i < M; i++) ss += (f[i] - y[i]) * (f[i] - y[i]);
    CHECK_NEAR(out.cost, 0.5 * ss, 1e-13 * ss, "cost");
    /* |R[n][n]| is the residual norm left after projecting out J */
    CHECK_NEAR(fabs(R[NC * NC - 1]), (double)ref[NC * NC - 1], 1e-12 * (double)ref[NC * NC - 1], "rn");

    /* Any split of the points, passes merged in either order: same R */
    size_t splits[] = {1, 255, 256, 257, 600, 999};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        size_t s = splits[k];
        double R1[NC * NC], R2[NC * NC], work[NC * NC];
        pass_arrays a1 = {x, M, y, NULL}, a2 = {x + s, M, y + s, NULL};
        pass_data d1 = pass_data_arrays(&a1, s, 1.0, 0), d2 = pass_data_arrays(&a2, M - s, 1.0, 0);
        pass_out o1 = {.R = R1, .residuals = NULL}, o2 = {.R = R2, .residuals = NULL};
        pass_run(&ps, &d1, p, &o1);
        pass_run(&ps, &d2, p, &o2);
        qr_merge(R2, R1, NC, work);
        check_r_equal(R2, ref, NC, 1e-13, "split and merge");
        CHECK_NEAR(o1.cost + o2.cost, out.cost, 1e-13 * out.cost, "split cost");
    }
    pass_free(&ps);
    nlsq_model_free(m);
}

static void test_jacobi_svd_reconstructs_and_orders(void)
{
    rng r = {7};
    for (int trial = 0; trial < 50; trial++) {
        int m = 2 + rng_int(&r, 8), n = 1 + rng_int(&r, m);
        double A[100], A0[100], s[10], V[100];
        for (int i = 0; i < m * n; i++) A0[i] = A[i] = rng_range(&r, -1, 1) * pow(10, rng_range(&r, -3, 3));
        CHECK(svd_jacobi(A, (size_t)m, m, n, s, V) > 0);
        for (int j = 1; j < n; j++) CHECK(s[j - 1] >= s[j]);
        /* A0 V = U S = A: check both sides */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double v = 0, scale = 0;
                for (int k = 0; k < n; k++) {
                    v += A0[(size_t)k * m + i] * V[(size_t)j * n + k];
                    scale += fabs(A0[(size_t)k * m + i] * V[(size_t)j * n + k]);
                }
                CHECK_NEAR(v, A[(size_t)j * m + i], 1e-14 * scale + 1e-300, "A V = U S");
            }
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++) {
                double v = 0;
                for (int k = 0; k < n; k++) v += V[(size_t)a * n + k] * V[(size_t)b * n + k];
                CHECK_NEAR(v, a == b, 1e-14, "V orthogonal");
            }
    }
    /* known singular values: diag(3, 2, 1e-9) rotated */
    double c = cos(0.3), sn = sin(0.3), A[9] = {3 * c, 3 * sn, 0, -2 * sn, 2 * c, 0, 0, 0, 1e-9}, s[3], V[9];
    svd_jacobi(A, 3, 3, 3, s, V);
    CHECK_NEAR(s[0], 3, 1e-15, "s0");
    CHECK_NEAR(s[1], 2, 1e-15, "s1");
    CHECK_NEAR(s[2], 1e-9, 1e-24, "s2 (relative accuracy)");
}

static void test_cholesky_and_triangular_solves(void)
{
    enum { N = 6 };
    double B[N * N], A[N * N], L[N * N], x[N], b[N];
    rng r = {3};
    for (int i = 0; i < N * N; i++) B[i] = rng_range(&r, -1, 1);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double v = i == j ? 0.5 : 0;
            for (int k = 0; k < N; k++) v += B[k * N + i] * B[k * N + j];
            A[j * N + i] = v;
        }
    memcpy(L, A, sizeof A);
    CHECK(chol_factor(L, N, N) == 0);
    for (int i = 0; i < N; i++) x[i] = b[i] = i + 1.0;
    tri_solve_lower(L, N, N, x);
    tri_solve_lower_trans(L, N, N, x); /* x = A^-1 b */
    for (int i = 0; i < N; i++) {
        double v = 0;
        for (int j = 0; j < N; j++) v += A[j * N + i] * x[j];
        CHECK_NEAR(v, b[i], 1e-12, "A x = b");
    }
    /* upper solves with L^T as R */
    double R[N * N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) R[j * N + i] = L[i * N + j];
    for (int i = 0; i < N; i++) x[i] = b[i];
    tri_solve_upper_trans(R, N, N, x);
    tri_solve_upper(R, N, N, x);
    for (int i = 0; i < N; i++) {
        double v = 0;
        for (int j = 0; j < N; j++) v += A[j * N + i] * x[j];
        CHECK_NEAR(v, b[i], 1e-12, "R^T R x = b");
    }
    double notpd[4] = {1, 2, 2, 1};
    CHECK(chol_factor(notpd, 2, 2) == 2);
}

static void test_pivoted_qr_factors_a_permuted(void)
{
    enum { M = 7, N = 4 };
    double A[M * N], A0[M * N], b[M], b0[M], rdiag[N], acnorm[N], work[N];
    int perm[N];
    rng r = {11};
    for (int i = 0; i < M * N; i++) A0[i] = A[i] = rng_range(&r, -2, 2) * (1 + i % 3 * 10);
    for (int i = 0; i < M; i++) b0[i] = b[i] = rng_range(&r, -1, 1);
    nk_qr_pivoted(A, M, M, N, perm, rdiag, acnorm, b, work);
    for (int j = 1; j < N; j++) CHECK(fabs(rdiag[j - 1]) >= fabs(rdiag[j]) * (1 - 1e-12));
    /* R^T R = P^T A^T A P */
    for (int a = 0; a < N; a++)
        for (int c = 0; c < N; c++) {
            double rr = 0, aa = 0;
            for (int k = 0; k <= (a < c ? a : c); k++) rr += A[(size_t)a * M + k] * A[(size_t)c * M + k];
            for (int i = 0; i < M; i++) aa += A0[(size_t)perm[a] * M + i] * A0[(size_t)perm[c] * M + i];
            CHECK_NEAR(rr, aa, 1e-12 * (1 + fabs(aa)), "R^T R");
        }
    /* ||Q^T b|| = ||b|| */
    CHECK_NEAR(nk_norm(b, M), nk_norm(b0, M), 1e-14, "norm of Q^T b");
}

/* ---- solvers on known problems ----------------------------------------- */

static nlsq_result *fit(const nlsq_model *m, const double *x, const double *y, size_t n, const nlsq_options *o,
                        nlsq_status want)
{
    nlsq_data d = {x, y, n, NULL, NLSQ_SIGMA_NONE};
    nlsq_result *r = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_curve_fit(m, &d, o, &r, &e);
    CHECK_MSG(st == want, "curve_fit: %s (%s), want %s", nlsq_status_str(st), e.message, nlsq_status_str(want));
    return r;
}

/* Rosenbrock as least squares: r1 = 10 (b - a^2), r2 = 1 - a; minimum (1, 1). */
static void test_rosenbrock_from_the_classic_start(void)
{
    nlsq_model *m = parse("where(x < 0.5, 10*(b - a^2), 1 - a)", NULL);
    if (!m) return;
    double x[2] = {0, 1}, y[2] = {0, 0}, p0[2] = {-1.2, 1};
    for (int method = NLSQ_TRF; method <= NLSQ_DOGBOX; method++) {
        nlsq_options o = nlsq_options_default();
        o.method = (nlsq_method)method;
        o.p0 = p0;
        nlsq_result *r = fit(m, x, y, 2, &o, NLSQ_OK);
        if (!r) continue;
        CHECK_MSG(r->success, "method %d: status %d %s", method, r->status, r->message);
        CHECK_NEAR(r->popt[0], 1, 1e-10, "Rosenbrock a (method %d)", method);
        CHECK_NEAR(r->popt[1], 1, 1e-10, "Rosenbrock b (method %d)", method);
        CHECK(r->cost < 1e-20);
        nlsq_result_free(r);
    }
    nlsq_model_free(m);
}

/* Straight line: popt and pcov against the closed-form least-squares
   solution (normal equations in long double). */
static void test_straight_line_matches_closed_form(void)
{
    nlsq_model *m = parse("a + b*x", NULL);
    if (!m) return;
    enum { M = 50 };
    double x[M], y[M], sg[M];
    rng r = {5};
    for (int i = 0; i < M; i++) {
        x[i] = i * 0.2;
        y[i] = 1.5 - 0.3 * x[i] + rng_range(&r, -0.1, 0.1);
        sg[i] = 0.05 + 0.01 * i;
    }
    for (int weighted = 0; weighted < 2; weighted++) {
        long double S = 0, Sx = 0, Sy = 0, Sxx = 0, Sxy = 0;
        for (int i = 0; i < M; i++) {
            long double w = weighted ? 1.0L / ((long double)sg[i] * sg[i]) : 1;
            S += w;
            Sx += w * x[i];
            Sy += w * y[i];
            Sxx += w * x[i] * x[i];
            Sxy += w * x[i] * y[i];
        }
        long double D = S * Sxx - Sx * Sx, a = (Sxx * Sy - Sx * Sxy) / D, b = (S * Sxy - Sx * Sy) / D;
        long double chi2 = 0;
        for (int i = 0; i < M; i++) {
            long double w = weighted ? 1.0L / ((long double)sg[i] * sg[i]) : 1, e = y[i] - a - b * x[i];
            chi2 += w * e * e;
        }
        long double s2 = chi2 / (M - 2);
        for (int absolute = 0; absolute < 2; absolute++) {
            nlsq_options o = nlsq_options_default();
            o.absolute_sigma = absolute;
            nlsq_data d = {x, y, M, weighted ? sg : NULL, weighted ? NLSQ_SIGMA_PER_POINT : NLSQ_SIGMA_NONE};
            nlsq_result *res = NULL;
            CHECK(nlsq_curve_fit(m, &d, &o, &res, NULL) == NLSQ_OK);
            if (!res) continue;
            long double k = absolute ? 1 : s2;
            CHECK_NEAR(res->popt[0], (double)a, 1e-12, "a");
            CHECK_NEAR(res->popt[1], (double)b, 1e-12, "b");
            CHECK_NEAR(res->pcov[0], (double)(k * Sxx / D), 1e-10 * (double)(k * Sxx / D), "var a");
            CHECK_NEAR(res->pcov[1], (double)(-k * Sx / D), 1e-10 * fabs((double)(k * Sx / D)), "cov ab");
            CHECK_NEAR(res->pcov[3], (double)(k * S / D), 1e-10 * (double)(k * S / D), "var b");
            CHECK_NEAR(res->chi2, (double)chi2, 1e-10 * (double)chi2, "chi2");
            CHECK_NEAR(res->redchi, (double)s2, 1e-10 * (double)s2, "reduced chi2");
            CHECK(res->dof == M - 2 && res->m == M && res->pcov_valid);
            CHECK_NEAR(res->aic, M * log((double)chi2 / M) + 4, 1e-9, "AIC");
            CHECK_NEAR(res->bic, M * log((double)chi2 / M) + 2 * log(M), 1e-9, "BIC");
            nlsq_result_free(res);
        }
    }
    nlsq_model_free(m);
}

static void make_decay(double *x, double *y, int n, unsigned long long seed)
{
    rng r = {seed};
    for (int i = 0; i < n; i++) {
        x[i] = i * 0.1;
        y[i] = 2.5 * exp(-1.3 * x[i]) + 0.5 + rng_range(&r, -0.02, 0.02);
    }
}

static void test_sigma_kinds_agree(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL);
    if (!m) return;
    enum { M = 30 };
    double x[M], y[M], sg[M], cov[M * M];
    make_decay(x, y, M, 21);
    for (int i = 0; i < M; i++) sg[i] = 0.01 * (1 + i % 4);
    memset(cov, 0, sizeof cov);
    for (int i = 0; i < M; i++) cov[i * M + i] = sg[i] * sg[i];
    nlsq_data per = {x, y, M, sg, NLSQ_SIGMA_PER_POINT}, full = {x, y, M, cov, NLSQ_SIGMA_COVARIANCE};
    nlsq_result *a = NULL, *b = NULL;
    CHECK(nlsq_curve_fit(m, &per, NULL, &a, NULL) == NLSQ_OK);
    CHECK(nlsq_curve_fit(m, &full, NULL, &b, NULL) == NLSQ_OK);
    for (int j = 0; a && b && j < 3; j++) {
        CHECK_NEAR(b->popt[j], a->popt[j], 1e-10 * fabs(a->popt[j]), "diagonal covariance = per point, p%d", j);
        CHECK_NEAR(b->perr[j], a->perr[j], 1e-7 * a->perr[j], "perr%d", j);
    }
    nlsq_result_free(a);
    nlsq_result_free(b);
    /* a scalar sigma changes nothing unless absolute_sigma */
    double s = 0.02;
    nlsq_data sc = {x, y, M, &s, NLSQ_SIGMA_SCALAR}, none = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    CHECK(nlsq_curve_fit(m, &sc, NULL, &a, NULL) == NLSQ_OK);
    CHECK(nlsq_curve_fit(m, &none, NULL, &b, NULL) == NLSQ_OK);
    for (int j = 0; a && b && j < 3; j++) {
        CHECK_NEAR(a->popt[j], b->popt[j], 1e-12 * fabs(b->popt[j]), "scalar sigma popt%d", j);
        CHECK_NEAR(a->perr[j], b->perr[j], 1e-9 * b->perr[j], "scalar sigma perr%d", j);
    }
    nlsq_result_free(a);
    nlsq_options o = nlsq_options_default();
    o.absolute_sigma = 1;
    CHECK(nlsq_curve_fit(m, &sc, &o, &a, NULL) == NLSQ_OK);
    for (int j = 0; a && b && j < 3; j++) /* pcov_abs = pcov_rel * s^2 / redchi_unweighted */
        CHECK_NEAR(a->pcov[j * 4], b->pcov[j * 4] / b->redchi * s * s, 1e-9 * a->pcov[j * 4], "absolute sigma %d", j);
    nlsq_result_free(a);
    nlsq_result_free(b);
    nlsq_model_free(m);
}

static void test_fixed_parameters_keep_their_value(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL);
    if (!m) return;
    enum { M = 40 };
    double x[M], y[M], p0[3] = {2, 1, 0.5};
    unsigned char fixed[3] = {0, 0, 1};
    make_decay(x, y, M, 8);
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.fixed = fixed;
    nlsq_result *r = fit(m, x, y, M, &o, NLSQ_OK);
    if (r) {
        CHECK_SAME(r->popt[2], 0.5, "fixed c");
        CHECK(r->n_free == 2 && r->dof == M - 2);
        CHECK_SAME(r->pcov[2 * 3 + 2], 0.0, "pcov of a fixed parameter");
        CHECK_SAME(r->pcov[0 * 3 + 2], 0.0, "pcov row of a fixed parameter");
        CHECK(fabs(r->popt[0] - 2.5) < 0.05 && fabs(r->popt[1] - 1.3) < 0.05);
    }
    nlsq_result_free(r);
    /* the same as fitting the model with c written as the constant */
    nlsq_model *m2 = parse("a*exp(-b*x) + 0.5", NULL);
    nlsq_options o2 = nlsq_options_default();
    o2.p0 = p0;
    nlsq_result *r2 = m2 ? fit(m2, x, y, M, &o2, NLSQ_OK) : NULL;
    r = fit(m, x, y, M, &o, NLSQ_OK);
    if (r && r2)
        for (int j = 0; j < 2; j++) CHECK_NEAR(r->popt[j], r2->popt[j], 1e-12, "fixed = constant p%d", j);
    nlsq_result_free(r);
    nlsq_result_free(r2);
    nlsq_model_free(m2);
    nlsq_model_free(m);
}

static void test_robust_loss_resists_an_outlier(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL);
    if (!m) return;
    enum { M = 40 };
    double x[M], y[M];
    make_decay(x, y, M, 13);
    y[10] += 3; /* one gross outlier */
    double err_linear = 0;
    for (int loss = NLSQ_LOSS_LINEAR; loss <= NLSQ_LOSS_ARCTAN; loss++) {
        nlsq_options o = nlsq_options_default();
        o.loss = (nlsq_loss)loss;
        o.f_scale = 0.1;
        nlsq_result *r = fit(m, x, y, M, &o, NLSQ_OK);
        if (!r) continue;
        double e = fabs(r->popt[0] - 2.5) + fabs(r->popt[1] - 1.3) + fabs(r->popt[2] - 0.5);
        if (loss == NLSQ_LOSS_LINEAR)
            err_linear = e;
        else
            CHECK_MSG(e < 0.5 * err_linear, "loss %d: parameter error %g, linear %g", loss, e, err_linear);
        CHECK(r->success && r->method == NLSQ_TRF);
        nlsq_result_free(r);
    }
    nlsq_model_free(m);
}

static void test_bounds_are_respected_and_reported_active(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL);
    if (!m) return;
    enum { M = 40 };
    double x[M], y[M], lo[3] = {-INFINITY, -INFINITY, 0.7}, hi[3] = {INFINITY, 1.0, INFINITY};
    make_decay(x, y, M, 17);
    double p0[3] = {2, 0.8, 0.8};
    for (int method = NLSQ_TRF; method <= NLSQ_DOGBOX; method += NLSQ_DOGBOX - NLSQ_TRF) {
        nlsq_options o = nlsq_options_default();
        o.lower = lo;
        o.upper = hi;
        o.p0 = p0;
        o.method = (nlsq_method)method;
        nlsq_result *r = fit(m, x, y, M, &o, NLSQ_OK);
        if (r) {
            CHECK_MSG(r->success, "method %d: %s", method, r->message);
            CHECK(r->popt[1] <= 1.0 && r->popt[2] >= 0.7);
            CHECK_NEAR(r->popt[1], 1.0, 1e-6, "b at its upper bound (method %d)", method);
            CHECK_NEAR(r->popt[2], 0.7, 1e-6, "c at its lower bound (method %d)", method);
            CHECK(r->active_mask[0] == 0 && r->active_mask[1] == 1 && r->active_mask[2] == -1);
        }
        nlsq_result_free(r);
    }
    nlsq_model_free(m);
}

static void test_nan_policy_omit_equals_dropping_the_point(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL);
    if (!m) return;
    enum { M = 30 };
    double x[M], y[M], xs[M - 2], ys[M - 2];
    make_decay(x, y, M, 4);
    y[5] = NAN;
    x[20] = INFINITY;
    for (int i = 0, k = 0; i < M; i++)
        if (i != 5 && i != 20) {
            xs[k] = x[i];
            ys[k++] = y[i];
        }
    nlsq_options o = nlsq_options_default();
    o.nan_policy = NLSQ_NAN_OMIT;
    o.keep_residuals = 1;
    nlsq_result *a = fit(m, x, y, M, &o, NLSQ_OK);
    nlsq_result *b = fit(m, xs, ys, M - 2, NULL, NLSQ_OK);
    if (a && b) {
        CHECK(a->m == M - 2);
        /* not to the bit: sums over a block run in four lanes, and dropping
           a point moves the later ones to other lanes */
        for (int j = 0; j < 3; j++) CHECK_NEAR(a->popt[j], b->popt[j], 1e-10 * fabs(b->popt[j]), "omit p%d", j);
        CHECK(isnan(a->residuals[5]) && isnan(a->residuals[20]) && isfinite(a->residuals[6]));
    }
    nlsq_result_free(a);
    nlsq_result_free(b);
    nlsq_model_free(m);
}

static int stop_after_two(void *user, int it, double cost, const double *p, double g, double s)
{
    (void)cost, (void)p, (void)g, (void)s;
    ++*(int *)user;
    return it >= 2;
}

static void test_callback_sees_iterations_and_can_stop(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL);
    if (!m) return;
    enum { M = 30 };
    double x[M], y[M], p0[3] = {1, 3, 0};
    make_decay(x, y, M, 2);
    for (int method = NLSQ_TRF; method <= NLSQ_DOGBOX; method++) {
        int calls = 0;
        nlsq_options o = nlsq_options_default();
        o.method = (nlsq_method)method;
        o.p0 = p0;
        o.callback = stop_after_two;
        o.callback_data = &calls;
        nlsq_result *r = fit(m, x, y, M, &o, NLSQ_OK);
        if (r)
            CHECK_MSG(r->status == -2 && !r->success && calls == 2, "method %d: status %d calls %d", method, r->status,
                      calls);
        nlsq_result_free(r);
    }
    nlsq_model_free(m);
}

/* Identical columns: trf gives SciPy's pseudo-inverse (finite); an
   exactly zero column gives lm no covariance at all. */
static void test_rank_deficient_covariance(void)
{
    enum { M = 20 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = i + 1;
        y[i] = 3 * x[i] + 0.01 * (i % 3);
    }
    nlsq_model *m = parse("a*x + b*x", NULL);
    nlsq_result *r = m ? fit(m, x, y, M, NULL, NLSQ_OK) : NULL;
    if (r) {
        CHECK(r->pcov_valid && isfinite(r->pcov[0]));
        CHECK_NEAR(r->pcov[0], r->pcov[1], 1e-6 * r->pcov[0], "pseudo-inverse is rank one");
        CHECK_NEAR(r->popt[0] + r->popt[1], 3.0, 1e-3, "a + b");
    }
    nlsq_result_free(r);
    nlsq_model_free(m);
    m = parse("a*x + 0*b*x", NULL);
    nlsq_options o = nlsq_options_default();
    o.method = NLSQ_LM;
    r = m ? fit(m, x, y, M, &o, NLSQ_OK) : NULL;
    if (r) {
        CHECK(!r->pcov_valid && isinf(r->pcov[0]) && isinf(r->perr[1]));
        CHECK_NEAR(r->popt[0], 3.0, 1e-3, "a");
    }
    nlsq_result_free(r);
    nlsq_model_free(m);
}

static void test_bad_input_is_a_clear_error(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL);
    if (!m) return;
    enum { M = 10 };
    double x[M], y[M], sg[M], p0[3] = {1, 1, 1}, lo[3] = {0, 0, 0}, hi[3] = {2, 0.5, 2};
    make_decay(x, y, M, 1);
    for (int i = 0; i < M; i++) sg[i] = 0.1;
    nlsq_result *r = (nlsq_result *)1;
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    struct {
        const char *what, *mention;
        nlsq_status want;
    } cases[] = {
        {"p0 outside bounds", "outside", NLSQ_ERR_BOUNDS},
        {"lb >= ub", "lower must be below", NLSQ_ERR_BOUNDS},
        {"bounds with lm", "does not take bounds", NLSQ_ERR_BOUNDS},
        {"fewer points than parameters for lm", "at least as many points", NLSQ_ERR_DATA},
        {"sigma <= 0", "sigma must be positive", NLSQ_ERR_DATA},
        {"covariance sigma not positive definite", "not positive definite", NLSQ_ERR_DATA},
        {"NaN in y with raise", "y[3]", NLSQ_ERR_DATA},
        {"model NaN at p0", "NaN or Inf at the start", NLSQ_ERR_MODEL_NONFINITE},
        {"unknown method", "unknown method", NLSQ_ERR_INVALID_ARGUMENT},
        {"robust loss with lm", "linear loss", NLSQ_ERR_INVALID_ARGUMENT},
        {"everything fixed", "every parameter is fixed", NLSQ_ERR_INVALID_ARGUMENT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nlsq_options oo = o;
        nlsq_data dd = d;
        double yy[M], cov[M * M];
        unsigned char all[3] = {1, 1, 1};
        nlsq_model *mm = m;
        memcpy(yy, y, sizeof yy);
        dd.y = yy;
        switch (k) {
        case 0:
            oo.p0 = p0;
            oo.lower = lo;
            oo.upper = hi;
            break;
        case 1:
            oo.lower = hi;
            oo.upper = lo;
            break;
        case 2:
            oo.method = NLSQ_LM;
            oo.lower = lo;
            oo.upper = hi;
            oo.p0 = NULL;
            break;
        case 3:
            oo.method = NLSQ_LM;
            dd.m = 2;
            break;
        case 4:
            sg[4] = 0;
            dd.sigma = sg;
            dd.sigma_kind = NLSQ_SIGMA_PER_POINT;
            break;
        case 5:
            for (int i = 0; i < M * M; i++) cov[i] = 1; /* rank one */
            dd.sigma = cov;
            dd.sigma_kind = NLSQ_SIGMA_COVARIANCE;
            break;
        case 6: yy[3] = NAN; break;
        case 7: mm = parse("a*log(x - 5) + b + c", NULL); break;
        case 8: oo.method = (nlsq_method)42; break;
        case 9:
            oo.method = NLSQ_LM;
            oo.loss = NLSQ_LOSS_HUBER;
            break;
        case 10: oo.fixed = all; break;
        }
        r = (nlsq_result *)1;
        nlsq_status st = nlsq_curve_fit(mm, &dd, &oo, &r, &e);
        CHECK_MSG(st == cases[k].want && r == NULL, "%s: status %s, want %s (%s)", cases[k].what, nlsq_status_str(st),
                  nlsq_status_str(cases[k].want), e.message);
        CHECK_MSG(strstr(e.message, cases[k].mention) != NULL, "%s: message \"%s\" lacks \"%s\"", cases[k].what,
                  e.message, cases[k].mention);
        sg[4] = 0.1;
        if (mm != m) nlsq_model_free(mm);
    }
    CHECK(nlsq_curve_fit(NULL, &d, &o, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_curve_fit(m, NULL, &o, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_curve_fit(m, &d, &o, NULL, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    nlsq_result_free(NULL);
    nlsq_model_free(m);
}

static void test_default_p0_follows_scipy(void)
{
    nlsq_model *m = parse("a + b*x + c*x^2 + d*x^3", NULL);
    if (!m) return;
    enum { M = 10 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = i;
        y[i] = 1 + 2 * x[i];
    }
    /* max_nfev = 1: the result is the start point itself */
    double lo[4] = {-INFINITY, 0, -5, -INFINITY}, hi[4] = {INFINITY, 4, INFINITY, 7};
    nlsq_options o = nlsq_options_default();
    o.lower = lo;
    o.upper = hi;
    o.max_nfev = 1;
    nlsq_result *r = fit(m, x, y, M, &o, NLSQ_OK);
    if (r) {
        CHECK_SAME(r->popt[0], 1.0, "unbounded: 1");
        CHECK_SAME(r->popt[1], 2.0, "two finite bounds: midpoint");
        CHECK_SAME(r->popt[2], -4.0, "lower only: lb + 1");
        CHECK_SAME(r->popt[3], 6.0, "upper only: ub - 1");
        CHECK(r->status == 0 && r->nfev == 1);
    }
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* Chunks depend on m alone and merge in a fixed tree: the same bits on any
   number of threads. */
static void test_results_are_bitwise_identical_for_any_thread_count(void)
{
    nlsq_model *m = parse("a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + c", NULL);
    if (!m) return;
    enum { M = 1000000 };
    double *x = malloc(M * sizeof *x), *y = malloc(M * sizeof *y);
    rng r = {77};
    for (int i = 0; i < M; i++) {
        x[i] = -3 + 6.0 * i / M;
        y[i] = 1.0 * exp(-(x[i] + 1) * (x[i] + 1) / 0.5) + 2 * exp(-(x[i] - 0.5) * (x[i] - 0.5) / 0.18) + 0.1 +
               rng_range(&r, -0.01, 0.01);
    }
    double p0[7] = {1.2, -0.9, 0.6, 1.8, 0.55, 0.35, 0.0};
    int counts[4] = {1, 2, 3, 8};
    nlsq_result *ref = NULL;
    for (int k = 0; k < 4; k++) {
        nlsq_options o = nlsq_options_default();
        o.p0 = p0;
        o.threads = counts[k];
        nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
        nlsq_result *res = NULL;
        CHECK(nlsq_curve_fit(m, &d, &o, &res, NULL) == NLSQ_OK);
        if (!res) continue;
        CHECK_MSG(res->threads == counts[k], "asked for %d threads, ran on %d", counts[k], res->threads);
        CHECK(res->success);
        if (!ref) {
            ref = res;
            continue;
        }
        CHECK_MSG(memcmp(res->popt, ref->popt, 7 * sizeof(double)) == 0, "popt differs on %d threads", counts[k]);
        CHECK_MSG(memcmp(res->pcov, ref->pcov, 49 * sizeof(double)) == 0, "pcov differs on %d threads", counts[k]);
        CHECK(res->nfev == ref->nfev && memcmp(&res->cost, &ref->cost, sizeof(double)) == 0);
        nlsq_result_free(res);
    }
    if (ref) CHECK_NEAR(ref->popt[3], 2.0, 1e-3, "a2");
    nlsq_result_free(ref);
    free(x);
    free(y);
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_pass_r_aug_equals_independent_qr_of_full_matrix),
        TEST(test_jacobi_svd_reconstructs_and_orders),
        TEST(test_cholesky_and_triangular_solves),
        TEST(test_pivoted_qr_factors_a_permuted),
        TEST(test_rosenbrock_from_the_classic_start),
        TEST(test_straight_line_matches_closed_form),
        TEST(test_sigma_kinds_agree),
        TEST(test_fixed_parameters_keep_their_value),
        TEST(test_robust_loss_resists_an_outlier),
        TEST(test_bounds_are_respected_and_reported_active),
        TEST(test_nan_policy_omit_equals_dropping_the_point),
        TEST(test_callback_sees_iterations_and_can_stop),
        TEST(test_rank_deficient_covariance),
        TEST(test_bad_input_is_a_clear_error),
        TEST(test_default_p0_follows_scipy),
        TEST(test_results_are_bitwise_identical_for_any_thread_count),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
