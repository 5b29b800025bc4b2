/*
 * The global search: the designs (Sobol' values, Latin-hypercube strata,
 * discrepancy), the shared pass (K vectors = K single passes, bitwise),
 * and nlsq_fit_global on multimodal problems: a sine's frequency, three
 * overlapping peaks from a far start, the hard NIST problems from start
 * 1, determinism across thread counts, successive halving, and the
 * distinct minima of a bimodal problem.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model_helper.h"
#include "exec/exec.h"
#include "nist_cases.h"
#include "nist_read.h"
#include "nlsq.h"

/* ---- designs ---------------------------------------------------------------- */

static void test_sobol_first_points(void)
{
    /* the plain sequence (seed 0): dimension 1 is van der Corput, 2 and 3
       from x+1 and x^2+x+1 (SciPy's Sobol(scramble=False) gives the same) */
    static const double want[8][3] = {{0, 0, 0},
                                      {0.5, 0.5, 0.5},
                                      {0.75, 0.25, 0.25},
                                      {0.25, 0.75, 0.75},
                                      {0.375, 0.375, 0.625},
                                      {0.875, 0.875, 0.125},
                                      {0.625, 0.125, 0.875},
                                      {0.125, 0.625, 0.375}};
    double got[8 * 21];
    nlsq_error e;
    CHECK(nlsq_design_fill(NLSQ_DESIGN_SOBOL, 21, 8, 0, got, &e) == NLSQ_OK);
    double g3[8 * 3];
    CHECK(nlsq_design_fill(NLSQ_DESIGN_SOBOL, 3, 8, 0, g3, &e) == NLSQ_OK);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 3; k++) {
            CHECK_SAME(g3[i * 3 + k], want[i][k], "sobol point %d dim %d", i, k);
            CHECK_SAME(got[i * 21 + k], want[i][k], "sobol (21 dims) point %d dim %d", i, k);
        }
    /* every dimension of the first 2^k points is stratified: one point in
       each interval [j/2^k, (j+1)/2^k), plain and shifted */
    enum { N = 1024, D = 21 };
    double *x = malloc(N * D * sizeof *x);
    for (int seed = 0; seed < 2; seed++) {
        CHECK(nlsq_design_fill(NLSQ_DESIGN_SOBOL, D, N, (uint64_t)seed * 7, x, &e) == NLSQ_OK);
        for (int k = 0; k < D; k++) {
            int seen[N] = {0}, dup = 0;
            for (int i = 0; i < N; i++) dup += seen[(int)(x[i * D + k] * N)]++ != 0;
            CHECK_MSG(dup == 0, "sobol seed %d dim %d: %d strata hit twice", seed, k, dup);
        }
        /* and pairs of dimensions: 32 x 32 cells, one point each (a (0,m,2)-net
           holds for dimensions 1 and 2) */
        int cell[32 * 32] = {0}, dup = 0;
        for (int i = 0; i < N; i++) dup += cell[(int)(x[i * D] * 32) * 32 + (int)(x[i * D + 1] * 32)]++ != 0;
        CHECK_MSG(dup == 0, "sobol seed %d: dims 1,2 not a net (%d cells twice)", seed, dup);
    }
    CHECK(nlsq_design_fill(NLSQ_DESIGN_SOBOL, 22, 8, 0, got, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "21") != NULL);
    free(x);
}

