/*
 * nlsq against SciPy: the problems in tests/scipy/fixtures.txt, written by
 * tests/scipy/make_fixtures.py with Debian's SciPy (exact Jacobians, tight
 * tolerances), solved again here with the same options. Required: popt
 * within 1e-6 relative and pcov within 1e-4 relative of SciPy's.
 */
#include <math.h>

#include "check.h"
#include "jit_env.h"
#include "nlsq.h"

#ifndef NLSQ_SOURCE_DIR
#define NLSQ_SOURCE_DIR "."
#endif

enum { MAXN = 8, MAXM = 400 };

typedef struct fixture {
    char name[64], model[160], vars[16], sigma_kind[16], method[16], loss[16];
    size_t m;
    int n, nvars, xrows, absolute_sigma, x_scale_jac, fixed[MAXN];
    double x[2 * MAXM], y[MAXM], *sigma, p0[MAXN], lower[MAXN], upper[MAXN], f_scale;
    double popt[MAXN], pcov[MAXN * MAXN];
} fixture;

static int read_doubles(FILE *f, double *v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (fscanf(f, "%lf", &v[i]) != 1) return 0;
    return 1;
}

/* One problem; 0 at the end of the file. */
static int read_fixture(FILE *f, fixture *fx)
{
    char key[32];
    free(fx->sigma);
    memset(fx, 0, sizeof *fx);
    while (fscanf(f, "%31s", key) == 1) {
        if (key[0] == '#') {
            int c;
            while ((c = fgetc(f)) != '\n' && c != EOF) {}
        } else if (!strcmp(key, "problem")) {
            if (fscanf(f, "%63s", fx->name) != 1) return 0;
        } else if (!strcmp(key, "model")) {
            if (!fgets(fx->model, sizeof fx->model, f)) return 0;
            fx->model[strcspn(fx->model, "\n")] = 0;
        } else if (!strcmp(key, "vars")) {
            if (fscanf(f, "%15s", fx->vars) != 1) return 0;
            fx->nvars = strchr(fx->vars, ',') ? 2 : 1;
        } else if (!strcmp(key, "m")) {
            if (fscanf(f, "%zu", &fx->m) != 1 || fx->m > MAXM) return 0;
        } else if (!strcmp(key, "x")) {
            if (fx->xrows == 2 || !read_doubles(f, fx->x + (size_t)fx->xrows++ * fx->m, fx->m)) return 0;
        } else if (!strcmp(key, "y")) {
            if (!read_doubles(f, fx->y, fx->m)) return 0;
        } else if (!strcmp(key, "sigma_kind")) {
            if (fscanf(f, "%15s", fx->sigma_kind) != 1) return 0;
        } else if (!strcmp(key, "sigma")) {
            size_t count = !strcmp(fx->sigma_kind, "scalar") ? 1
                         : !strcmp(fx->sigma_kind, "1d")     ? fx->m
                                                             : fx->m * fx->m;
            fx->sigma = malloc(count * sizeof *fx->sigma);
            if (!read_doubles(f, fx->sigma, count)) return 0;
        } else if (!strcmp(key, "p0") || !strcmp(key, "lower") || !strcmp(key, "upper") || !strcmp(key, "popt")) {
            double *dst = key[0] == 'l' ? fx->lower : key[0] == 'u' ? fx->upper : key[1] == '0' ? fx->p0 : fx->popt;
            if (!fx->n) { /* the first vector tells n */
                char line[4096];
                if (!fgets(line, sizeof line, f)) return 0;
                char *s = line, *end;
                for (double v = strtod(s, &end); end != s && fx->n < MAXN; v = strtod(s = end, &end)) dst[fx->n++] = v;
            } else if (!read_doubles(f, dst, (size_t)fx->n)) {
                return 0;
            }
        } else if (!strcmp(key, "fixed")) {
            for (int j = 0; j < fx->n; j++)
                if (fscanf(f, "%d", &fx->fixed[j]) != 1) return 0;
        } else if (!strcmp(key, "method")) {
            if (fscanf(f, "%15s", fx->method) != 1) return 0;
        } else if (!strcmp(key, "loss")) {
            if (fscanf(f, "%15s", fx->loss) != 1) return 0;
        } else if (!strcmp(key, "f_scale")) {
            if (fscanf(f, "%lf", &fx->f_scale) != 1) return 0;
        } else if (!strcmp(key, "absolute_sigma")) {
            if (fscanf(f, "%d", &fx->absolute_sigma) != 1) return 0;
        } else if (!strcmp(key, "x_scale_jac")) {
            if (fscanf(f, "%d", &fx->x_scale_jac) != 1) return 0;
        } else if (!strcmp(key, "pcov")) {
            if (!read_doubles(f, fx->pcov, (size_t)fx->n * (size_t)fx->n)) return 0;
        } else if (!strcmp(key, "end")) {
            return 1;
        }
    }
    return 0;
}

