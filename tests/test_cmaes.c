/*
 * CMA-ES with BIPOP restarts (src/fit/cmaes.c) on problems with known
 * minima: the sphere, an ellipsoid of condition 1e6 and Rosenbrock's
 * function (minimum 0 at the origin, the origin, and (1, ..., 1)),
 * Rastrigin's function in [-5.12, 5.12]^5 (global minimum 0 at the origin,
 * about 10^5 local minima), a box whose minimum lies on its bounds
 * (closed form), and the frequency of a sine from noise-free samples
 * (w = 7.3 exactly, cost 0 there, a local minimum about every 0.6 in w).
 * Also: the same seed gives bitwise the same answer, a callback's nonzero
 * return stops the search and is returned, max_evals is never exceeded,
 * non-finite costs rank last, bad input is refused.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "fit/cmaes.h"

#define PI 3.14159265358979323846
#define NMAX 10

/* ---- the test functions, behind one callback ---------------------------- */

typedef double (*objective)(const double *x, int n, const void *data);

typedef struct problem {
    objective f;
    const void *data;
    int calls, evals; /* what the callback saw                     */
    int stop_at_call; /* return 42 on this call (0: never)         */
    int max_count;    /* the largest batch seen                    */
    int outside;      /* candidates outside the box it was given   */
    const double *lo, *hi;
} problem;

static int eval_batch(void *ctx, const double *X, int count, int n, double *cost)
{
    problem *p = ctx;
    p->calls++;
    p->evals += count;
    if (count > p->max_count) p->max_count = count;
    if (p->stop_at_call && p->calls == p->stop_at_call) return 42;
    for (int k = 0; k < count; k++) {
        const double *x = X + (size_t)k * n;
        if (p->lo)
            for (int i = 0; i < n; i++) p->outside += x[i] < p->lo[i] || x[i] > p->hi[i];
        cost[k] = p->f(x, n, p->data);
    }
    return 0;
}

static double sphere(const double *x, int n, const void *data)
{
    (void)data;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

static double ellipsoid(const double *x, int n, const void *data)
{
    (void)data;
    double s = 0;
    for (int i = 0; i < n; i++) s += pow(1e6, n > 1 ? (double)i / (n - 1) : 0) * x[i] * x[i];
    return s;
}

static double rosenbrock(const double *x, int n, const void *data)
{
    (void)data;
    double s = 0;
    for (int i = 0; i + 1 < n; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
        s += 100 * a * a + b * b;
    }
    return s;
}

static double rastrigin(const double *x, int n, const void *data)
{
    (void)data;
    double s = 10.0 * n;
    for (int i = 0; i < n; i++) s += x[i] * x[i] - 10 * cos(2 * PI * x[i]);
    return s;
}

/* sum (x_i - c_i)^2: in a box, the minimum is c clamped into it */
static double shifted_sphere(const double *x, int n, const void *data)
{
    const double *c = data;
    double s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - c[i]) * (x[i] - c[i]);
    return s;
}

/* sphere around 1.5 that cannot be evaluated beyond x_0 > 2 */
static double sphere_with_hole(const double *x, int n, const void *data)
{
    (void)data;
    if (x[0] > 2) return NAN;
    double s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - 1.5) * (x[i] - 1.5);
    return s;
}

static double always_nan(const double *x, int n, const void *data)
{
    (void)x, (void)n, (void)data;
    return NAN;
}

/* ---- the sine: y = sin(7.3 x) at 201 points of [0, 10] ------------------ */

enum { SINE_POINTS = 201 };
static const double sine_true_w = 7.3;

typedef struct sine_data {
    double x[SINE_POINTS], y[SINE_POINTS];
} sine_data;

static void sine_make(sine_data *d)
{
    for (int j = 0; j < SINE_POINTS; j++) {
        d->x[j] = 10.0 * j / (SINE_POINTS - 1);
        d->y[j] = sin(sine_true_w * d->x[j]);
    }
}

/* 0.5 sum r^2, the least-squares cost */
static double sine_cost(const double *w, int n, const void *data)
{
    (void)n;
    const sine_data *d = data;
    double s = 0;
    for (int j = 0; j < SINE_POINTS; j++) {
        double r = sin(w[0] * d->x[j]) - d->y[j];
        s += r * r;
    }
    return 0.5 * s;
}