static void test_lhs_strata_and_halton(void)
{
    enum { N = 97, D = 5 };
    double x[N * D];
    nlsq_error e;
    CHECK(nlsq_design_fill(NLSQ_DESIGN_LHS, D, N, 3, x, &e) == NLSQ_OK);
    for (int k = 0; k < D; k++) {
        int seen[N] = {0}, dup = 0;
        for (int i = 0; i < N; i++) {
            CHECK(x[i * D + k] >= 0 && x[i * D + k] < 1);
            dup += seen[(int)(x[i * D + k] * N)]++ != 0;
        }
        CHECK_MSG(dup == 0, "lhs dim %d: %d strata twice", k, dup);
    }
    double y[N * D];
    CHECK(nlsq_design_fill(NLSQ_DESIGN_LHS, D, N, 3, y, &e) == NLSQ_OK);
    CHECK(memcmp(x, y, sizeof x) == 0); /* the seed alone */
    CHECK(nlsq_design_fill(NLSQ_DESIGN_LHS, D, N, 4, y, &e) == NLSQ_OK);
    CHECK(memcmp(x, y, sizeof x) != 0);
    /* Halton plain: base 2 then 3 from index 1 */
    double h[4 * 2];
    CHECK(nlsq_design_fill(NLSQ_DESIGN_HALTON, 2, 4, 0, h, &e) == NLSQ_OK);
    static const double hw[8] = {0.5, 1.0 / 3, 0.25, 2.0 / 3, 0.75, 1.0 / 9, 0.125, 4.0 / 9};
    for (int i = 0; i < 8; i++) CHECK_NEAR(h[i], hw[i], 1e-15, "halton value %d", i);
}

/* The L2-star discrepancy (Warnock's formula), for comparing designs. */
static double l2_star(const double *x, int n, int d)
{
    double a = 0, b = 0;
    for (int i = 0; i < n; i++) {
        double p = 1;
        for (int k = 0; k < d; k++) p *= 1 - x[i * d + k] * x[i * d + k];
        a += p;
        for (int j = 0; j < n; j++) {
            double q = 1;
            for (int k = 0; k < d; k++) q *= 1 - fmax(x[i * d + k], x[j * d + k]);
            b += q;
        }
    }
    return sqrt(pow(3, -d) - pow(2, 1 - d) / n * a + b / ((double)n * n));
}

static void test_discrepancy_beats_random(void)
{
    enum { N = 256, D = 4 };
    static double x[N * D], r[N * D];
    rng g = {12345};
    double rand_mean = 0;
    for (int t = 0; t < 5; t++) {
        for (int i = 0; i < N * D; i++) r[i] = rng_uniform(&g);
        rand_mean += l2_star(r, N, D) / 5;
    }
    nlsq_design kinds[3] = {NLSQ_DESIGN_SOBOL, NLSQ_DESIGN_HALTON, NLSQ_DESIGN_LHS};
    for (int t = 0; t < 3; t++) {
        nlsq_error e;
        CHECK(nlsq_design_fill(kinds[t], D, N, 5, x, &e) == NLSQ_OK);
        double dsc = l2_star(x, N, D);
        printf("    %-6s L2* discrepancy %.5f (random %.5f)\n", nlsq_design_name(kinds[t]), dsc, rand_mean);
        CHECK_MSG(dsc < (kinds[t] == NLSQ_DESIGN_LHS ? 1.0 : 0.5) * rand_mean, "%s: %.5f not below random's %.5f",
                  nlsq_design_name(kinds[t]), dsc, rand_mean);
    }
}

/* ---- the shared pass ---------------------------------------------------------- */