static nlsq_loss loss_of(const char *s)
{
    static const char *names[] = {"linear", "soft_l1", "huber", "cauchy", "arctan"};
    for (int k = 0; k < 5; k++)
        if (!strcmp(s, names[k])) return (nlsq_loss)k;
    return (nlsq_loss)-1;
}

static void check_fixture(fixture *fx, int *compared)
{
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = fx->vars;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(fx->model, &mo, &m, &e) != NLSQ_OK) {
        CHECK_MSG(0, "%s: %s", fx->name, e.message);
        return;
    }
    nlsq_options o = nlsq_options_default();
    unsigned char fixed[MAXN];
    for (int j = 0; j < fx->n; j++) fixed[j] = (unsigned char)fx->fixed[j];
    o.p0 = fx->p0;
    o.lower = fx->lower;
    o.upper = fx->upper;
    o.fixed = fixed;
    o.method = !strcmp(fx->method, "lm") ? NLSQ_LM : !strcmp(fx->method, "dogbox") ? NLSQ_DOGBOX : NLSQ_TRF;
    o.loss = loss_of(fx->loss);
    o.f_scale = fx->f_scale;
    o.absolute_sigma = fx->absolute_sigma;
    o.x_scale_jac = fx->x_scale_jac;
    o.max_nfev = 100000;
    nlsq_data d = {fx->x, fx->y, fx->m, fx->sigma, NLSQ_SIGMA_NONE};
    if (!strcmp(fx->sigma_kind, "scalar")) d.sigma_kind = NLSQ_SIGMA_SCALAR;
    if (!strcmp(fx->sigma_kind, "1d")) d.sigma_kind = NLSQ_SIGMA_PER_POINT;
    if (!strcmp(fx->sigma_kind, "2d")) d.sigma_kind = NLSQ_SIGMA_COVARIANCE;
    nlsq_result *r = NULL;
    if (nlsq_curve_fit(m, &d, &o, &r, &e) != NLSQ_OK) {
        CHECK_MSG(0, "%s: %s", fx->name, e.message);
        nlsq_model_free(m);
        return;
    }
    CHECK_MSG(r->success, "%s: status %d %s", fx->name, r->status, r->message);
    double worst_p = 0, worst_c = 0;
    int n = fx->n;
    for (int j = 0; j < n; j++) {
        double want = fx->popt[j], rel = fabs(r->popt[j] - want) / fmax(fabs(want), 1e-300);
        worst_p = fmax(worst_p, rel);
        CHECK_NEAR(r->popt[j], want, 1e-6 * fabs(want), "%s popt[%d]", fx->name, j);
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double want = fx->pcov[a * n + b];
            /* off-diagonal entries near zero: relative to the variances */
            double scale = fmax(fabs(want), sqrt(fabs(fx->pcov[a * n + a] * fx->pcov[b * n + b])) * 1e-3);
            double rel = scale > 0 ? fabs(r->pcov[a * n + b] - want) / scale : fabs(r->pcov[a * n + b]);
            worst_c = fmax(worst_c, rel);
            CHECK_NEAR(r->pcov[a * n + b], want, 1e-4 * scale, "%s pcov[%d][%d]", fx->name, a, b);
        }
    printf("    %-24s %-3s %-8s sigma %-6s max rel diff: popt %.1e  pcov %.1e\n", fx->name, fx->method, fx->loss,
           fx->sigma_kind, worst_p, worst_c);
    ++*compared;
    if (d.sigma_kind != NLSQ_SIGMA_COVARIANCE) jit_env_check(r, fx->name);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

static void test_curve_fit_matches_scipy_fixtures(void)
{
    if (device_env_skip()) return;
    const char *path = NLSQ_SOURCE_DIR "/tests/scipy/fixtures.txt";
    FILE *f = fopen(path, "r");
    if (!f) {
        CHECK_MSG(0, "cannot open %s", path);
        return;
    }
    static fixture fx;
    int compared = 0;
    while (read_fixture(f, &fx)) check_fixture(&fx, &compared);
    free(fx.sigma);
    fx.sigma = NULL;
    fclose(f);
    CHECK_MSG(compared >= 20, "only %d fixtures compared", compared);
    jit_env_report();
}

int main(void)
{
    static const test_case tests[] = {TEST(test_curve_fit_matches_scipy_fixtures)};
    return run_tests(tests, 1);
}
