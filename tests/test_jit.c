/*
 * The compiled kernels against the interpreter, which is their reference.
 * A kernel repeats the interpreter's arithmetic operation for operation
 * (same libmvec or libm calls, same order, no contraction into FMA), so on
 * x86-64 the values, R_aug, costs and fitted parameters must agree bit for
 * bit; elsewhere to 1e-12 relative. Covered: the four reference models,
 * every function of the language, 1,000 random models (the first 250
 * unless NLSQ_TEST_FULL: make test-full), fits (also with
 * fixed parameters, robust losses, sigma, kept residuals and 1..8
 * threads), the switch from interpreter to kernel in the middle of a fit,
 * the on-disk cache (reuse, corrupt and foreign files, concurrent builds)
 * and fits without a working compiler.
 *
 * The cache lives in a temporary XDG_CACHE_HOME made here. Without a C
 * compiler the comparisons are reported as skipped, with the reason.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "exec/exec.h"
#include "exec/jit.h"
#include "nlsq.h"
#include "models.h"
#include "random_model.h"

/* $NLSQ_TEST_RANDOM_MODELS for quick runs (TSan, valgrind) */
enum { NRANDOM_FULL = 1000, NRANDOM_QUICK = 250 };
static int nrandom;

static char cache_root[256];
static const char *user_cc; /* $NLSQ_CC as given: the tests use that compiler */
static int compiler_ok = -1;
static char compiler_note[240];

static int kernel_width(void)
{
    const vmath *wide = vmath_avx2();
    return wide && vmath_select() == wide ? 4 : 1;
}

/* Bitwise on x86-64 (NaN equal to NaN), 1e-12 relative elsewhere. */
static int agree(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
#if defined(__x86_64__)
    return a == b && signbit(a) == signbit(b);
#else
    return a == b || fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
#endif
}

static nlsq_model *parse_vars(const char *text, const char *vars)
{
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = vars;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &o, &m, &e) != NLSQ_OK) {
        printf("    cannot parse %s: %s\n", text, e.message);
        check_failures++;
    }
    return m;
}

static int all_cols(const nlsq_model *m, int *cols)
{
    for (int j = 0; j < m->params.count; j++) cols[j] = j;
    return m->params.count;
}

/* Is there a compiler that builds kernels here? Asked once, with a model
   of its own. */
static int need_compiler(void)
{
    if (compiler_ok < 0) {
        nlsq_model *m = parse_vars("a*x", "x");
        int cols[1] = {0};
        jit_entry *e = m ? jit_get(m, cols, 1, kernel_width(), JIT_WAIT) : NULL;
        compiler_ok = jit_kernel_ready(e) != NULL;
        if (e) jit_entry_note(m, e, compiler_note, sizeof compiler_note);
        nlsq_model_free(m);
    }
    if (!compiler_ok) {
        char why[300];
        snprintf(why, sizeof why, "no kernel could be built here (%s)", compiler_note);
        test_skip(why);
    }
    return compiler_ok;
}

/* ---- one pass on each backend ------------------------------------------- */

typedef struct pass_case {
    const double *x, *y, *sigma;
    size_t m;
    double sigma_all;
    nlsq_loss loss;
    int residuals, omit;
} pass_case;

/* Run the pass on the interpreter and on the kernel of e; count the
   numbers that disagree (0 = all agree). */
static int compare_pass(const nlsq_model *m, jit_entry *e, const int *cols, int ncols, const double *params,
                        const pass_case *pc, const char *what)
{
    const program *p = &m->prog;
    pass a, b;
    int bad = 0;
    size_t nc = (size_t)ncols + 1;
    double *Ra = calloc(nc * nc, sizeof *Ra), *Rb = calloc(nc * nc, sizeof *Rb);
    double *ra = pc->residuals ? malloc(pc->m * sizeof *ra) : NULL,
           *rb = pc->residuals ? malloc(pc->m * sizeof *rb) : NULL;
    if (pass_init(&a, p, vmath_select(), cols, ncols, pc->loss, 1.5, NULL) != 0 ||
        pass_init(&b, p, vmath_select(), cols, ncols, pc->loss, 1.5, NULL) != 0 || pass_use_jit(&b, e) != 0) {
        printf("    out of memory\n");
        exit(1);
    }
    pass_arrays da = {pc->x, pc->m, pc->y, pc->sigma};
    pass_data d = pass_data_arrays(&da, pc->m, pc->sigma_all, pc->omit);
    pass_out oa = {.R = Ra, .residuals = ra}, ob = {.R = Rb, .residuals = rb};
    pass_run(&a, &d, params, &oa);
    pass_run(&b, &d, params, &ob);
    if (b.jit_passes != 1) {
        printf("    %s: the kernel did not run\n", what);
        bad++;
    }
    bad += !agree(oa.cost, ob.cost) + !agree(oa.chi2, ob.chi2) + ((oa.nonfinite != 0) != (ob.nonfinite != 0));
    for (size_t k = 0; k < nc * nc; k++) bad += !agree(Ra[k], Rb[k]);
    for (size_t i = 0; ra && i < pc->m; i++) bad += !agree(ra[i], rb[i]);
    if (bad) printf("    %s: %d numbers differ (cost %.17g vs %.17g)\n", what, bad, oa.cost, ob.cost);
    pass_free(&a);
    pass_free(&b);
    free(Ra);
    free(Rb);
    free(ra);
    free(rb);
    return bad;
}