static void test_pass_many_equals_single_passes(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c*sin(w*x)", "a,b,c,w");
    size_t M = 70000;
    double *x = malloc(2 * M * sizeof *x), *y = x + M;
    for (size_t i = 0; i < M; i++) {
        x[i] = 10.0 * (double)i / (double)M;
        y[i] = 2 * exp(-0.3 * x[i]) + 0.5 * sin(1.7 * x[i]) + 0.01 * sin(97.0 * (double)i);
    }
    enum { K = 5 };
    double P[K * 4];
    for (int k = 0; k < K; k++) {
        P[k * 4] = 1 + k;
        P[k * 4 + 1] = 0.1 * (k + 1);
        P[k * 4 + 2] = 0.3;
        P[k * 4 + 3] = 1 + 0.2 * k;
    }
    int cols[4] = {0, 1, 2, 3};
    const program *prog = &m->prog;
    double R1[25], cost1;
    /* 70000 points: five chunks; 3000: one, the vectors then split
       among the threads */
    for (int run = 0; run < 4; run++) {
        int threads = run % 2 ? 3 : 1;
        size_t mm = run < 2 ? M : 3000;
        pass_arrays pa = {x, mm, y, NULL};
        pass_data pd = pass_data_arrays(&pa, mm, 1, 0);
        pool *pl = threads > 1 ? pool_new(threads) : NULL;
        pass ps;
        CHECK(pass_init(&ps, prog, vmath_select(), cols, 4, NLSQ_LOSS_LINEAR, 1, pl) == 0);
        double cost[K], chi2[K], R[K * 25];
        size_t bad[K];
        pass_many pm = {K, P, 4, 0, cost, chi2, R, bad, 0, 0};
        pass_run_many(&ps, &pd, &pm);
        for (int k = 0; k < K; k++) {
            pass_out out = {.R = R1};
            pass_run(&ps, &pd, P + k * 4, &out);
            cost1 = out.cost;
            CHECK_MSG(memcmp(R1, R + k * 25, sizeof R1) == 0, "threads %d vector %d: R differs", threads, k);
            CHECK_SAME(cost[k], cost1, "threads %d vector %d: cost", threads, k);
            CHECK(bad[k] == 0);
        }
        /* cost only: the same costs */
        double c2[K], x2[K];
        pass_many po = {K, P, 4, 1, c2, x2, NULL, bad, 0, 0};
        pass_run_many(&ps, &pd, &po);
        for (int k = 0; k < K; k++) CHECK_SAME(c2[k], cost[k], "cost-only vector %d", k);
        pass_free(&ps);
        pool_free(pl);
    }
    free(x);
    nlsq_model_free(m);
}

/* ---- the search ----------------------------------------------------------------- */

static nlsq_result *fit_global(const nlsq_model *m, const nlsq_data *d, const nlsq_options *o,
                               const nlsq_global_options *g)
{
    nlsq_result *r = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_fit_global(m, d, o, g, &r, &e);
    CHECK_MSG(st == NLSQ_OK, "nlsq_fit_global: %s", e.message);
    return r;
}

static void test_sine_frequency(void)
{
    nlsq_model *m = parse("A*sin(w*x + ph)", "A,w,ph");
    enum { M = 400 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 20.0 * i / M;
        y[i] = 1.3 * sin(2.7 * x[i] + 0.4) + 0.02 * sin(31.0 * i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double p0[3] = {1, 1, 0};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *local = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &d, &o, &local, &e) == NLSQ_OK);
    double lo[3] = {0, 0.1, -3.2}, hi[3] = {3, 5, 3.2};
    nlsq_options ob = o;
    ob.lower = lo;
    ob.upper = hi;
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 32;
    nlsq_result *r = fit_global(m, &d, &ob, &g);
    if (!r) goto done;
    printf("    local from w=1: w = %.6f cost %.4g;  global: w = %.6f cost %.4g, %d of %d at best, %d minima\n",
           local->popt[1], local->cost, r->popt[1], r->cost, r->global->at_best, r->global->starts,
           r->global->n_minima);
    CHECK_MSG(fabs(local->popt[1] - 2.7) > 0.05, "the local fit found the frequency: not a test of the search");
    CHECK_NEAR(r->popt[1], 2.7, 1e-3, "frequency");
    CHECK_NEAR(r->popt[0], 1.3, 1e-2, "amplitude");
    CHECK(r->global->starts == 32 && r->global->at_best >= 1 && r->global->n_minima >= 2);
    CHECK_NEAR(r->global->minima_cost[0], r->cost, 1e-6 * r->cost, "best minimum = the refined cost");
    nlsq_result_free(r);
done:
    nlsq_result_free(local);
    nlsq_model_free(m);
}

