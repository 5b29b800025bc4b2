/*
 * CMA-ES (mu/mu_w, lambda) with BIPOP restarts; see cmaes.h for the sources
 * and the contract. Equation numbers (T..) are those of Hansen's tutorial,
 * arXiv:1604.00772, Table 1 and section 4 (default parameters) and
 * section 3 (the updates).
 *
 * The search runs in scaled coordinates u, x = center + scale .* u, with
 * center the start x0 (in the box) and scale = sigma0: there the first run
 * starts from m = 0, sigma = 1, C = I, which is CMA-ES started from x0 with
 * C = diag(sigma0^2) (the strategy is invariant under this affine map), and
 * every tolerance is relative to sigma0.
 */
#include "cmaes.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"

/* ---- a deterministic generator: xoshiro256** seeded by splitmix64 -------- */

typedef struct cm_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} cm_rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(cm_rng *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&seed);
    g->has_spare = 0;
    g->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(cm_rng *g)
{
    uint64_t *s = g->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* uniform on [0, 1), 53 bits */
static double rng_uniform(cm_rng *g)
{
    return (double)(rng_next(g) >> 11) * 0x1.0p-53;
}

/* standard normal by Marsaglia's polar method: only sqrt and log, whose
   results IEEE 754 and glibc give the same everywhere, and no trigonometry */
static double rng_normal(cm_rng *g)
{
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    double u, v, s;
    do {
        u = 2 * rng_uniform(g) - 1;
        v = 2 * rng_uniform(g) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double f = sqrt(-2 * log(s) / s);
    g->spare = v * f;
    g->has_spare = 1;
    return u * f;
}

/* ---- the problem every run shares: box, scaling, callback, best -------- */

typedef struct cm_problem {
    int n;
    const double *lo, *hi;
    double *center, *scale; /* x = center + scale .* u                      */
    cmaes_eval_fn eval;
    void *ctx;
    int max_evals, evals;
    double *xbest, fbest;
    int callback_rc; /* nonzero once eval asked to stop              */
} cm_problem;

static inline double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static inline double to_user(const cm_problem *p, int i, double u)
{
    return p->center[i] + p->scale[i] * u;
}

/* ---- one run: the strategy's state -------------------------------------- */

typedef struct cm_rank {
    double key;
    int index;
} cm_rank;

typedef struct cm_run {
    int n, lambda, mu;
    double mueff, cc, cs, c1, cmu, damps, chin; /* (T) defaults            */
    double sigma;
    int gen, eigen_gen;
    double *w; /* mu recombination weights, sum 1         */
    double *m, *m_old, *pc, *ps, *ybar, *tmp;
    double *C, *B, *D, *E; /* C = B diag(D^2) B^T; E: eigen workspace */
    double *Y;             /* lambda x n unrepaired steps y_k         */
    double *X;             /* lambda x n repaired candidates (user)   */
    double *f;             /* lambda raw costs of the repaired points */
    double *xrun, frun;    /* this run's best repaired point and cost */
    cm_rank *rank;         /* lambda                                  */
    double *hist;          /* best cost of the last hist_cap gens     */
    int hist_cap, hist_count;
    /* bound handling (cmaes.h): per-coordinate penalty weights, zero until
       the mean first leaves the box, set from the median of the scaled
       interquartile ranges of the last iqr_cap generations */
    double *gamma, *iqr, *iqr_sorted;
    int iqr_cap, iqr_count, gamma_set;
} cm_run;

static void run_free(cm_run *r)
{
    if (!r) return;
    free(r->w);
    free(r->rank);
    free(r);
}

/* One block of doubles for all the vectors (freed with r->w). */
static cm_run *run_alloc(int n, int lambda)
{
    cm_run *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->n = n;
    r->lambda = lambda;
    r->mu = lambda / 2;
    r->hist_cap = 10 + (30 * n + lambda - 1) / lambda;
    r->iqr_cap = 20 + (3 * n + lambda - 1) / lambda;
    size_t nn = (size_t)n * n, ln = (size_t)lambda * n;
    size_t total = (size_t)r->mu + 6 * (size_t)n + 3 * nn + (size_t)n + 2 * ln + (size_t)lambda + (size_t)r->hist_cap +
                   (size_t)n + 2 * (size_t)r->iqr_cap + (size_t)n;
    double *d = calloc(total, sizeof *d);
    r->rank = malloc((size_t)lambda * sizeof *r->rank);
    if (!d || !r->rank) {
        free(d);
        r->w = NULL;
        run_free(r);
        return NULL;
    }
    r->w = d, d += r->mu;
    r->m = d, d += n;
    r->m_old = d, d += n;
    r->pc = d, d += n;
    r->ps = d, d += n;
    r->ybar = d, d += n;
    r->tmp = d, d += n;
    r->C = d, d += nn;
    r->B = d, d += nn;
    r->E = d, d += nn;
    r->D = d, d += n;
    r->Y = d, d += ln;
    r->X = d, d += ln;
    r->f = d, d += lambda;
    r->hist = d, d += r->hist_cap;
    r->gamma = d, d += n;
    r->iqr = d, d += r->iqr_cap;
    r->iqr_sorted = d, d += r->iqr_cap;
    r->xrun = d;
    return r;
}

/* The default strategy parameters (T: tutorial, section "Default
   parameters"), positive weights only (the original (mu/mu_w, lambda)). */
static void run_init(cm_run *r, const double *m0, double sigma)
{
    int n = r->n, mu = r->mu;
    double sw = 0, sw2 = 0;
    for (int i = 0; i < mu; i++) {
        r->w[i] = log((r->lambda + 1) / 2.0) - log(i + 1.0);
        sw += r->w[i];
    }
    for (int i = 0; i < mu; i++) {
        r->w[i] /= sw;
        sw2 += r->w[i] * r->w[i];
    }
    r->mueff = 1 / sw2;
    double mueff = r->mueff;
    r->cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n);
    r->cs = (mueff + 2) / (n + mueff + 5);
    r->c1 = 2 / ((n + 1.3) * (n + 1.3) + mueff);
    r->cmu = fmin(1 - r->c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2.0) * (n + 2.0) + mueff));
    r->damps = 1 + 2 * fmax(0, sqrt((mueff - 1) / (n + 1)) - 1) + r->cs;
    r->chin = sqrt((double)n) * (1 - 1 / (4.0 * n) + 1 / (21.0 * n * n));
    r->sigma = sigma;
    r->gen = r->eigen_gen = 0;
    r->hist_count = r->iqr_count = r->gamma_set = 0;
    r->frun = INFINITY;
    for (int i = 0; i < n; i++) {
        r->m[i] = m0[i];
        r->pc[i] = r->ps[i] = r->gamma[i] = 0;
        r->D[i] = 1;
        for (int j = 0; j < n; j++) r->C[(size_t)j * n + i] = r->B[(size_t)j * n + i] = i == j;
    }
}