/* The kernel's block entry (used for robust losses and kept residuals)
   against the interpreter's outputs, value by value. */
static int compare_block(const nlsq_model *m, const jit_kernel *k, const int *cols, int ncols, const double *params,
                         const double *x, size_t m_pts, const char *what)
{
    const program *p = &m->prog;
    interp it;
    int bad = 0;
    double *u = malloc((size_t)(p->nuniform + 1) * sizeof *u);
    double *xb = malloc((size_t)NLSQ_BLOCK * (size_t)(p->nvars + 1) * sizeof *xb);
    double *out = malloc((size_t)NLSQ_BLOCK * (size_t)(ncols + 1) * sizeof *out);
    if (!u || !xb || !out || interp_init(&it, p, vmath_select()) != 0) exit(1);
    interp_uniform(&it, params);
    k->uniform(params, u);
    for (size_t start = 0; start < m_pts; start += NLSQ_BLOCK) {
        size_t len = m_pts - start < NLSQ_BLOCK ? m_pts - start : NLSQ_BLOCK;
        interp_block(&it, x, m_pts, start, len);
        k->block(u, x, m_pts, start, len, xb, out);
        for (size_t i = 0; i < len; i++) {
            bad += !agree(interp_output(&it, 0)[i], out[(size_t)ncols * NLSQ_BLOCK + i]);
            for (int c = 0; c < ncols; c++)
                bad += !agree(interp_output(&it, cols[c] + 1)[i], out[(size_t)c * NLSQ_BLOCK + i]);
        }
    }
    if (bad) printf("    %s: %d values or derivatives differ\n", what, bad);
    interp_free(&it);
    free(u);
    free(xb);
    free(out);
    return bad;
}

/* ---- the reference models ------------------------------------------------ */

typedef struct dataset {
    double *x, *y, *sigma;
    size_t m;
} dataset;

/* m points of the model at p, with noise; x (and y for two variables) in
   [-3, 3]. A few NaN in y when `holes`. */
static dataset make_data(const nlsq_model *m, const double *p, size_t npts, unsigned long long seed, int holes)
{
    dataset d = {malloc(2 * npts * sizeof(double)), malloc(npts * sizeof(double)), malloc(npts * sizeof(double)), npts};
    rng r = {seed};
    for (size_t i = 0; i < npts; i++) {
        d.x[i] = rng_range(&r, -3, 3);
        d.x[npts + i] = rng_range(&r, -3, 3);
        d.sigma[i] = rng_range(&r, 0.5, 2);
    }
    nlsq_model_eval(m, p, d.x, npts, d.y, NULL, NULL);
    for (size_t i = 0; i < npts; i++) {
        d.y[i] += rng_range(&r, -0.05, 0.05);
        if (holes && i % 997 == 5) d.y[i] = NAN;
    }
    return d;
}

static void free_data(dataset *d)
{
    free(d->x);
    free(d->y);
    free(d->sigma);
}