static void test_three_peaks_far_start(void)
{
    nlsq_model *m = parse("a1*exp(-0.5*((x-m1)/s1)^2) + a2*exp(-0.5*((x-m2)/s2)^2) + a3*exp(-0.5*((x-m3)/s3)^2)",
                          "a1,m1,s1,a2,m2,s2,a3,m3,s3");
    enum { M = 600 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 10.0 * i / M;
        double t1 = (x[i] - 3.5) / 0.6, t2 = (x[i] - 4.6) / 0.5, t3 = (x[i] - 6.0) / 0.8;
        y[i] = 5 * exp(-0.5 * t1 * t1) + 3 * exp(-0.5 * t2 * t2) + 4 * exp(-0.5 * t3 * t3) + 0.01 * sin(7.0 * i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double p0[9] = {1, 8, 1, 1, 8.5, 1, 1, 9, 1}; /* all three far off, right of the data's peaks */
    double lo[9] = {0, 0, 0.05, 0, 0, 0.05, 0, 0, 0.05}, hi[9] = {10, 10, 3, 10, 10, 3, 10, 10, 3};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.lower = lo;
    o.upper = hi;
    nlsq_result *local = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &d, &o, &local, &e) == NLSQ_OK);
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 64;
    nlsq_result *r = fit_global(m, &d, &o, &g);
    if (!r) goto done;
    /* the true minimum, up to the order of the peaks */
    double centres[3] = {r->popt[1], r->popt[4], r->popt[7]};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (centres[j] < centres[i]) {
                double t = centres[i];
                centres[i] = centres[j];
                centres[j] = t;
            }
    printf("    local cost %.4g; global cost %.4g, centres %.4f %.4f %.4f, %d of %d at best, %d minima\n", local->cost,
           r->cost, centres[0], centres[1], centres[2], r->global->at_best, r->global->starts, r->global->n_minima);
    CHECK_MSG(local->cost > 10 * r->cost, "the far local fit reached the minimum: not a test of the search");
    CHECK_NEAR(centres[0], 3.5, 2e-3, "centre 1");
    CHECK_NEAR(centres[1], 4.6, 2e-3, "centre 2");
    CHECK_NEAR(centres[2], 6.0, 2e-3, "centre 3");
    CHECK(r->cost < 0.5 * 0.01 * 0.01 * M);
    nlsq_result_free(r);
done:
    nlsq_result_free(local);
    nlsq_model_free(m);
}

static double lre(double got, double want)
{
    if (!isfinite(got)) return 0;
    if (got == want) return 11;
    double e = want != 0 ? -log10(fabs(got - want) / fabs(want)) : -log10(fabs(got));
    return e > 11 ? 11 : e < 0 ? 0 : e;
}

static void test_nist_hard_from_start_1(void)
{
    if (!find_data_dir()) {
        test_skip("NIST data not found (looked in ../shared/data/nist and $NLSQ_TESTDATA/nist)");
        return;
    }
    static const char *hard[] = {"MGH09", "MGH10", "Eckerle4", "BoxBOD", "Rat42", "Thurber", "Bennett5"};
    for (size_t h = 0; h < sizeof hard / sizeof hard[0]; h++) {
        const nist_case *c = NULL;
        for (size_t i = 0; i < NIST_CASE_COUNT; i++)
            if (strcmp(NIST_CASES[i].name, hard[h]) == 0) c = &NIST_CASES[i];
        if (!c) continue; /* not among the data */
        nist_data d;
        if (!read_nist(c->name, 1, &d)) {
            CHECK_MSG(0, "%s: cannot read it", c->name);
            continue;
        }
        char params[64] = "";
        for (int j = 1; j <= d.p; j++)
            snprintf(params + strlen(params), sizeof params - strlen(params), "%sb%d", j > 1 ? "," : "", j);
        nlsq_model *m = parse(c->model, params);
        nlsq_options o = nlsq_options_default();
        o.p0 = d.start[0];
        nlsq_data data = {d.x, d.y, d.m, NULL, NLSQ_SIGMA_NONE};
        nlsq_global_options g = nlsq_global_options_default();
        g.starts = 32;
        nlsq_result *r = m ? fit_global(m, &data, &o, &g) : NULL;
        if (r) {
            double min_p = 11;
            for (int j = 0; j < d.p; j++) min_p = fmin(min_p, lre(r->popt[j], d.cert[j]));
            printf("    %-9s start 1: LRE %5.2f, %2d of %d starts at best, %2d minima, %4d shared passes\n", c->name,
                   min_p, r->global->at_best, r->global->starts, r->global->n_minima, r->global->shared_passes);
            CHECK_MSG(min_p >= 6, "%s: LRE %.2f < 6", c->name, min_p);
            nlsq_result_free(r);
        }
        nlsq_model_free(m);
        free(d.x);
        free(d.y);
    }
}