/* ---- helpers ------------------------------------------------------------- */

typedef struct outcome {
    int rc;
    double x[NMAX], f;
    cmaes_summary s;
    problem p;
} outcome;

static outcome minimise(const cmaes_options *o, objective f, const void *data, int n, double x0v, double sigma,
                        double lov, double hiv)
{
    double x0[NMAX], s0[NMAX], lo[NMAX], hi[NMAX];
    for (int i = 0; i < n; i++) x0[i] = x0v, s0[i] = sigma, lo[i] = lov, hi[i] = hiv;
    outcome r;
    memset(&r, 0, sizeof r);
    r.p.f = f;
    r.p.data = data;
    r.p.lo = lo;
    r.p.hi = hi;
    r.rc = cmaes_minimize(o, n, x0, s0, lo, hi, eval_batch, &r.p, r.x, &r.f, &r.s);
    r.p.lo = r.p.hi = NULL;
    return r;
}

static double max_dist(const double *x, int n, double v)
{
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs(x[i] - v));
    return d;
}

/* ---- the tests ------------------------------------------------------------ */

static void test_sphere_one_run_converges_to_the_origin(void)
{
    cmaes_options o = cmaes_options_default();
    o.max_restarts = 0;
    o.seed = 1;
    outcome r = minimise(&o, sphere, NULL, 10, 3, 1, -10, 10);
    CHECK(r.rc == 0);
    CHECK_NEAR(r.f, 0, 1e-18, "sphere n=10: best cost");
    CHECK_NEAR(max_dist(r.x, 10, 0), 0, 1e-9, "sphere n=10: distance from the origin");
    CHECK_MSG(r.s.last_run_stop == CMAES_RUN_XTOL || r.s.last_run_stop == CMAES_RUN_FTOL,
              "the run stopped by a tolerance (stop %d)", r.s.last_run_stop);
    CHECK(r.s.stop_reason == CMAES_STOP_MAX_RESTARTS);
    CHECK(r.s.restarts == 0 && r.s.large_runs == 1);
    CHECK(r.s.evals == r.p.evals);
    CHECK_MSG(r.p.max_count == 4 + (int)floor(3 * log(10.0)), "one call per generation with all lambda = %d",
              r.p.max_count);
    CHECK(r.p.calls == r.s.generations);
}

static void test_ellipsoid_condition_1e6_converges(void)
{
    cmaes_options o = cmaes_options_default();
    o.max_restarts = 0;
    o.seed = 2;
    outcome r = minimise(&o, ellipsoid, NULL, 10, 1, 1, -5, 5);
    CHECK(r.rc == 0);
    CHECK_NEAR(r.f, 0, 1e-14, "ellipsoid: best cost");
    CHECK_NEAR(max_dist(r.x, 10, 0), 0, 1e-7, "ellipsoid: distance from the origin");
}

static void test_rosenbrock_reaches_all_ones(void)
{
    static const int dims[] = {2, 5, 10};
    for (int t = 0; t < 3; t++) {
        int n = dims[t];
        cmaes_options o = cmaes_options_default();
        o.seed = 3 + t;
        o.max_evals = 400000;
        outcome r = minimise(&o, rosenbrock, NULL, n, 0, 0.5, -5, 5);
        CHECK(r.rc == 0);
        CHECK_NEAR(r.f, 0, 1e-14, "rosenbrock n=%d: best cost", n);
        CHECK_NEAR(max_dist(r.x, n, 1), 0, 1e-6, "rosenbrock n=%d: distance from (1,...,1)", n);
    }
}

static int rastrigin_solved(uint64_t seed, int restarts, outcome *out)
{
    cmaes_options o = cmaes_options_default();
    o.seed = seed;
    o.max_restarts = restarts;
    o.max_evals = 300000;
    *out = minimise(&o, rastrigin, NULL, 5, 3, 2, -5.12, 5.12);
    return out->rc == 0 && out->f <= 1e-8;
}

static void test_rastrigin_bipop_finds_the_global_minimum(void)
{
    outcome r;
    int ok = rastrigin_solved(7, 9, &r);
    CHECK_NEAR(r.f, 0, 1e-8, "rastrigin n=5 (seed 7): best cost (%d restarts, largest lambda %d, %d evals)",
               r.s.restarts, r.s.largest_lambda, r.s.evals);
    CHECK(ok);
    CHECK_NEAR(max_dist(r.x, 5, 0), 0, 1e-5, "rastrigin: distance from the origin");
    CHECK(r.s.large_runs >= 2 && r.s.small_runs >= 1);
}