static void test_reference_models_agree_with_the_interpreter(void)
{
    if (!need_compiler()) return;
    int compared = 0;
    for (size_t k = 0; k < sizeof REFS / sizeof REFS[0]; k++) {
        const ref_model *rm = &REFS[k];
        nlsq_model *m = parse_vars(rm->text, rm->vars);
        if (!m) continue;
        int cols[10], nc = all_cols(m, cols);
        jit_entry *e = jit_get(m, cols, nc, kernel_width(), JIT_WAIT);
        const jit_kernel *kern = jit_kernel_ready(e);
        CHECK_MSG(kern != NULL, "%s: no kernel", rm->name);
        if (!kern) {
            nlsq_model_free(m);
            continue;
        }
        /* 100003 points: seven chunks, the last with a short block */
        dataset d = make_data(m, rm->p, 100003, 11 + k, 1);
        double q[10];
        for (int j = 0; j < rm->n; j++) q[j] = rm->p[j] * 1.1 + 0.01; /* away from the optimum */
        pass_case cases[] = {
            {d.x, d.y, NULL, d.m, 1.0, NLSQ_LOSS_LINEAR, 0, 0},     /* the fused chunk     */
            {d.x, d.y, NULL, d.m, 0.25, NLSQ_LOSS_LINEAR, 0, 0},    /* scalar sigma        */
            {d.x, d.y, d.sigma, d.m, 1.0, NLSQ_LOSS_LINEAR, 0, 0},  /* per-point sigma     */
            {d.x, d.y, d.sigma, d.m, 1.0, NLSQ_LOSS_SOFT_L1, 0, 1}, /* robust, NaN omitted */
            {d.x, d.y, NULL, d.m, 1.0, NLSQ_LOSS_CAUCHY, 1, 1},     /* residuals kept      */
            {d.x, d.y, NULL, 1000, 1.0, NLSQ_LOSS_LINEAR, 0, 0},    /* one chunk, short    */
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            char what[120];
            snprintf(what, sizeof what, "%s, case %zu", rm->name, c);
            CHECK(compare_pass(m, e, cols, nc, q, &cases[c], what) == 0);
            compared++;
        }
        CHECK(compare_block(m, kern, cols, nc, q, d.x, 5000, rm->name) == 0);
        /* a kernel for a subset of the parameters (the others fixed) */
        int sub[2] = {0, nc - 1};
        jit_entry *es = jit_get(m, sub, 2, kernel_width(), JIT_WAIT);
        CHECK(es != e && jit_kernel_ready(es));
        if (jit_kernel_ready(es)) {
            CHECK(compare_pass(m, es, sub, 2, q, &cases[0], "two free columns") == 0);
            CHECK(compare_block(m, jit_kernel_ready(es), sub, 2, q, d.x, 777, "two free columns") == 0);
        }
        free_data(&d);
        nlsq_model_free(m);
    }
    printf("    %d passes of the four reference models agree %s\n", compared,
#if defined(__x86_64__)
           "bit for bit"
#else
           "to 1e-12"
#endif
    );
}

/* ---- every function of the language ---------------------------------------- */

static void test_every_function_agrees_with_the_interpreter(void)
{
    if (!need_compiler()) return;
    /* each function applied to something that moves with the parameters;
       x in [-3, 3] reaches both sides of every domain edge */
    int n = (int)(sizeof FUNCTION_MODELS / sizeof FUNCTION_MODELS[0]);
    double p[3] = {1.3, 0.7, 0.4};
    for (int k = 0; k < n; k++) {
        nlsq_model *m = parse_vars(FUNCTION_MODELS[k], "x");
        if (!m) continue;
        int cols[3], nc = all_cols(m, cols);
        jit_entry *e = jit_get(m, cols, nc, kernel_width(), JIT_WAIT);
        const jit_kernel *kern = jit_kernel_ready(e);
        CHECK_MSG(kern != NULL, "%s: no kernel", FUNCTION_MODELS[k]);
        if (kern) {
            dataset d = make_data(m, p, 3001, 100 + (unsigned)k, 0);
            /* x exactly at some edges too: 0, 1, -1, the where() thresholds */
            double edges[] = {0, 1, -1, 0.7, 0.4, 0.5, -0.0, 3, -3};
            for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) d.x[i * 7] = edges[i];
            pass_case lin = {d.x, d.y, NULL, d.m, 1.0, NLSQ_LOSS_LINEAR, 0, 0};
            pass_case kept = {d.x, d.y, NULL, d.m, 1.0, NLSQ_LOSS_HUBER, 1, 0};
            CHECK_MSG(compare_pass(m, e, cols, nc, p, &lin, FUNCTION_MODELS[k]) == 0, "%s: pass", FUNCTION_MODELS[k]);
            CHECK_MSG(compare_pass(m, e, cols, nc, p, &kept, FUNCTION_MODELS[k]) == 0, "%s: pass, residuals",
                      FUNCTION_MODELS[k]);
            CHECK_MSG(compare_block(m, kern, cols, nc, p, d.x, d.m, FUNCTION_MODELS[k]) == 0, "%s: values",
                      FUNCTION_MODELS[k]);
            free_data(&d);
        }
        nlsq_model_free(m);
    }
    printf("    %d models covering every function and operator agree\n", n);
}