static void test_threads_bitwise(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c*sin(w*x)", "a,b,c,w");
    size_t M = 50000;
    double *x = malloc(2 * M * sizeof *x), *y = x + M;
    for (size_t i = 0; i < M; i++) {
        x[i] = 10.0 * (double)i / (double)M;
        y[i] = 2 * exp(-0.3 * x[i]) + 0.5 * sin(1.7 * x[i]) + 0.01 * sin(97.0 * (double)i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double lo[4] = {0, 0, 0, 0.5}, hi[4] = {5, 2, 2, 3};
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 16;
    g.halving = 0;
    double popt[3][4], costs[3][16];
    int nmin[3];
    for (int t = 0; t < 3; t++) {
        nlsq_options o = nlsq_options_default();
        o.lower = lo;
        o.upper = hi;
        o.threads = t == 0 ? 1 : 2 * t;
        nlsq_result *r = fit_global(m, &d, &o, &g);
        if (!r) break;
        memcpy(popt[t], r->popt, sizeof popt[t]);
        nmin[t] = r->global->n_minima;
        memcpy(costs[t], r->global->minima_cost, (size_t)nmin[t] * sizeof(double));
        if (t == 0) printf("    w = %.6f, %d of 16 at best, %d minima\n", r->popt[3], r->global->at_best, nmin[t]);
        CHECK_NEAR(r->popt[3], 1.7, 1e-3, "w on %d threads", o.threads);
        nlsq_result_free(r);
        if (t > 0) {
            CHECK_MSG(memcmp(popt[t], popt[0], sizeof popt[0]) == 0, "popt on %d threads differs from 1 thread", 2 * t);
            CHECK(nmin[t] == nmin[0]);
            CHECK(memcmp(costs[t], costs[0], (size_t)nmin[0] * sizeof(double)) == 0);
        }
    }
    free(x);
    nlsq_model_free(m);
}

static void test_halving_same_minimum(void)
{
    nlsq_model *m = parse("A*exp(-0.5*((x-mu)/s)^2) + c", "A,mu,s,c");
    size_t M = 100000;
    double *x = malloc(2 * M * sizeof *x), *y = x + M;
    for (size_t i = 0; i < M; i++) {
        x[i] = 1000.0 * (double)i / (double)M;
        double t = (x[i] - 532) / 8.5;
        y[i] = 1200 * exp(-0.5 * t * t) + 40 + 3 * sin(0.37 * (double)i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double lo[4] = {0, 0, 0.5, -100}, hi[4] = {3000, 1000, 100, 200};
    nlsq_options o = nlsq_options_default();
    o.lower = lo;
    o.upper = hi;
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 32;
    nlsq_result *r[2];
    for (int h = 0; h < 2; h++) {
        g.halving = h;
        r[h] = fit_global(m, &d, &o, &g);
    }
    /* halving on another thread count: the same bits */
    o.threads = 3;
    nlsq_result *r3 = fit_global(m, &d, &o, &g);
    if (r3 && r[1]) {
        CHECK_MSG(memcmp(r3->popt, r[1]->popt, 4 * sizeof(double)) == 0, "halving: popt on 3 threads differs");
        CHECK_SAME(r3->global->minima_cost[0], r[1]->global->minima_cost[0], "halving: best minimum on 3 threads");
    }
    nlsq_result_free(r3);
    if (r[0] && r[1]) {
        printf("    no halving: cost %.10g, %d passes, %d evaluations;  halving: cost %.10g, %d rungs, first sample "
               "%zu points, %d evaluations\n",
               r[0]->cost, r[0]->global->shared_passes, r[0]->global->evaluations, r[1]->cost, r[1]->global->rungs,
               r[1]->global->sample_points, r[1]->global->evaluations);
        CHECK(r[1]->global->rungs >= 2 && r[1]->global->sample_points < M);
        CHECK_NEAR(r[1]->cost, r[0]->cost, 1e-6 * r[0]->cost, "the same minimum with halving");
        for (int j = 0; j < 4; j++)
            CHECK_NEAR(r[1]->popt[j], r[0]->popt[j], 1e-6 * (fabs(r[0]->popt[j]) + 1), "popt[%d]", j);
        CHECK_NEAR(r[1]->popt[1], 532, 0.01, "mu");
    }
    nlsq_result_free(r[0]);
    nlsq_result_free(r[1]);
    free(x);
    nlsq_model_free(m);
}

static void test_bimodal_minima(void)
{
    /* y = (a x)^2 fits a = +1 and a = -1 equally; b shifts a second,
       worse minimum in: y = (a^2 - 1)^2-like landscapes. The model
       a^2*x + b*x^2 at data y = x + ... has minima at a = +-1. */
    nlsq_model *m = parse("a^2*x + c", "a,c");
    enum { M = 50 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = i / 10.0;
        y[i] = 4 * x[i] + 1 + 0.01 * sin(5.0 * i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double lo[2] = {-5, -5}, hi[2] = {5, 5};
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 16;
    g.search_lower = lo;
    g.search_upper = hi;
    nlsq_result *r = fit_global(m, &d, NULL, &g);
    if (!r) goto done;
    const nlsq_global_summary *s = r->global;
    printf("    %d minima:", s->n_minima);
    for (int i = 0; i < s->n_minima; i++)
        printf("  cost %.6g at a = %.6f (%d starts)", s->minima_cost[i], s->minima_params[i * 2], s->minima_count[i]);
    printf("\n");
    CHECK(s->n_minima == 2);
    if (s->n_minima == 2) {
        CHECK_NEAR(fabs(s->minima_params[0]), 2, 1e-3, "|a| at the first minimum");
        CHECK_NEAR(s->minima_params[2], -s->minima_params[0], 1e-6, "the second minimum is the mirror image");
        CHECK_NEAR(s->minima_cost[1], s->minima_cost[0], 1e-6 * s->minima_cost[0], "equal costs");
        CHECK(s->minima_count[0] + s->minima_count[1] == 16);
        CHECK(s->at_best == 16); /* both are at the best cost */
    }
    CHECK_NEAR(fabs(r->popt[0]), 2, 1e-3, "|a|");
    nlsq_result_free(r);
    /* more starts than one lockstep run takes (256): run in batches */
    g.starts = 300;
    r = fit_global(m, &d, NULL, &g);
    if (r) {
        CHECK(r->global->starts == 300 && r->global->n_minima == 2 && r->global->at_best == 300);
        CHECK(r->global->minima_count[0] + r->global->minima_count[1] == 300);
        nlsq_result_free(r);
    }
done:
    nlsq_model_free(m);
}

/* A sum of library shapes with no p0: the estimate from the data is the
   first start, so the search does at least as well as a fit from it. */
static void test_library_estimate_seeds(void)
{
    nlsq_model *m = parse("gaussian(x) + gaussian(x) + constant(x)", NULL);
    enum { M = 500 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 400 + 300.0 * i / M;
        double t1 = (x[i] - 480) / 6, t2 = (x[i] - 600) / 15;
        y[i] = 900 * exp(-0.5 * t1 * t1) + 300 * exp(-0.5 * t2 * t2) + 40 + 4 * sin(1.3 * i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    int n = nlsq_model_num_params(m);
    double p0[16];
    nlsq_error e;
    CHECK(nlsq_guess_p0(m, &d, NULL, p0, &e) == NLSQ_OK);
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *from_guess = NULL;
    CHECK(nlsq_curve_fit(m, &d, &o, &from_guess, &e) == NLSQ_OK);
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 16;
    nlsq_result *r = fit_global(m, &d, NULL, &g);
    if (r && from_guess) {
        printf("    fit from the estimate: cost %.10g; search (no p0, no bounds): %.10g, %d of 16 at best\n",
               from_guess->cost, r->cost, r->global->at_best);
        CHECK(r->cost <= from_guess->cost * (1 + 1e-9));
        /* the estimate centred the box: the first start was it */
        for (int j = 0; j < n; j++) CHECK(r->global->search_lower[j] <= p0[j] && p0[j] <= r->global->search_upper[j]);
    }
    nlsq_result_free(r);
    nlsq_result_free(from_guess);
    nlsq_model_free(m);
}

/* The other solvers run in lockstep too; rows with NaN are left out. */
static void test_methods_and_omit(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", "a,b,c");
    enum { M = 200 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = i / 20.0;
        y[i] = 3 * exp(-0.7 * x[i]) + 0.5 + 0.01 * sin(13.0 * i);
    }
    y[17] = NAN;
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_method methods[3] = {NLSQ_TRF, NLSQ_LM, NLSQ_DOGBOX};
    double slo[3] = {-5, -2, -5}, shi[3] = {5, 3, 5};
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 24;
    g.search_lower = slo;
    g.search_upper = shi;
    for (int k = 0; k < 3; k++) {
        nlsq_options o = nlsq_options_default();
        o.method = methods[k];
        o.nan_policy = NLSQ_NAN_OMIT;
        nlsq_result *r = fit_global(m, &d, &o, &g);
        if (!r) continue;
        CHECK(r->method == methods[k]);
        CHECK(r->m == M - 1);
        CHECK_NEAR(r->popt[1], 0.7, 2e-3, "b with method %d", (int)methods[k]);
        CHECK(r->global->at_best >= 1);
        nlsq_result_free(r);
    }
    nlsq_model_free(m);
}

/* CMA-ES (global_method cmaes). */
static void test_cmaes(void)
{
    nlsq_model *m = parse("A*sin(w*x + ph)", "A,w,ph");
    enum { M = 400 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 20.0 * i / M;
        y[i] = 1.3 * sin(2.7 * x[i] + 0.4) + 0.02 * sin(31.0 * i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double lo[3] = {0, 0.1, -3.2}, hi[3] = {3, 5, 3.2};
    nlsq_options o = nlsq_options_default();
    o.lower = lo;
    o.upper = hi;
    nlsq_global_options g = nlsq_global_options_default();
    g.method = NLSQ_GLOBAL_CMAES;
    double popt[2][3];
    for (int t = 0; t < 2; t++) {
        o.threads = t + 1;
        nlsq_result *r = fit_global(m, &d, &o, &g);
        if (!r) break;
        printf("    cmaes: w = %.6f, cost %.6g, %d shared passes, %d vectors\n", r->popt[1], r->cost,
               r->global->shared_passes, r->global->evaluations);
        CHECK_NEAR(r->popt[1], 2.7, 1e-3, "frequency by CMA-ES");
        CHECK(r->global->method == NLSQ_GLOBAL_CMAES && r->global->starts == 1 && r->global->n_minima == 1);
        CHECK_SAME(r->global->minima_cost[0], r->cost, "the minimum is the refined fit");
        memcpy(popt[t], r->popt, sizeof popt[t]);
        nlsq_result_free(r);
    }
    CHECK(memcmp(popt[0], popt[1], sizeof popt[0]) == 0);
    nlsq_model_free(m);
}

static int stop_now(void *user, const nlsq_progress *p)
{
    (void)p;
    ++*(int *)user;
    return 1;
}

/* options.progress is called during the search; its stop ends the search
   and the refinement (status -2). */
static void test_progress_stops(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", "a,b,c");
    enum { M = 200 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = i / 20.0;
        y[i] = 3 * exp(-0.7 * x[i]) + 0.5;
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    int calls = 0;
    nlsq_options o = nlsq_options_default();
    o.progress = stop_now;
    o.progress_data = &calls;
    o.progress_interval = 1e-9;
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 300; /* two batches: the second is not run */
    nlsq_result *r = fit_global(m, &d, &o, &g);
    if (r) {
        CHECK(calls >= 1);
        CHECK(r->status == NLSQ_FIT_STOPPED);
        CHECK_MSG(r->global->shared_passes <= 20, "%d shared passes after a stop", r->global->shared_passes);
        CHECK(r->global->starts == 300 && r->global->n_minima <= 256);
        nlsq_result_free(r);
    }
    nlsq_model_free(m);
}

static void test_bad_input(void)
{
    nlsq_model *m = parse("a*x + b", "a,b");
    double x[3] = {1, 2, 3}, y[3] = {1, 2, 3};
    nlsq_data d = {x, y, 3, NULL, NLSQ_SIGMA_NONE};
    nlsq_global_options g = nlsq_global_options_default();
    nlsq_result *r = NULL;
    nlsq_error e;
    g.starts = 0;
    CHECK(nlsq_fit_global(m, &d, NULL, &g, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && r == NULL);
    CHECK(strstr(e.message, "starts") != NULL);
    g = nlsq_global_options_default();
    double slo[2] = {1, NAN}, shi[2] = {1, NAN};
    g.search_lower = slo;
    g.search_upper = shi;
    CHECK(nlsq_fit_global(m, &d, NULL, &g, &r, &e) == NLSQ_ERR_BOUNDS);
    CHECK(strstr(e.message, "'a'") != NULL);
    g = nlsq_global_options_default();
    g.method = NLSQ_GLOBAL_CMAES;
    y[1] = NAN;
    g = nlsq_global_options_default();
    CHECK(nlsq_fit_global(m, &d, NULL, &g, &r, &e) == NLSQ_ERR_DATA);
    CHECK(strstr(e.message, "row 2") != NULL);
    CHECK(nlsq_fit_global(NULL, &d, NULL, &g, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    y[1] = 2;
    nlsq_options o = nlsq_options_default();
    o.checkpoint = "/tmp/nlsq_global_never_written";
    CHECK(nlsq_fit_global(m, &d, &o, &g, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "checkpoint") != NULL);
    double sg[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    nlsq_data dc = {x, y, 3, sg, NLSQ_SIGMA_COVARIANCE};
    CHECK(nlsq_fit_global(m, &dc, NULL, &g, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "covariance") != NULL);
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_sobol_first_points),
        TEST(test_lhs_strata_and_halton),
        TEST(test_discrepancy_beats_random),
        TEST(test_pass_many_equals_single_passes),
        TEST(test_sine_frequency),
        TEST(test_three_peaks_far_start),
        TEST(test_nist_hard_from_start_1),
        TEST(test_threads_bitwise),
        TEST(test_halving_same_minimum),
        TEST(test_bimodal_minima),
        TEST(test_library_estimate_seeds),
        TEST(test_methods_and_omit),
        TEST(test_cmaes),
        TEST(test_progress_stops),
        TEST(test_bad_input),
    };
    return run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
}