static void test_rastrigin_bipop_beats_a_single_run(void)
{
    int bipop = 0, single = 0;
    for (uint64_t seed = 100; seed < 110; seed++) {
        outcome r;
        bipop += rastrigin_solved(seed, 9, &r);
        single += rastrigin_solved(seed, 0, &r);
    }
    printf("    rastrigin n=5, 10 seeds: BIPOP solved %d, one run %d\n", bipop, single);
    CHECK_MSG(bipop > single, "BIPOP %d vs one run %d", bipop, single);
    CHECK_MSG(bipop >= 8, "BIPOP solved %d of 10", bipop);
}

static void test_minimum_on_the_bounds(void)
{
    /* c = (2, -3, 0.5, 1.25) in [0, 1]^4: the minimum at (1, 0, 0.5, 1), cost
       1 + 9 + 0 + 1/16. x2 is then known to about sqrt(eps * 10) = 5e-8,
       where its term drops below the rounding of the cost. */
    const double c[4] = {2, -3, 0.5, 1.25};
    cmaes_options o = cmaes_options_default();
    o.seed = 11;
    o.max_restarts = 0;
    o.ftol = 0; /* to the end: a relative ftol of 1e-12 would stop at 3e-6 */
    outcome r = minimise(&o, shifted_sphere, c, 4, 0.5, 0.3, 0, 1);
    CHECK(r.rc == 0);
    CHECK_NEAR(r.f, 10.0625, 1e-13, "cost at the bounds");
    CHECK_SAME(r.x[0], 1, "x0 on its upper bound");
    CHECK_SAME(r.x[1], 0, "x1 on its lower bound");
    CHECK_NEAR(r.x[2], 0.5, 1e-6, "x2 inside");
    CHECK_SAME(r.x[3], 1, "x3 on its upper bound");
    CHECK_MSG(r.p.outside == 0, "%d candidates outside the box", r.p.outside);
    for (int i = 0; i < 4; i++) CHECK(r.x[i] >= 0 && r.x[i] <= 1);
}

/* Rosenbrock in [-2, 0.5] x [-2, 2]: on the edge x0 = 0.5 the cost is
   100 (x1 - 1/4)^2 + 1/4, so the minimum is (0.5, 0.25), cost 1/4; the
   start x0 = (3, -1) lies outside the box and is moved into it. */
static void test_curved_valley_ending_on_a_bound(void)
{
    cmaes_options o = cmaes_options_default();
    o.max_restarts = 0;
    double x0[2] = {3, -1}, s0[2] = {0.5, 0.5}, lo[2] = {-2, -2}, hi[2] = {0.5, 2}, x[2], f;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        o.seed = seed;
        problem p = {.f = rosenbrock, .lo = lo, .hi = hi};
        cmaes_summary s;
        CHECK(cmaes_minimize(&o, 2, x0, s0, lo, hi, eval_batch, &p, x, &f, &s) == 0);
        CHECK_NEAR(f, 0.25, 1e-12, "seed %d: cost", (int)seed);
        CHECK_SAME(x[0], 0.5, "seed %d: x0 on its upper bound", (int)seed);
        /* ftol 1e-12 relative: 100 dx^2 <= 1e-12 / 4 */
        CHECK_NEAR(x[1], 0.25, 1e-6, "seed %d: x1", (int)seed);
        CHECK_MSG(p.outside == 0, "seed %d: %d candidates outside the box", (int)seed, p.outside);
    }
}

/* lo = hi fixes a coordinate: every candidate has it, the rest is found. */
static void test_fixed_coordinate_stays_fixed(void)
{
    const double c[3] = {2, 2, 2};
    cmaes_options o = cmaes_options_default();
    o.seed = 3;
    o.max_restarts = 0;
    double x0[3] = {5, 1, 1}, s0[3] = {0.5, 0.5, 0.5}, lo[3] = {1, -3, -3}, hi[3] = {1, 3, 3}, x[3], f;
    problem p = {.f = shifted_sphere, .data = c, .lo = lo, .hi = hi};
    cmaes_summary s;
    CHECK(cmaes_minimize(&o, 3, x0, s0, lo, hi, eval_batch, &p, x, &f, &s) == 0);
    CHECK_SAME(x[0], 1, "the fixed coordinate");
    CHECK_NEAR(f, 1, 1e-12, "cost");
    CHECK_NEAR(max_dist(x + 1, 2, 2), 0, 1e-5, "the free coordinates");
    CHECK(p.outside == 0);
}