/* ---- random models (1,000 in make test-full) ---------------------------------- */

static void test_random_models_agree_with_the_interpreter(void)
{
    if (!need_compiler()) return;
    enum { BATCH = 8, NPTS = 700 };
    static tree t;
    static char text[1 << 16];
    rng r = {0x9e3779b97f4a7c15ull};
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = "x,y";
    int made = 0, compared = 0, values = 0;
    double *x = malloc(2 * NPTS * sizeof *x), *y = malloc(NPTS * sizeof *y);
    while (made < nrandom && check_failures < 10) {
        /* a batch compiles in the background, in parallel, then is checked */
        nlsq_model *ms[BATCH];
        jit_entry *es[BATCH];
        int nb = 0;
        while (nb < BATCH && made < nrandom) {
            t.count = 0;
            int root = gen(&t, &r, 1 + rng_int(&r, 5));
            size_t len = 0;
            print(&t, root, text, sizeof text, &len);
            nlsq_model *m = NULL;
            if (nlsq_model_parse(text, &o, &m, NULL) != NLSQ_OK) continue; /* a dropped parameter */
            int cols[MAXP], nc = all_cols(m, cols);
            es[nb] = jit_get(m, cols, nc, kernel_width(), JIT_BACKGROUND);
            ms[nb++] = m;
            made++;
        }
        for (int b = 0; b < nb; b++) {
            nlsq_model *m = ms[b];
            int cols[MAXP], nc = all_cols(m, cols);
            jit_entry *e = jit_get(m, cols, nc, kernel_width(), JIT_WAIT);
            const jit_kernel *kern = jit_kernel_ready(e);
            char label[64];
            snprintf(label, sizeof label, "random model %d", made - nb + b);
            CHECK_MSG(kern != NULL && e == es[b], "%s: no kernel: %s", label, e ? e->note : "");
            if (kern) {
                double p[MAXP];
                for (int j = 0; j < MAXP; j++) p[j] = rng_range(&r, -2, 2);
                for (int i = 0; i < 2 * NPTS; i++) x[i] = rng_range(&r, -2.5, 2.5);
                for (int i = 0; i < NPTS; i++) y[i] = rng_range(&r, -1, 1);
                pass_case lin = {x, y, NULL, NPTS, 1.0, NLSQ_LOSS_LINEAR, 0, 0};
                pass_case kept = {x, y, NULL, NPTS, 1.0, NLSQ_LOSS_LINEAR, 1, 0};
                int before = check_failures;
                CHECK(compare_pass(m, e, cols, nc, p, &lin, label) == 0);
                CHECK(compare_pass(m, e, cols, nc, p, &kept, label) == 0);
                CHECK(compare_block(m, kern, cols, nc, p, x, NPTS, label) == 0);
                values += NPTS * (nc + 1);
                if (check_failures > before) {
                    char buf[1 << 12];
                    nlsq_model_format(m, -1, buf, sizeof buf);
                    printf("    in %s: %s\n", label, buf);
                }
                compared++;
            }
            nlsq_model_free(m);
        }
    }
    free(x);
    free(y);
    printf("    %d random models compiled; passes, R_aug and %d values and derivatives agree\n", compared, values);
    CHECK(compared == nrandom);
}

/* ---- fits ------------------------------------------------------------------------ */

static int slow_iterations;

static int sleep_a_little(void *user, int iteration, double cost, const double *params, double grad_norm,
                          double step_norm)
{
    (void)user, (void)iteration, (void)cost, (void)params, (void)grad_norm, (void)step_norm;
    usleep(60000);
    return 0;
}

static nlsq_result *fit_on(nlsq_model *m, const dataset *d, const double *p0, nlsq_backend backend, int threads,
                           nlsq_loss loss, const unsigned char *fixed)
{
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.backend = backend;
    o.threads = threads;
    o.loss = loss;
    o.fixed = fixed;
    if (slow_iterations) o.callback = sleep_a_little;
    nlsq_data data = {d->x, d->y, d->m, d->sigma, NLSQ_SIGMA_PER_POINT};
    nlsq_result *r = NULL;
    nlsq_error err;
    if (nlsq_curve_fit(m, &data, &o, &r, &err) != NLSQ_OK) {
        printf("    fit failed: %s\n", err.message);
        check_failures++;
    }
    return r;
}