/* lambda candidates y_k = B D z_k, x_k = m + sigma y_k, each repaired into
   the box for evaluation. */
static void run_sample(cm_run *r, const cm_problem *p, cm_rng *g)
{
    int n = r->n;
    for (int k = 0; k < r->lambda; k++) {
        for (int i = 0; i < n; i++) r->tmp[i] = r->D[i] * rng_normal(g);
        double *y = r->Y + (size_t)k * n, *x = r->X + (size_t)k * n;
        for (int i = 0; i < n; i++) {
            double v = 0;
            for (int j = 0; j < n; j++) v += r->B[(size_t)j * n + i] * r->tmp[j];
            y[i] = v;
            x[i] = clamp(to_user(p, i, r->m[i] + r->sigma * v), p->lo[i], p->hi[i]);
        }
    }
}

/* Evaluates the generation and keeps the best repaired point. */
static int run_evaluate(cm_run *r, cm_problem *p)
{
    int n = r->n;
    for (int k = 0; k < r->lambda; k++) r->f[k] = NAN;
    int rc = p->eval(p->ctx, r->X, r->lambda, n, r->f);
    p->evals += r->lambda;
    if (rc) {
        p->callback_rc = rc;
        return rc;
    }
    for (int k = 0; k < r->lambda; k++) {
        if (!isfinite(r->f[k])) r->f[k] = INFINITY; /* ranks last, NaN too */
        if (r->f[k] < r->frun) {
            r->frun = r->f[k];
            memcpy(r->xrun, r->X + (size_t)k * n, (size_t)n * sizeof *r->xrun);
        }
        if (r->f[k] < p->fbest) {
            p->fbest = r->f[k];
            memcpy(p->xbest, r->X + (size_t)k * n, (size_t)n * sizeof *p->xbest);
        }
    }
    return 0;
}