static void test_same_seed_same_answer_bitwise(void)
{
    outcome a, b, c;
    rastrigin_solved(5, 3, &a);
    rastrigin_solved(5, 3, &b);
    rastrigin_solved(6, 3, &c);
    CHECK(memcmp(a.x, b.x, sizeof a.x) == 0);
    CHECK_SAME(a.f, b.f, "fbest again");
    CHECK(a.s.evals == b.s.evals && a.s.generations == b.s.generations && a.s.restarts == b.s.restarts);
    CHECK_MSG(memcmp(a.x, c.x, sizeof a.x) != 0 || a.s.evals != c.s.evals, "another seed, another search");
}

static void test_sine_frequency_found_in_a_wide_box(void)
{
    static sine_data d;
    sine_make(&d);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        cmaes_options o = cmaes_options_default();
        o.seed = seed;
        double x0 = 1, s0 = 0.3 * (20 - 0.1), lo = 0.1, hi = 20, w, f;
        problem p = {.f = sine_cost, .data = &d};
        cmaes_summary s;
        int rc = cmaes_minimize(&o, 1, &x0, &s0, &lo, &hi, eval_batch, &p, &w, &f, &s);
        CHECK(rc == 0);
        CHECK_NEAR(w, sine_true_w, 1e-6, "seed %d: frequency (%d evals, %d restarts)", (int)seed, s.evals, s.restarts);
        CHECK_NEAR(f, 0, 1e-12, "seed %d: cost", (int)seed);
    }
}

typedef struct run_log {
    problem p; /* first: eval's ctx is the log */
    int runs, last_index, bad_order, outside;
    double best;
} run_log;

static void log_run(void *ctx, int run, int lambda, const double *x, double f, int why)
{
    run_log *l = ctx;
    l->bad_order += run != l->last_index + 1 || lambda < 2 || why < 0 || why >= CMAES_RUN_STOP_KINDS;
    l->last_index = run;
    l->runs++;
    for (int i = 0; i < 5; i++) l->outside += x[i] < -5.12 || x[i] > 5.12;
    if (f < l->best) l->best = f;
}

static void test_every_run_reports_its_best(void)
{
    cmaes_options o = cmaes_options_default();
    o.seed = 8;
    o.max_evals = 100000;
    o.on_run = log_run;
    double x0[5], s0[5], lo[5], hi[5], x[5], f;
    for (int i = 0; i < 5; i++) x0[i] = 3, s0[i] = 2, lo[i] = -5.12, hi[i] = 5.12;
    run_log l = {.p = {.f = rastrigin}, .last_index = -1, .best = INFINITY};
    cmaes_summary s;
    CHECK(cmaes_minimize(&o, 5, x0, s0, lo, hi, eval_batch, &l, x, &f, &s) == 0);
    CHECK_MSG(l.runs == s.large_runs + s.small_runs && l.runs == s.restarts + 1, "%d runs reported, %d + %d made",
              l.runs, s.large_runs, s.small_runs);
    CHECK(l.bad_order == 0 && l.outside == 0);
    CHECK_SAME(l.best, f, "the best of the runs is the best");
}

static void test_callback_nonzero_stops_and_is_returned(void)
{
    cmaes_options o = cmaes_options_default();
    outcome r;
    memset(&r, 0, sizeof r);
    double x0[3] = {1, 1, 1}, s0[3] = {1, 1, 1}, lo[3] = {-5, -5, -5}, hi[3] = {5, 5, 5};
    r.p.f = sphere;
    r.p.stop_at_call = 3;
    r.rc = cmaes_minimize(&o, 3, x0, s0, lo, hi, eval_batch, &r.p, r.x, &r.f, &r.s);
    CHECK(r.rc == 42);
    CHECK(r.s.stop_reason == CMAES_STOP_CALLBACK);
    CHECK(r.p.calls == 3);
    CHECK(r.s.evals == r.p.evals);
    CHECK_MSG(isfinite(r.f) && r.f == sphere(r.x, 3, NULL), "the best of the first two generations (%g)", r.f);
}