static int same_result(const nlsq_result *a, const nlsq_result *b)
{
    int bad = !agree(a->cost, b->cost) + (a->nfev != b->nfev);
    for (int j = 0; j < a->n; j++) bad += !agree(a->popt[j], b->popt[j]);
    for (int j = 0; j < a->n * a->n; j++) bad += !agree(a->pcov[j], b->pcov[j]);
    return bad == 0;
}

static void test_fits_agree_with_the_interpreter(void)
{
    if (!need_compiler()) return;
    int fits = 0;
    for (size_t k = 0; k < sizeof REFS / sizeof REFS[0]; k++) {
        const ref_model *rm = &REFS[k];
        nlsq_model *m = parse_vars(rm->text, rm->vars);
        if (!m) continue;
        dataset d = make_data(m, rm->p, 20000, 500 + k, 0);
        double p0[10];
        for (int j = 0; j < rm->n; j++) p0[j] = rm->p[j] * 1.05 + 0.02;
        unsigned char fixed[10] = {0};
        fixed[1] = 1;
        nlsq_loss losses[2] = {NLSQ_LOSS_LINEAR, NLSQ_LOSS_SOFT_L1};
        for (int variant = 0; variant < 3; variant++) {
            nlsq_loss loss = losses[variant == 1];
            const unsigned char *fx = variant == 2 ? fixed : NULL;
            nlsq_result *ri = fit_on(m, &d, p0, NLSQ_BACKEND_INTERP, 2, loss, fx);
            nlsq_result *rj = fit_on(m, &d, p0, NLSQ_BACKEND_JIT, 2, loss, fx);
            if (ri && rj) {
                CHECK_MSG(same_result(ri, rj), "%s variant %d: the fits differ", rm->name, variant);
                CHECK_MSG(strcmp(rj->backend, "jit") == 0 && rj->jit_passes == rj->passes,
                          "%s: backend %s, %d of %d passes compiled", rm->name, rj->backend, rj->jit_passes,
                          rj->passes);
                CHECK(strcmp(ri->backend, "interp") == 0 && ri->jit_passes == 0 && ri->backend_note[0] == 0);
                CHECK(ri->success && rj->success);
                fits++;
            }
            nlsq_result_free(ri);
            nlsq_result_free(rj);
        }
        free_data(&d);
        nlsq_model_free(m);
    }
    printf("    %d fits (linear, soft_l1, a fixed parameter): popt, pcov, cost and nfev agree\n", fits);
    CHECK(fits == 12);
}

/* 10^6 points on 1, 2, 3 and 8 threads with the kernel: the same bits,
   and the interpreter's. */
static void test_compiled_fits_are_bitwise_identical_for_any_thread_count(void)
{
    if (!need_compiler()) return;
    nlsq_model *m = parse_vars("a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + c", "x");
    if (!m) return;
    double p[7] = {1, -1, 0.5, 2, 0.5, 0.3, 0.1}, p0[7] = {1.2, -0.9, 0.6, 1.8, 0.55, 0.35, 0.0};
    dataset d = make_data(m, p, 1000000, 77, 0);
    nlsq_result *ref = fit_on(m, &d, p0, NLSQ_BACKEND_INTERP, 2, NLSQ_LOSS_LINEAR, NULL);
    int counts[4] = {1, 2, 3, 8};
    for (int k = 0; k < 4 && ref; k++) {
        nlsq_result *r = fit_on(m, &d, p0, NLSQ_BACKEND_JIT, counts[k], NLSQ_LOSS_LINEAR, NULL);
        if (!r) continue;
        CHECK_MSG(same_result(r, ref), "%d threads: the compiled fit differs", counts[k]);
        CHECK(r->threads == counts[k] && strcmp(r->backend, "jit") == 0);
        nlsq_result_free(r);
    }
    if (ref) CHECK_NEAR(ref->popt[3], 2.0, 1e-3, "a2");
    nlsq_result_free(ref);
    free_data(&d);
    nlsq_model_free(m);
}