/* Total order: smaller key first, ties (and +inf, the non-finite costs)
   by index, so the ranking never depends on the sort's implementation. */
static int rank_cmp(const void *a, const void *b)
{
    const cm_rank *x = a, *y = b;
    if (x->key < y->key) return -1;
    if (x->key > y->key) return 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* The scaled repair distance sum_i gamma_i (u_i - repaired u_i)^2 / xi_i,
   xi_i = exp(0.9 (log C_ii - mean_j log C_jj)) (the penalty of cmaes.m's
   boundary handling: coordinates with a wide distribution pay less). */
static double repair_penalty(const cm_run *r, const cm_problem *p, int k, double mean_log_c)
{
    int n = r->n;
    double pen = 0;
    for (int i = 0; i < n; i++) {
        if (r->gamma[i] == 0) continue;
        double u = r->m[i] + r->sigma * r->Y[(size_t)k * n + i];
        double d = (to_user(p, i, u) - r->X[(size_t)k * n + i]) / p->scale[i];
        double xi = exp(0.9 * (log(r->C[(size_t)i * n + i]) - mean_log_c));
        pen += r->gamma[i] * d * d / xi;
    }
    return pen;
}

static double mean_log_diag(const cm_run *r)
{
    double s = 0;
    for (int i = 0; i < r->n; i++) s += log(r->C[(size_t)i * r->n + i]);
    return s / r->n;
}

/* Sorts the raw costs (rank[] by f) and records the generation's
   interquartile range, scaled as cmaes.m does, for the penalty weights;
   returns the number of finite costs. */
static int record_spread(cm_run *r)
{
    int lambda = r->lambda, finite = 0;
    for (int k = 0; k < lambda; k++) {
        r->rank[k] = (cm_rank){r->f[k], k};
        finite += r->f[k] < INFINITY;
    }
    qsort(r->rank, (size_t)lambda, sizeof *r->rank, rank_cmp);
    if (finite == 0) return 0;
    double q1 = r->rank[(finite - 1) / 4].key, q3 = r->rank[(3 * (finite - 1)) / 4].key;
    double med = r->rank[(finite - 1) / 2].key;
    /* a flat generation (all candidates repaired onto one point) still
       gives the penalty a weight */
    double spread = fmax(q3 - q1, fmax(1e-10 * fabs(med), DBL_MIN));
    double meanc = 0;
    for (int i = 0; i < r->n; i++) meanc += r->C[(size_t)i * r->n + i];
    meanc /= r->n;
    double v = spread / (r->n * meanc * r->sigma * r->sigma);
    if (r->iqr_count < r->iqr_cap)
        r->iqr[r->iqr_count++] = v;
    else {
        memmove(r->iqr, r->iqr + 1, (size_t)(r->iqr_cap - 1) * sizeof *r->iqr);
        r->iqr[r->iqr_cap - 1] = v;
    }
    return finite;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Ranks the generation by cost plus repair penalty into rank[]. */
static void run_rank(cm_run *r, const cm_problem *p)
{
    double mlc = mean_log_diag(r);
    for (int k = 0; k < r->lambda; k++) {
        double key = r->f[k];
        if (key < INFINITY) key += repair_penalty(r, p, k, mlc);
        r->rank[k] = (cm_rank){key, k};
    }
    qsort(r->rank, (size_t)r->lambda, sizeof *r->rank, rank_cmp);
}

/* Penalty weights (cmaes.m): set to 2 median(scaled IQR) the first time
   the mean is outside the box, then raised by 1.2^max(1, mueff/(10 n)) on
   each coordinate whose mean is far outside (3 max(1, sqrt(n)/mueff)
   standard deviations) and still moving away. */
static void update_bound_weights(cm_run *r, const cm_problem *p)
{
    int n = r->n, outside = 0;
    for (int i = 0; i < n; i++) {
        double x = to_user(p, i, r->m[i]);
        outside |= x < p->lo[i] || x > p->hi[i];
    }
    if (!r->gamma_set) {
        if (!outside || r->iqr_count == 0) return;
        double *sorted = r->iqr_sorted;
        memcpy(sorted, r->iqr, (size_t)r->iqr_count * sizeof *sorted);
        qsort(sorted, (size_t)r->iqr_count, sizeof *sorted, cmp_double);
        double med = sorted[(r->iqr_count - 1) / 2];
        for (int i = 0; i < n; i++) r->gamma[i] = 2.0002 * med;
        r->gamma_set = 1;
        return;
    }
    double factor = pow(1.2, fmax(1, r->mueff / (10.0 * n)));
    double far = 3 * fmax(1, sqrt((double)n) / r->mueff);
    for (int i = 0; i < n; i++) {
        double lo = (p->lo[i] - p->center[i]) / p->scale[i], hi = (p->hi[i] - p->center[i]) / p->scale[i];
        double out = r->m[i] - clamp(r->m[i], lo, hi);
        double sd = r->sigma * sqrt(r->C[(size_t)i * n + i]);
        if (out != 0 && fabs(out) > far * sd && (out > 0) == (r->m[i] > r->m_old[i])) r->gamma[i] *= factor;
    }
}

/* (T) mean, evolution paths, covariance (rank-one and rank-mu) and step
   size from the ranking in rank[]. */
static void run_update(cm_run *r)
{
    int n = r->n, mu = r->mu;
    double *ybar = r->ybar, *tmp = r->tmp;
    for (int i = 0; i < n; i++) ybar[i] = 0;
    for (int j = 0; j < mu; j++) {
        const double *y = r->Y + (size_t)r->rank[j].index * n;
        for (int i = 0; i < n; i++) ybar[i] += r->w[j] * y[i];
    }
    memcpy(r->m_old, r->m, (size_t)n * sizeof *r->m);
    for (int i = 0; i < n; i++) r->m[i] += r->sigma * ybar[i]; /* c_m = 1 */

    /* p_sigma <- (1 - c_s) p_sigma + sqrt(c_s (2 - c_s) mueff) C^-1/2 ybar */
    for (int j = 0; j < n; j++) {
        double v = 0;
        for (int i = 0; i < n; i++) v += r->B[(size_t)j * n + i] * ybar[i];
        tmp[j] = v / r->D[j];
    }
    double cps = sqrt(r->cs * (2 - r->cs) * r->mueff), psn = 0;
    for (int i = 0; i < n; i++) {
        double v = 0;
        for (int j = 0; j < n; j++) v += r->B[(size_t)j * n + i] * tmp[j];
        r->ps[i] = (1 - r->cs) * r->ps[i] + cps * v;
        psn += r->ps[i] * r->ps[i];
    }
    psn = sqrt(psn);
    /* h_sigma stalls p_c while |p_sigma| is large (a fast-moving mean):
       the rank-one update would otherwise lengthen C too much */
    double corr = sqrt(1 - pow(1 - r->cs, 2.0 * (r->gen + 1)));
    int hsig = psn / corr / r->chin < 1.4 + 2.0 / (n + 1);
    double cpc = sqrt(r->cc * (2 - r->cc) * r->mueff);
    for (int i = 0; i < n; i++) r->pc[i] = (1 - r->cc) * r->pc[i] + (hsig ? cpc * ybar[i] : 0);

    double keep = 1 - r->c1 - r->cmu + (hsig ? 0 : r->c1 * r->cc * (2 - r->cc));
    for (int j = 0; j < n; j++) {
        for (int i = 0; i <= j; i++) {
            double rank_mu = 0;
            for (int k = 0; k < mu; k++) {
                const double *y = r->Y + (size_t)r->rank[k].index * n;
                rank_mu += r->w[k] * y[i] * y[j];
            }
            double v = keep * r->C[(size_t)j * n + i] + r->c1 * r->pc[i] * r->pc[j] + r->cmu * rank_mu;
            r->C[(size_t)j * n + i] = r->C[(size_t)i * n + j] = v;
        }
    }
    /* the exponent capped at 1 (as pycma does): one generation cannot
       blow sigma up by more than e */
    r->sigma *= exp(fmin(1, (r->cs / r->damps) * (psn / r->chin - 1)));
    r->gen++;
}

/* B, D from C, lazily: every lambda / ((c1 + cmu) n 10) generations, so
   the O(n^3) decomposition costs O(n^2) a candidate (tutorial, B.2).
   Returns a run stop reason, or -1. */
static int run_eigen(cm_run *r)
{
    int n = r->n;
    if (r->gen - r->eigen_gen <= r->lambda / ((r->c1 + r->cmu) * n * 10)) return -1;
    r->eigen_gen = r->gen;
    memcpy(r->E, r->C, (size_t)n * n * sizeof *r->E);
    if (sym_eigen_jacobi(r->E, n, r->D, r->B) < 0) return CMAES_RUN_EIGEN_FAILED;
    double dmin = r->D[0], dmax = r->D[n - 1]; /* ascending */
    if (!(dmin > 0) || dmax > 1e14 * dmin) return CMAES_RUN_CONDITION;
    for (int i = 0; i < n; i++) r->D[i] = sqrt(r->D[i]);
    return -1;
}

static void history_push(cm_run *r, double best)
{
    if (r->hist_count < r->hist_cap)
        r->hist[r->hist_count++] = best;
    else {
        memmove(r->hist, r->hist + 1, (size_t)(r->hist_cap - 1) * sizeof *r->hist);
        r->hist[r->hist_cap - 1] = best;
    }
}

/* The per-run stops of the tutorial (B.3) that need no eigen update;
   a reason, or -1 to go on. */
static int run_converged(const cm_run *r, const cm_problem *p, const cmaes_options *o)
{
    int n = r->n;
    /* TolX: the distribution and the path are both below xtol */
    int small = 1;
    for (int i = 0; i < n && small; i++)
        small = r->sigma * sqrt(r->C[(size_t)i * n + i]) < o->xtol && r->sigma * fabs(r->pc[i]) < o->xtol;
    if (small) return CMAES_RUN_XTOL;
    /* TolHistFun with TolFun: flat best costs and a flat generation */
    if (r->hist_count == r->hist_cap) {
        double lo = r->hist[0], hi = r->hist[0], ref = fabs(r->hist[r->hist_cap - 1]);
        for (int i = 1; i < r->hist_cap; i++) lo = fmin(lo, r->hist[i]), hi = fmax(hi, r->hist[i]);
        for (int k = 0; k < r->lambda; k++)
            if (r->f[k] < INFINITY) lo = fmin(lo, r->f[k]), hi = fmax(hi, r->f[k]);
        if (hi - lo <= o->ftol * ref) return CMAES_RUN_FTOL;
    }
    /* NoEffectAxis: a tenth of a standard deviation along one principal
       axis (a different one each generation) moves no coordinate */
    int a = r->gen % n, moved = 0;
    for (int i = 0; i < n && !moved; i++) {
        double u = r->m[i], d = 0.1 * r->sigma * r->D[a] * r->B[(size_t)a * n + i];
        moved = to_user(p, i, u + d) != to_user(p, i, u);
    }
    if (!moved) return CMAES_RUN_NO_EFFECT_AXIS;
    /* NoEffectCoord: a fifth of a standard deviation in some coordinate */
    for (int i = 0; i < n; i++) {
        double u = r->m[i], d = 0.2 * r->sigma * sqrt(r->C[(size_t)i * n + i]);
        if (to_user(p, i, u + d) == to_user(p, i, u)) return CMAES_RUN_NO_EFFECT_COORD;
    }
    if (r->gen >= 100 + 50 * (n + 3) * (n + 3) / sqrt((double)r->lambda)) return CMAES_RUN_MAX_GENERATIONS;
    if (r->sigma * r->D[n - 1] > 1e20) return CMAES_RUN_TOL_UP_SIGMA;
    return -1;
}

/* One CMA-ES run from m0 with step sigma and population lambda, until a run
   stop or a stop of the whole search (*search_stop set). The run stop. */
static int run_cmaes(cm_run *r, cm_problem *p, const cmaes_options *o, cm_rng *g, const double *m0, double sigma,
                     int *search_stop, int *generations)
{
    run_init(r, m0, sigma);
    for (;;) {
        if (r->lambda > p->max_evals - p->evals) {
            *search_stop = CMAES_STOP_MAX_EVALS;
            return CMAES_RUN_BUDGET;
        }
        run_sample(r, p, g);
        if (run_evaluate(r, p)) {
            *search_stop = CMAES_STOP_CALLBACK;
            return CMAES_RUN_BUDGET;
        }
        if (p->fbest <= o->target) {
            *search_stop = CMAES_STOP_TARGET;
            return CMAES_RUN_BUDGET;
        }
        int finite = record_spread(r);
        if (finite == 0) return CMAES_RUN_NO_FINITE_COST;
        history_push(r, r->rank[0].key);
        run_rank(r, p);
        run_update(r);
        ++*generations;
        update_bound_weights(r, p);
        int why = run_eigen(r);
        if (why < 0) why = run_converged(r, p, o);
        if (why >= 0) return why;
    }
}

/* ---- BIPOP (Hansen 2009) ------------------------------------------------ */

cmaes_options cmaes_options_default(void)
{
    cmaes_options o;
    memset(&o, 0, sizeof o);
    o.seed = 0;
    o.max_evals = 0;
    o.max_restarts = 9;
    o.lambda0 = 0;
    o.ftol = 1e-12;
    o.xtol = 1e-11;
    o.target = -INFINITY;
    return o;
}

static int bad_input(const cmaes_options *o, int n, const double *x0, const double *sigma0, const double *lo,
                     const double *hi, cmaes_eval_fn eval, const double *xbest, const double *fbest)
{
    if (!o || n < 1 || !x0 || !sigma0 || !lo || !hi || !eval || !xbest || !fbest) return 1;
    if (o->max_evals < 0 || o->max_restarts < 0 || o->lambda0 < 0 || o->lambda0 == 1) return 1;
    if (!(o->ftol >= 0) || !(o->xtol >= 0) || isnan(o->target)) return 1;
    for (int i = 0; i < n; i++) {
        if (!isfinite(lo[i]) || !isfinite(hi[i]) || !(lo[i] <= hi[i]) || !isfinite(x0[i])) return 1;
        if (!isfinite(sigma0[i]) || !(sigma0[i] > 0)) return 1;
    }
    return 0;
}

static int default_max_evals(int n)
{
    double e = 1000.0 * n * n;
    return (int)fmin(1e7, fmax(1e4, e));
}

/* A uniform point of the box, in scaled coordinates. */
static void random_start(const cm_problem *p, cm_rng *g, double *u)
{
    for (int i = 0; i < p->n; i++) {
        double x = p->lo[i] + (p->hi[i] - p->lo[i]) * rng_uniform(g);
        u[i] = (x - p->center[i]) / p->scale[i];
    }
}

int cmaes_minimize(const cmaes_options *o, int n, const double *x0, const double *sigma0, const double *lo,
                   const double *hi, cmaes_eval_fn eval, void *ctx, double *xbest, double *fbest, cmaes_summary *sum)
{
    cmaes_summary s;
    memset(&s, 0, sizeof s);
    s.last_run_stop = -1;
    if (bad_input(o, n, x0, sigma0, lo, hi, eval, xbest, fbest)) {
        s.stop_reason = CMAES_STOP_BAD_INPUT;
        if (sum) *sum = s;
        return -2;
    }
    double *work = malloc(3 * (size_t)n * sizeof *work);
    if (!work) {
        s.stop_reason = CMAES_STOP_NO_MEMORY;
        if (sum) *sum = s;
        return -1;
    }
    cm_problem p = {.n = n,
                    .lo = lo,
                    .hi = hi,
                    .center = work,
                    .scale = work + n,
                    .eval = eval,
                    .ctx = ctx,
                    .max_evals = o->max_evals ? o->max_evals : default_max_evals(n),
                    .xbest = xbest,
                    .fbest = INFINITY};
    double *u0 = work + 2 * n;
    for (int i = 0; i < n; i++) {
        p.center[i] = clamp(x0[i], lo[i], hi[i]);
        p.scale[i] = sigma0[i];
        u0[i] = 0;
        xbest[i] = p.center[i];
    }
    cm_rng g;
    rng_seed(&g, o->seed);
    const int lambda_def = o->lambda0 ? o->lambda0 : 4 + (int)floor(3 * log((double)n));
    double budget_large = 0, budget_small = 0;
    int large_restarts = 0, rc = 0, search_stop = 0, lambda = lambda_def, large = 1;
    double sigma = 1;
    for (;;) {
        if (lambda > p.max_evals - p.evals) {
            search_stop = CMAES_STOP_MAX_EVALS;
            break;
        }
        cm_run *r = run_alloc(n, lambda);
        if (!r) {
            search_stop = CMAES_STOP_NO_MEMORY;
            rc = -1;
            break;
        }
        int before = p.evals;
        int why = run_cmaes(r, &p, o, &g, u0, sigma, &search_stop, &s.generations);
        if (o->on_run && search_stop != CMAES_STOP_CALLBACK) {
            if (r->frun == INFINITY)
                for (int i = 0; i < n; i++) r->xrun[i] = to_user(&p, i, u0[i]);
            o->on_run(ctx, s.large_runs + s.small_runs, lambda, r->xrun, r->frun, why);
        }
        run_free(r);
        s.last_run_stop = why;
        s.run_stops[why]++;
        if (large)
            s.large_runs++, budget_large += p.evals - before;
        else
            s.small_runs++, budget_small += p.evals - before;
        if (lambda > s.largest_lambda) s.largest_lambda = lambda;
        if (search_stop) break;
        /* the search ends with the last large-population run; until then
           the next regime is whichever has used less of the budget */
        if (large_restarts >= o->max_restarts) {
            search_stop = CMAES_STOP_MAX_RESTARTS;
            break;
        }
        double lambda_next_large = lambda_def * pow(2.0, large_restarts + 1);
        if (budget_small < budget_large) {
            double ul = rng_uniform(&g), us = rng_uniform(&g);
            large = 0;
            lambda = (int)floor(lambda_def * pow(0.5 * lambda_next_large / lambda_def, ul * ul));
            sigma = pow(10.0, -2 * us);
        } else {
            if (lambda_next_large > p.max_evals - p.evals) {
                search_stop = CMAES_STOP_MAX_EVALS;
                break;
            }
            large = 1;
            large_restarts++;
            lambda = (int)lambda_next_large;
            sigma = 1;
        }
        random_start(&p, &g, u0);
        s.restarts++;
    }
    if (search_stop == CMAES_STOP_CALLBACK) rc = p.callback_rc;
    *fbest = p.fbest;
    s.evals = p.evals;
    s.stop_reason = search_stop;
    if (sum) *sum = s;
    free(work);
    return rc;
}