static void test_max_evals_is_never_exceeded(void)
{
    static const int budgets[] = {3, 7, 100, 1000, 5000};
    for (int t = 0; t < 5; t++) {
        cmaes_options o = cmaes_options_default();
        o.max_evals = budgets[t];
        o.seed = 9;
        outcome r = minimise(&o, rastrigin, NULL, 3, 2, 2, -5.12, 5.12);
        CHECK(r.rc == 0);
        CHECK_MSG(r.p.evals <= budgets[t], "budget %d: %d evaluations", budgets[t], r.p.evals);
        CHECK(r.s.evals == r.p.evals);
        CHECK_MSG(r.s.stop_reason == CMAES_STOP_MAX_EVALS, "budget %d: stop %d", budgets[t], r.s.stop_reason);
        /* a budget of 1000 leaves less than the next population unused */
        if (budgets[t] >= 100) CHECK_MSG(r.p.evals > budgets[t] / 2, "budget %d: only %d used", budgets[t], r.p.evals);
    }
}

static void test_non_finite_costs_rank_last(void)
{
    cmaes_options o = cmaes_options_default();
    o.seed = 4;
    o.max_restarts = 0;
    outcome r = minimise(&o, sphere_with_hole, NULL, 3, -1, 2, -5, 5);
    CHECK(r.rc == 0);
    CHECK_NEAR(r.f, 0, 1e-16, "best cost next to the hole");
    CHECK_NEAR(max_dist(r.x, 3, 1.5), 0, 1e-8, "minimum at 1.5");

    outcome z = minimise(&o, always_nan, NULL, 2, 0, 1, -1, 1);
    CHECK(z.rc == 0);
    CHECK(isinf(z.f) && z.f > 0);
    CHECK(z.s.last_run_stop == CMAES_RUN_NO_FINITE_COST);
    CHECK_SAME(z.x[0], 0, "xbest is x0 when nothing could be evaluated");
}

static void test_bad_input_is_refused(void)
{
    cmaes_options o = cmaes_options_default();
    double x0[2] = {0, 0}, s0[2] = {1, 1}, lo[2] = {-1, -1}, hi[2] = {1, 1}, x[2], f;
    problem p = {.f = sphere};
    cmaes_summary s;
    CHECK(cmaes_minimize(&o, 0, x0, s0, lo, hi, eval_batch, &p, x, &f, &s) == -2);
    CHECK(s.stop_reason == CMAES_STOP_BAD_INPUT);
    double badlo[2] = {2, -1};
    CHECK(cmaes_minimize(&o, 2, x0, s0, badlo, hi, eval_batch, &p, x, &f, &s) == -2);
    double infhi[2] = {1, INFINITY};
    CHECK(cmaes_minimize(&o, 2, x0, s0, lo, infhi, eval_batch, &p, x, &f, &s) == -2);
    double zero_s[2] = {1, 0};
    CHECK(cmaes_minimize(&o, 2, x0, zero_s, lo, hi, eval_batch, &p, x, &f, &s) == -2);
    CHECK(cmaes_minimize(&o, 2, x0, s0, lo, hi, NULL, &p, x, &f, &s) == -2);
    o.lambda0 = 1;
    CHECK(cmaes_minimize(&o, 2, x0, s0, lo, hi, eval_batch, &p, x, &f, &s) == -2);
    CHECK(p.calls == 0);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_sphere_one_run_converges_to_the_origin),
        TEST(test_ellipsoid_condition_1e6_converges),
        TEST(test_rosenbrock_reaches_all_ones),
        TEST(test_rastrigin_bipop_finds_the_global_minimum),
        TEST(test_rastrigin_bipop_beats_a_single_run),
        TEST(test_minimum_on_the_bounds),
        TEST(test_curved_valley_ending_on_a_bound),
        TEST(test_fixed_coordinate_stays_fixed),
        TEST(test_same_seed_same_answer_bitwise),
        TEST(test_sine_frequency_found_in_a_wide_box),
        TEST(test_every_run_reports_its_best),
        TEST(test_callback_nonzero_stops_and_is_returned),
        TEST(test_max_evals_is_never_exceeded),
        TEST(test_non_finite_costs_rank_last),
        TEST(test_bad_input_is_refused),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