/* auto: the kernel compiles in the background and takes over between two
   passes; wherever that happens, the fit is the interpreter's. */
static void test_background_compile_switches_without_changing_the_fit(void)
{
    if (!need_compiler()) return;
    /* a model text not compiled before in this cache */
    const char *text = "a*exp(-b*x) + c*x + 0.123456";
    nlsq_model *mi = parse_vars(text, "x"), *ma = parse_vars(text, "x");
    if (!mi || !ma) return;
    double p[3] = {2, 0.5, 0.1}, p0[3] = {1, 1, 1};
    dataset d = make_data(mi, p, 400000, 5, 0);
    nlsq_result *ri = fit_on(mi, &d, p0, NLSQ_BACKEND_INTERP, 2, NLSQ_LOSS_LINEAR, NULL);
    /* iterations slowed down (a callback that sleeps) so the compiler
       finishes in the middle of the fit */
    slow_iterations = 1;
    nlsq_result *ra = fit_on(ma, &d, p0, NLSQ_BACKEND_AUTO, 2, NLSQ_LOSS_LINEAR, NULL);
    slow_iterations = 0;
    if (ri && ra) {
        CHECK(same_result(ri, ra));
        printf("    auto, compiling in the background: the last %d of %d passes ran compiled (%s); the fit is the "
               "interpreter's, bit for bit\n",
               ra->jit_passes, ra->passes, ra->backend_note);
    }
    nlsq_result_free(ra);
    /* the auto fit must have started the compile on a thread of its own
       (not left it to the wait below), and it must have succeeded */
    int cols[3] = {0, 1, 2};
    jit_entry *e = jit_get(ma, cols, 3, kernel_width(), JIT_WAIT);
    CHECK(e && e->has_thread && !e->from_cache);
    CHECK(jit_kernel_ready(e) != NULL);
    ra = fit_on(ma, &d, p0, NLSQ_BACKEND_AUTO, 2, NLSQ_LOSS_LINEAR, NULL);
    if (ri && ra) {
        CHECK(same_result(ri, ra));
        CHECK_MSG(ra->jit_passes == ra->passes && strcmp(ra->backend, "jit") == 0, "second fit: %d of %d compiled",
                  ra->jit_passes, ra->passes);
    }
    nlsq_result_free(ra);
    nlsq_result_free(ri);
    free_data(&d);
    nlsq_model_free(mi);
    nlsq_model_free(ma);
}

/* ---- the cache ---------------------------------------------------------------------- */

static void cache_path(const jit_entry *e, char *buf, size_t size)
{
    snprintf(buf, size, "%s/nlsq/%s.so", cache_root, e->key);
}

static jit_entry *kernel_for(nlsq_model *m)
{
    int cols[10], nc = all_cols(m, cols);
    return jit_get(m, cols, nc, kernel_width(), JIT_WAIT);
}

static void test_cache_is_reused_and_bad_files_are_rebuilt(void)
{
    if (!need_compiler()) return;
    const char *text = "a*sin(b*x) + c*cos(x) + 0.5";
    nlsq_model *m1 = parse_vars(text, "x");
    jit_entry *e1 = m1 ? kernel_for(m1) : NULL;
    CHECK(e1 && jit_kernel_ready(e1) && !e1->from_cache);
    if (!e1) return;
    char path[512], note[240];
    cache_path(e1, path, sizeof path);
    struct stat st;
    CHECK_MSG(stat(path, &st) == 0 && S_ISREG(st.st_mode), "no cache file %s", path);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/nlsq", cache_root);
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);

    /* a new model of the same text finds it on disk */
    nlsq_model *m2 = parse_vars(text, "x");
    jit_entry *e2 = m2 ? kernel_for(m2) : NULL;
    CHECK(e2 && jit_kernel_ready(e2) && e2->from_cache);
    if (e2) {
        jit_entry_note(m2, e2, note, sizeof note);
        printf("    second model: %s\n", note);
    }
    nlsq_model_free(m2);
    nlsq_model_free(m1); /* unmapped: the file may now be overwritten in place */

    /* garbage in the file: detected, removed, rebuilt */
    FILE *f = fopen(path, "w");
    fputs("this is not a shared object\n", f);
    fclose(f);
    nlsq_model *m3 = parse_vars(text, "x");
    jit_entry *e3 = m3 ? kernel_for(m3) : NULL;
    CHECK(e3 && jit_kernel_ready(e3) && !e3->from_cache);
    nlsq_model_free(m3);

    /* a foreign kernel under this key: its key does not match; rebuilt */
    nlsq_model *other = parse_vars("q*x + 7", "x");
    jit_entry *eo = other ? kernel_for(other) : NULL;
    if (eo && jit_kernel_ready(eo)) {
        char opath[512], cmd[1200];
        cache_path(eo, opath, sizeof opath);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", opath, path);
        CHECK(system(cmd) == 0);
        nlsq_model *m4 = parse_vars(text, "x");
        jit_entry *e4 = m4 ? kernel_for(m4) : NULL;
        CHECK(e4 && jit_kernel_ready(e4) && !e4->from_cache && strcmp(jit_kernel_ready(e4)->key, e4->key) == 0);
        nlsq_model_free(m4);
        /* and the rebuilt file is good again */
        nlsq_model *m5 = parse_vars(text, "x");
        jit_entry *e5 = m5 ? kernel_for(m5) : NULL;
        CHECK(e5 && e5->from_cache);
        nlsq_model_free(m5);
    }
    nlsq_model_free(other);
}

typedef struct racer {
    const char *text;
    int ok;
} racer;

static void *race(void *arg)
{
    racer *rc = arg;
    nlsq_model *m = NULL;
    if (nlsq_model_parse(rc->text, NULL, &m, NULL) != NLSQ_OK) return NULL;
    jit_entry *e = kernel_for(m);
    rc->ok = jit_kernel_ready(e) != NULL;
    nlsq_model_free(m);
    return NULL;
}

static void test_concurrent_builds_of_one_kernel_both_succeed(void)
{
    if (!need_compiler()) return;
    racer r[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        r[k].text = "a*atan(b*x) + c + 0.25";
        r[k].ok = 0;
        CHECK(pthread_create(&th[k], NULL, race, &r[k]) == 0);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        CHECK_MSG(r[k].ok, "builder %d got no kernel", k);
    }
    /* no temporary files are left behind */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/nlsq", cache_root);
    DIR *dp = opendir(dir);
    int temps = 0;
    for (struct dirent *de = dp ? readdir(dp) : NULL; de; de = readdir(dp))
        if ((de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) ||
            strstr(de->d_name, ".tmp-"))
            temps++;
    if (dp) closedir(dp);
    CHECK_MSG(temps == 0, "%d temporary files left in the cache", temps);
}

/* Defect 16: a file planted in the cache under a kernel's key is checked
   from its bytes before it is loaded: its constructor never runs, it is
   removed and the kernel rebuilt; the kernel built carries the seal of its
   key at its end. */
static void defect16_planted_kernel_is_not_loaded(void)
{
    if (!need_compiler()) return;
    const char *text = "a*tanh(b*x) + c + 0.125";
    nlsq_model *m1 = parse_vars(text, "x");
    jit_entry *e1 = m1 ? kernel_for(m1) : NULL;
    CHECK(e1 && jit_kernel_ready(e1));
    if (!e1) {
        nlsq_model_free(m1);
        return;
    }
    char path[512], key[33];
    cache_path(e1, path, sizeof path);
    snprintf(key, sizeof key, "%s", e1->key);
    /* the seal: "NLSQKEY1", the key, a checksum */
    FILE *f = fopen(path, "rb");
    char seal[73] = "";
    if (f && fseek(f, -72, SEEK_END) == 0) seal[fread(seal, 1, 72, f)] = 0;
    if (f) fclose(f);
    CHECK_MSG(strncmp(seal, "NLSQKEY1", 8) == 0 && strncmp(seal + 8, key, 32) == 0, "the kernel's seal: '%.72s'", seal);
    nlsq_model_free(m1);

    /* a shared object whose constructor leaves a mark, with and without a
       seal copied from the real kernel (its checksum does not fit) */
    char src[600], so[600], mark[600], cmd[2400];
    snprintf(src, sizeof src, "%s/plant.c", cache_root);
    snprintf(so, sizeof so, "%s/plant.so", cache_root);
    snprintf(mark, sizeof mark, "%s/planted-constructor-ran", cache_root);
    f = fopen(src, "w");
    fprintf(f,
            "#include <stdio.h>\n__attribute__((constructor)) static void plant(void)\n"
            "{ FILE *f = fopen(\"%s\", \"w\"); if (f) fclose(f); }\n"
            "const char *nlsq_planted_key = \"%s\";\n",
            mark, key);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s -shared -fPIC -o '%s' '%s'", user_cc ? user_cc : "cc", so, src);
    if (system(cmd) != 0) {
        test_skip("cannot build a shared object to plant");
        return;
    }
    for (int sealed = 0; sealed < 2; sealed++) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", so, path);
        CHECK(system(cmd) == 0);
        if (sealed) {
            f = fopen(path, "ab");
            fwrite(seal, 1, 72, f);
            fclose(f);
        }
        nlsq_model *m = parse_vars(text, "x");
        jit_entry *e = m ? kernel_for(m) : NULL;
        CHECK(e && jit_kernel_ready(e) && !e->from_cache);
        CHECK_MSG(access(mark, F_OK) != 0, "the planted file's constructor ran (%s)", sealed ? "sealed" : "bare");
        if (e) {
            char note[240];
            jit_entry_note(m, e, note, sizeof note);
            printf("    planted %s file: %s\n", sealed ? "a sealed" : "a bare", note);
        }
        nlsq_model_free(m);
    }
    unlink(src);
    unlink(so);
    unlink(mark);
}

/* ---- no compiler ------------------------------------------------------------------------ */

static void fit_without_compiler(const char *cc, const char *path, const char *expect)
{
    char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    if (cc)
        setenv("NLSQ_CC", cc, 1);
    else
        unsetenv("NLSQ_CC");
    if (path) setenv("PATH", path, 1);
    nlsq_model *m = parse_vars("a*exp(-b*x) + c + 0.987", "x"); /* not in the cache */
    double p[3] = {2, 1, 0.5}, p0[3] = {1, 1, 1};
    if (m) {
        dataset d = make_data(m, p, 2000, 3, 0);
        nlsq_result *r = fit_on(m, &d, p0, NLSQ_BACKEND_JIT, 1, NLSQ_LOSS_LINEAR, NULL);
        CHECK(r && r->success && strcmp(r->backend, "interp") == 0 && r->jit_passes == 0);
        if (r) {
            CHECK_MSG(strstr(r->backend_note, expect) != NULL, "note '%s' lacks '%s'", r->backend_note, expect);
            CHECK_NEAR(r->popt[0], 2.0, 0.01, "a");
            printf("    NLSQ_CC=%s PATH=%s: fit on the interpreter; note: %s\n", cc ? cc : "(unset)",
                   path ? path : "(unchanged)", r->backend_note);
        }
        nlsq_result_free(r);
        free_data(&d);
    }
    nlsq_model_free(m);
    if (user_cc)
        setenv("NLSQ_CC", user_cc, 1);
    else
        unsetenv("NLSQ_CC");
    if (old_path) setenv("PATH", old_path, 1);
    free(old_path);
}

static void test_fits_succeed_without_a_compiler(void)
{
    fit_without_compiler("/bin/false", NULL, "failed");
    fit_without_compiler(NULL, "/nonexistent", "no C compiler");
    fit_without_compiler("/no/such/cc", NULL, "no C compiler");
}

int main(void)
{
    snprintf(cache_root, sizeof cache_root, "%s/nlsq-test-jit-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(cache_root)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("XDG_CACHE_HOME", cache_root, 1);
    nrandom = test_full() ? NRANDOM_FULL : NRANDOM_QUICK;
    if (getenv("NLSQ_TEST_RANDOM_MODELS")) nrandom = atoi(getenv("NLSQ_TEST_RANDOM_MODELS"));
    user_cc = getenv("NLSQ_CC") ? strdup(getenv("NLSQ_CC")) : NULL;
    unsetenv("NLSQ_BACKEND");
    static const test_case tests[] = {
        TEST(test_reference_models_agree_with_the_interpreter),
        TEST(test_every_function_agrees_with_the_interpreter),
        TEST(test_random_models_agree_with_the_interpreter),
        TEST(test_fits_agree_with_the_interpreter),
        TEST(test_compiled_fits_are_bitwise_identical_for_any_thread_count),
        TEST(test_background_compile_switches_without_changing_the_fit),
        TEST(test_cache_is_reused_and_bad_files_are_rebuilt),
        TEST(defect16_planted_kernel_is_not_loaded),
        TEST(test_concurrent_builds_of_one_kernel_both_succeed),
        TEST(test_fits_succeed_without_a_compiler),
    };
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_root);
    if (system(cmd) != 0) printf("note: could not remove %s\n", cache_root);
    return rc;
}
