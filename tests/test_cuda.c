/*
 * The CUDA tier. On every machine: the loader reports a missing driver
 * cleanly, and every generated kernel — the four reference models, one
 * model per function and operator, 200 random models (the first 40 unless
 * NLSQ_TEST_FULL: make test-full) — compiles with NVRTC without a warning
 * (as PTX, and the reference models also as cubins; make test-full makes
 * cubins of four kernels in five). On a machine with an NVIDIA GPU: fits on the
 * GPU agree with the CPU; elsewhere those tests are reported as skipped
 * with the reason.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "exec/jit.h"
#include "jit_env.h"
#include "gpu/gpu.h"
#include "models.h"
#include "nlsq.h"
#include "random_model.h"

static char no_gpu[300];   /* why there is no GPU here, or "" */
static int emulated;       /* NLSQ_TEST_EMULATED_GPU: tests/emulator stands in */
static char no_nvrtc[300]; /* why there is no NVRTC, or "" */

static void test_a_missing_driver_is_reported_cleanly(void)
{
    cuda_device_info dev[8];
    char why[300];
    int n = cuda_devices(dev, 8, why, sizeof why);
    if (n < 0) {
        printf("    no GPU here: %s\n", why);
        CHECK_MSG(strlen(why) > 10, "the reason is empty");
        snprintf(no_gpu, sizeof no_gpu, "%s", why);
    } else {
        for (int k = 0; k < n; k++)
            printf("    cuda:%d %s, %.1f GB, compute capability %d.%d, %d multiprocessors\n", dev[k].ordinal,
                   dev[k].name, dev[k].memory / 1e9, dev[k].major, dev[k].minor, dev[k].multiprocessors);
        CHECK(n > 0 && dev[0].memory > 0 && dev[0].major >= 3);
    }
    /* asked for by name, a library that is not there: the same clean path */
    nlsq_model *m = NULL;
    nlsq_error e;
    nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &e);
    double x[4] = {0, 1, 2, 3}, y[4] = {3, 1.5, 0.9, 0.7};
    nlsq_data d = {x, y, 4, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    o.device = "cuda:0";
    nlsq_result *r = NULL;
    if (n < 0) {
        CHECK(nlsq_curve_fit(m, &d, &o, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
        CHECK_MSG(strstr(e.message, "device cuda:0") && strstr(e.message, why), "%s", e.message);
    }
    o.device = "cuda:99";
    CHECK(nlsq_curve_fit(m, &d, &o, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    o.device = "tpu";
    CHECK(nlsq_curve_fit(m, &d, &o, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    CHECK_MSG(strstr(e.message, "auto, cpu, cuda, cuda:N or cuda:all") != NULL, "%s", e.message);
    o.device = "auto"; /* no GPU, or too few points: the CPU, and it says so */
    CHECK(nlsq_curve_fit(m, &d, &o, &r, &e) == NLSQ_OK);
    if (r) CHECK_MSG(strncmp(r->device, "cpu", 3) == 0, "device '%s'", r->device);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* The public list (nlsq_device_list) says what the loader says. */
static void test_the_public_device_list(void)
{
    cuda_device_info dev[8];
    char why[300], pub_why[300];
    int n = cuda_devices(dev, 8, why, sizeof why);
    nlsq_device pub[8];
    int count = -1;
    nlsq_error e;
    CHECK(nlsq_device_list(pub, 8, &count, pub_why, sizeof pub_why, &e) == NLSQ_OK);
    if (n < 0) {
        CHECK(count == 0);
        CHECK_MSG(strcmp(pub_why, why) == 0, "'%s' against '%s'", pub_why, why);
    } else {
        CHECK(count == n && pub_why[0] == '\0');
        for (int k = 0; k < n && k < 8; k++) {
            char name[16];
            snprintf(name, sizeof name, "cuda:%d", dev[k].ordinal);
            CHECK_MSG(strcmp(pub[k].name, name) == 0, "%s", pub[k].name);
            CHECK(strcmp(pub[k].description, dev[k].name) == 0 && pub[k].memory == dev[k].memory &&
                  pub[k].cc_major == dev[k].major && pub[k].cc_minor == dev[k].minor);
        }
    }
    /* counting only, and the refusals */
    CHECK(nlsq_device_list(NULL, 0, &count, NULL, 0, &e) == NLSQ_OK && count == (n < 0 ? 0 : n));
    CHECK(nlsq_device_list(pub, 8, NULL, NULL, 0, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "nlsq_device_list") != NULL);
    CHECK(nlsq_device_list(NULL, 3, &count, NULL, 0, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_device_list(pub, -1, &count, NULL, 0, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_device_list(pub, 8, &count, NULL, 10, &e) == NLSQ_ERR_INVALID_ARGUMENT);
}

/* ---- every generated kernel compiles --------------------------------------------- */

typedef struct compile_job {
    char **sources;
    const char **names;
    int count;
    int cubins; /* make test: the first this many as cubins */
    int next, failures;
    pthread_mutex_t lock;
} compile_job;

static void *compile_worker(void *arg)
{
    compile_job *job = arg;
    for (;;) {
        pthread_mutex_lock(&job->lock);
        int k = job->next++;
        pthread_mutex_unlock(&job->lock);
        if (k >= job->count) return NULL;
        cuda_image img;
        char why[600];
        /* A cubin for the H100's architecture, PTX for the oldest we serve.
           NVRTC's front end (where its warnings come from) runs for both;
           a cubin adds ptxas, five times the CPU: make test makes cubins
           of the leading (reference) kernels only, make test-full of four
           in five. */
        int cubin = test_full() ? k % 5 != 0 : k < job->cubins;
        int ok = job->sources[k] &&
                 cuda_compile(job->sources[k], cubin ? "sm_90" : "compute_80", cubin, &img, why, sizeof why) == 0;
        int quiet = job->failures >= 5; /* the first few tell enough */
        if (ok && img.log && img.log[0]) {
            if (!quiet) printf("    %.200s: NVRTC warns: %.400s\n", job->names[k], img.log);
            ok = 0;
        } else if (!ok && !quiet) {
            printf("    %.200s: %s\n", job->names[k], job->sources[k] ? why : "no source generated");
        }
        if (job->sources[k]) cuda_image_free(&img);
        pthread_mutex_lock(&job->lock);
        job->failures += !ok;
        pthread_mutex_unlock(&job->lock);
    }
}

/* Compile all, on every core (NVRTC is thread-safe); the failures. */
static int compile_all(char **sources, const char **names, int count, int cubins)
{
    compile_job job = {sources, names, count, cubins, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int extra = cores > 1 ? (cores > 16 ? 15 : (int)cores - 1) : 0, started = 0;
    pthread_t th[15];
    while (started < extra && pthread_create(&th[started], NULL, compile_worker, &job) == 0) started++;
    compile_worker(&job);
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    return job.failures;
}

static char *cuda_source(const char *text, const char *vars, int float32)
{
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = vars;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &o, &m, &e) != NLSQ_OK) {
        CHECK_MSG(0, "%s: %s", text, e.message);
        return NULL;
    }
    int cols[64], n = m->params.count;
    for (int j = 0; j < n; j++) cols[j] = j;
    char *src = cuda_source_pass(&m->prog, cols, n, float32);
    nlsq_model_free(m);
    return src;
}

static int need_nvrtc(void)
{
    char why[300];
    if (emulated) {
        test_skip("NVRTC is the emulator's stand-in here (the real one is checked by test_cuda)");
        return 0;
    }
    if (cuda_nvrtc_get(why, sizeof why)) return 1;
    snprintf(no_nvrtc, sizeof no_nvrtc, "%s", why);
    test_skip(why);
    return 0;
}

static void test_reference_and_function_models_compile_without_warnings(void)
{
    if (!need_nvrtc()) return;
    /* each in float64 and in float32 (nlsq_options.gpu_float32), the
       reference models first */
    enum {
        NREF = sizeof REFS / sizeof REFS[0],
        NFN = sizeof FUNCTION_MODELS / sizeof FUNCTION_MODELS[0],
        ALL = 2 * (NREF + NFN)
    };
    char *sources[ALL];
    const char *names[ALL];
    for (int k = 0; k < NREF + NFN; k++)
        for (int f32 = 0; f32 < 2; f32++) {
            const char *text = k < NREF ? REFS[k].text : FUNCTION_MODELS[k - NREF];
            sources[2 * k + f32] = cuda_source(text, k < NREF ? REFS[k].vars : "x", f32);
            names[2 * k + f32] = k < NREF ? REFS[k].name : text;
        }
#ifdef NLSQ_SANITIZED
    /* under the sanitizers the point is our side of the compile, not
       NVRTC's 90 runs (minutes there): the reference models only */
    int count = 2 * NREF;
#else
    int count = ALL;
#endif
    int failures = compile_all(sources, names, count, 2 * NREF);
    CHECK_MSG(failures == 0, "%d of %d kernels did not compile cleanly", failures, count);
    const cuda_nvrtc *nv = cuda_nvrtc_get(NULL, 0);
    printf("    %d kernels (4 reference models, %d functions and operators; float64 and float32) compiled by NVRTC "
           "%d.%d (%s) without a warning\n",
           count, count == ALL ? NFN : 0, nv->major, nv->minor, nv->path);
    for (int k = 0; k < ALL; k++) free(sources[k]);
}

/* The batch kernels (src/gpu/cuda_batch.cu: lm on the device, and the
   model's uniform part as device code too) of the same models, every
   other one in float32. */
static void test_batch_kernels_compile_without_warnings(void)
{
    if (!need_nvrtc()) return;
    enum {
        NREF = sizeof REFS / sizeof REFS[0],
        NFN = sizeof FUNCTION_MODELS / sizeof FUNCTION_MODELS[0],
        ALL = NREF + NFN
    };
    char *sources[ALL];
    const char *names[ALL];
    for (int k = 0; k < ALL; k++) {
        const char *text = k < NREF ? REFS[k].text : FUNCTION_MODELS[k - NREF];
        nlsq_model_options o = nlsq_model_options_default();
        o.vars = k < NREF ? REFS[k].vars : "x";
        nlsq_model *m = NULL;
        sources[k] = NULL;
        names[k] = k < NREF ? REFS[k].name : text;
        if (nlsq_model_parse(text, &o, &m, NULL) != NLSQ_OK) {
            CHECK_MSG(0, "%s does not parse", text);
            continue;
        }
        int cols[64], n = m->params.count;
        for (int j = 0; j < n; j++) cols[j] = j;
        /* the reference models with their first parameter fixed, to
           cover a subset of free columns */
        int skip = k < NREF && n > 1;
        sources[k] = cuda_source_batch(&m->prog, cols + skip, n - skip, k % 2); /* every other in float32 */
        nlsq_model_free(m);
    }
#ifdef NLSQ_SANITIZED
    int count = NREF; /* as above: our side of the compile */
#else
    int count = ALL;
#endif
    int failures = compile_all(sources, names, count, NREF);
    CHECK_MSG(failures == 0, "%d of %d batch kernels did not compile cleanly", failures, count);
    if (failures == 0) printf("    %d batch kernels compiled by NVRTC without a warning\n", count);
    for (int k = 0; k < ALL; k++) free(sources[k]);
}

static void test_random_models_compile_without_warnings(void)
{
    if (!need_nvrtc()) return;
#ifdef NLSQ_SANITIZED
    enum { COUNT = 20, FULL = 20 }; /* see above */
#else
    /* NVRTC takes seconds of CPU a cubin: the whole sweep in make test-full */
    enum { COUNT = 40, FULL = 200 };
#endif
    int count = test_full() ? FULL : COUNT;
    static tree t;
    static char text[1 << 16];
    char *sources[FULL];
    const char *names[FULL];
    char *texts[FULL];
    rng r = {0x5151515151ull};
    int made = 0;
    while (made < count) {
        t.count = 0;
        int root = gen(&t, &r, 1 + rng_int(&r, 5));
        size_t len = 0;
        print(&t, root, text, sizeof text, &len);
        nlsq_model_options o = nlsq_model_options_default();
        o.vars = "x,y";
        nlsq_model *m = NULL;
        if (nlsq_model_parse(text, &o, &m, NULL) != NLSQ_OK) continue;
        nlsq_model_free(m);
        sources[made] = cuda_source(text, "x,y", made % 4 == 3); /* every fourth in float32 */
        texts[made] = strdup(text);
        names[made] = texts[made];
        made++;
    }
    int failures = compile_all(sources, names, count, 0);
    CHECK_MSG(failures == 0, "%d of %d random kernels did not compile cleanly", failures, count);
    printf("    %d random models compiled without a warning\n", count);
    for (int k = 0; k < count; k++) {
        free(sources[k]);
        free(texts[k]);
    }
}

/* ---- on a GPU ------------------------------------------------------------------------ */

static int need_gpu(void)
{
    if (emulator_unusable()) {
        test_skip(emulator_unusable());
        return 0;
    }
    if (!no_gpu[0]) return 1;
    test_skip(no_gpu);
    return 0;
}

static double rel_diff(double a, double b)
{
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return scale > 0 ? fabs(a - b) / scale : 0;
}

/* A parameter whose best value is near zero (the centre of the middle
   peak, say) has no relative precision of its own: rounding moves it by
   about eps * cond(J) times the parameters' scale, not its own (on an
   H100, the 3-gaussian centre at 0 differed by 4e-12 between GPU and
   CPU). A parameter smaller than a tenth of the largest (big) is
   measured against the largest, norm-wise; the others against
   themselves. */
static double param_diff(double a, double b, double err, double big)
{
    double own = fmax(fmax(fabs(a), fabs(b)), err);
    double scale = own < 0.1 * big ? big : own;
    return scale > 0 ? fabs(a - b) / scale : 0;
}

static double largest(const double *p, int n)
{
    double m = 0;
    for (int j = 0; j < n; j++) m = fmax(m, fabs(p[j]));
    return m;
}

static void test_gpu_fits_agree_with_the_cpu_and_repeat_exactly(void)
{
    if (!need_gpu()) return;
    /* the emulator runs a block's 128 threads one after another: fewer points */
    size_t NPTS = emulated ? 3000 : 200000;
    double *x = malloc(2 * NPTS * sizeof *x), *y = malloc(NPTS * sizeof *y), *sg = malloc(NPTS * sizeof *sg);
    for (size_t k = 0; k < sizeof REFS / sizeof REFS[0]; k++) {
        nlsq_model_options mo = nlsq_model_options_default();
        mo.vars = REFS[k].vars;
        nlsq_model *m = NULL;
        nlsq_error e;
        nlsq_model_parse(REFS[k].text, &mo, &m, &e);
        rng r = {77 + k};
        for (size_t i = 0; i < NPTS; i++) {
            x[i] = rng_range(&r, -3, 3);
            x[NPTS + i] = rng_range(&r, -3, 3);
            sg[i] = rng_range(&r, 0.5, 2);
        }
        nlsq_model_eval(m, REFS[k].p, x, NPTS, y, NULL, NULL);
        for (size_t i = 0; i < NPTS; i++) y[i] += 0.02 * sg[i] * (rng_uniform(&r) - 0.5);
        double p0[10];
        for (int j = 0; j < REFS[k].n; j++) p0[j] = REFS[k].p[j] * 1.05 + 0.01;
        for (int variant = 0; variant < 2; variant++) {
            nlsq_data d = {x, y, NPTS, sg, NLSQ_SIGMA_PER_POINT};
            nlsq_options o = nlsq_options_default();
            o.p0 = p0;
            if (variant) o.loss = NLSQ_LOSS_SOFT_L1;
            nlsq_result *cpu = NULL, *gpu = NULL, *again = NULL;
            o.device = "cpu";
            CHECK(nlsq_curve_fit(m, &d, &o, &cpu, &e) == NLSQ_OK);
            o.device = "cuda:0";
            CHECK_MSG(nlsq_curve_fit(m, &d, &o, &gpu, &e) == NLSQ_OK, "%s: %s", REFS[k].name, e.message);
            CHECK(nlsq_curve_fit(m, &d, &o, &again, &e) == NLSQ_OK);
            if (cpu && gpu && again) {
                CHECK_MSG(strcmp(gpu->device, "cuda:0") == 0, "%s: ran on %s", REFS[k].name, gpu->device);
                double worst = 0, worst_cov = 0;
                for (int j = 0; j < REFS[k].n; j++) {
                    worst = fmax(worst,
                                 param_diff(gpu->popt[j], cpu->popt[j], cpu->perr[j], largest(cpu->popt, REFS[k].n)));
                    worst_cov = fmax(worst_cov, rel_diff(gpu->pcov[j * REFS[k].n + j], cpu->pcov[j * REFS[k].n + j]));
                    CHECK_SAME(again->popt[j], gpu->popt[j], "%s: a second GPU run, popt[%d]", REFS[k].name, j);
                }
                printf("    %-18s %s: GPU vs CPU popt %.1e, var %.1e relative (%s)\n", REFS[k].name,
                       variant ? "soft_l1" : "linear ", worst, worst_cov, gpu->device_note);
                CHECK_MSG(worst <= 1e-10 && worst_cov <= 1e-8, "%s: popt %.3g, pcov %.3g", REFS[k].name, worst,
                          worst_cov);
            }
            if (cpu && !variant) {
                /* float32 data and Jacobian (residuals in float64): the
                   parameters to 1e-5, the variances to 1e-4 */
                nlsq_result *f32 = NULL;
                o.gpu_float32 = 1;
                CHECK_MSG(nlsq_curve_fit(m, &d, &o, &f32, &e) == NLSQ_OK, "%s float32: %s", REFS[k].name, e.message);
                if (f32) {
                    double worst = 0, worst_cov = 0;
                    for (int j = 0; j < REFS[k].n; j++) {
                        worst = fmax(
                            worst, param_diff(f32->popt[j], cpu->popt[j], cpu->perr[j], largest(cpu->popt, REFS[k].n)));
                        worst_cov = fmax(worst_cov,
                                         rel_diff(f32->pcov[j * REFS[k].n + j], cpu->pcov[j * REFS[k].n + j]));
                    }
                    printf("    %-18s float32: GPU vs CPU popt %.1e, var %.1e relative, %d passes against %d (%s)\n",
                           REFS[k].name, worst, worst_cov, f32->passes, cpu->passes, f32->device_note);
                    CHECK_MSG(worst <= 1e-5 && worst_cov <= 1e-4, "%s float32: popt %.3g, pcov %.3g", REFS[k].name,
                              worst, worst_cov);
                    CHECK_MSG(strstr(f32->device_note, "float32 data") != NULL, "%s", f32->device_note);
                }
                nlsq_result_free(f32);
            }
            nlsq_result_free(cpu);
            nlsq_result_free(gpu);
            nlsq_result_free(again);
        }
        nlsq_model_free(m);
    }
    free(x);
    free(y);
    free(sg);
}

static int fill_decay(void *user, size_t first, size_t count, double *const *cols)
{
    size_t m = *(const size_t *)user;
    for (size_t i = 0; i < count; i++) {
        double x = 10.0 * (double)(first + i) / (double)m;
        if (cols[0]) cols[0][i] = x;
        /* deterministic noise of +-0.01 */
        unsigned long long h = (first + i + 1) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
        if (cols[1]) cols[1][i] = 2.5 * exp(-1.3 * x) + 0.5 + 0.02 * ((double)(h >> 11) * 0x1.0p-53 - 0.5);
    }
    return 0;
}

/* The upload takes windows read in place side by side in one copy and
   copied windows one by one: both give the device the same data. */
static void test_gpu_sources_upload_the_same_data(void)
{
    if (!need_gpu()) return;
    size_t m = emulated ? 40000 : 2000000; /* several reader windows */
    double *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y);
    double *cols[2] = {x, y};
    fill_decay(&m, 0, m, cols);
    nlsq_source *arrays = NULL, *callback = NULL;
    nlsq_model *model = NULL;
    nlsq_result *ra = NULL, *rc = NULL;
    nlsq_error e;
    nlsq_model_parse("a*exp(-b*x) + c", NULL, &model, &e);
    const double *arr[2] = {x, y};
    nlsq_source_from_arrays(arr, 2, m, &arrays, &e);
    nlsq_source_from_callback(2, m, fill_decay, &m, 1, &callback, &e);
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {2, 1, 0};
    o.p0 = p0;
    o.device = "cuda:0";
    CHECK_MSG(nlsq_fit_source(model, arrays, NULL, &o, &ra, &e) == NLSQ_OK, "%s", e.message);
    CHECK_MSG(nlsq_fit_source(model, callback, NULL, &o, &rc, &e) == NLSQ_OK, "%s", e.message);
    if (ra && rc) {
        CHECK(strcmp(ra->device, "cuda:0") == 0 && strcmp(rc->device, "cuda:0") == 0);
        for (int j = 0; j < 3; j++) CHECK_SAME(ra->popt[j], rc->popt[j], "popt[%d], arrays vs callback", j);
        CHECK_NEAR(ra->popt[1], 1.3, 1e-2, "b");
        printf("    %zu points from arrays and from a callback: the same bits (b = %.15g)\n", m, ra->popt[1]);
    }
    nlsq_result_free(ra);
    nlsq_result_free(rc);
    nlsq_source_free(arrays);
    nlsq_source_free(callback);
    nlsq_model_free(model);
    free(x);
    free(y);
}

/* Exponential decay with deterministic noise and per-point sigma, m points. */
typedef struct decay_problem {
    size_t m;
    double *x, *y, *sg;
    nlsq_model *model;
    nlsq_data d;
} decay_problem;

static void decay_problem_make(decay_problem *dp, size_t m)
{
    dp->m = m;
    dp->x = malloc(m * sizeof *dp->x);
    dp->y = malloc(m * sizeof *dp->y);
    dp->sg = malloc(m * sizeof *dp->sg);
    double *cols[2] = {dp->x, dp->y};
    fill_decay(&dp->m, 0, m, cols);
    for (size_t i = 0; i < m; i++) dp->sg[i] = 0.5 + (double)(i % 7) / 7;
    nlsq_error e;
    dp->model = NULL;
    nlsq_model_parse("a*exp(-b*x) + c", NULL, &dp->model, &e);
    dp->d = (nlsq_data){dp->x, dp->y, m, dp->sg, NLSQ_SIGMA_PER_POINT};
}

static void decay_problem_free(decay_problem *dp)
{
    nlsq_model_free(dp->model);
    free(dp->x);
    free(dp->y);
    free(dp->sg);
}

/* How far a GPU fit's parameters are from the CPU's (param_diff), after
   checking its variances to 1e-8 and that a second GPU run gave the
   same bits. */
static double agreement(const nlsq_result *gpu, const nlsq_result *again, const nlsq_result *cpu, int n)
{
    double worst = 0;
    for (int j = 0; j < n; j++) {
        CHECK_SAME(again->popt[j], gpu->popt[j], "a second GPU run, popt[%d]", j);
        worst = fmax(worst, param_diff(gpu->popt[j], cpu->popt[j], cpu->perr[j], largest(cpu->popt, n)));
        CHECK_NEAR(gpu->pcov[j * n + j], cpu->pcov[j * n + j], 1e-8 * cpu->pcov[j * n + j], "var %d", j);
    }
    return worst;
}

/* cuda:all: each device holds a share of the points and every pass runs
   on all of them; with one device it is that device. (On the emulator
   with NLSQ_EMU_DEVICES=2, two devices: how cuda:all is tested without a
   machine that has several GPUs.) */
static void test_gpu_all_devices(void)
{
    if (!need_gpu()) return;
    char why[300];
    cuda_device_info dev[GPU_MAX_DEVICES];
    int n = cuda_devices(dev, GPU_MAX_DEVICES, why, sizeof why);
    decay_problem dp;
    decay_problem_make(&dp, emulated ? 60000 : 3000000);
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {2, 1, 0};
    o.p0 = p0;
    nlsq_result *cpu = NULL, *one = NULL, *all = NULL, *again = NULL;
    o.device = "cpu";
    CHECK(nlsq_curve_fit(dp.model, &dp.d, &o, &cpu, &e) == NLSQ_OK);
    o.device = "cuda:0";
    CHECK_MSG(nlsq_curve_fit(dp.model, &dp.d, &o, &one, &e) == NLSQ_OK, "%s", e.message);
    o.device = "cuda:all";
    CHECK_MSG(nlsq_curve_fit(dp.model, &dp.d, &o, &all, &e) == NLSQ_OK, "%s", e.message);
    CHECK_MSG(nlsq_curve_fit(dp.model, &dp.d, &o, &again, &e) == NLSQ_OK, "%s", e.message);
    if (cpu && one && all && again) {
        if (n == 1) {
            CHECK_MSG(strcmp(all->device, "cuda:0") == 0, "one GPU: cuda:all ran on %s", all->device);
            for (int j = 0; j < 3; j++) CHECK_SAME(all->popt[j], one->popt[j], "cuda:all vs cuda:0, popt[%d]", j);
        } else {
            CHECK_MSG(strcmp(all->device, "cuda:all") == 0, "%d GPUs: cuda:all ran on %s", n, all->device);
        }
        double worst = agreement(all, again, cpu, 3);
        CHECK_MSG(worst <= 1e-10, "cuda:all vs the CPU: popt %.3g", worst);
        printf("    %d device%s, cuda:all vs CPU popt %.1e relative (%s)\n", n, n == 1 ? "" : "s", worst,
               all->device_note);
    }
    nlsq_result_free(cpu);
    nlsq_result_free(one);
    nlsq_result_free(all);
    nlsq_result_free(again);
    decay_problem_free(&dp);
}

/* Data larger than the device's memory go through it segment by segment
   every pass. Only the emulator can shrink a device (NLSQ_EMU_MEMORY):
   test_cuda_emulated_stream runs this with 2 MB of device memory. */
static void test_gpu_streams_data_larger_than_its_memory(void)
{
    if (!need_gpu()) return;
    if (!emulated || !getenv("NLSQ_EMU_MEMORY")) {
        test_skip("needs data larger than the device's memory: on the emulator with NLSQ_EMU_MEMORY "
                  "(test_cuda_emulated_stream)");
        return;
    }
    decay_problem dp;
    decay_problem_make(&dp, 100000);
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {2, 1, 0};
    o.p0 = p0;
    nlsq_result *cpu = NULL, *gpu = NULL, *again = NULL;
    o.device = "cpu";
    CHECK(nlsq_curve_fit(dp.model, &dp.d, &o, &cpu, &e) == NLSQ_OK);
    o.device = "cuda:0";
    CHECK_MSG(nlsq_curve_fit(dp.model, &dp.d, &o, &gpu, &e) == NLSQ_OK, "%s", e.message);
    CHECK_MSG(nlsq_curve_fit(dp.model, &dp.d, &o, &again, &e) == NLSQ_OK, "%s", e.message);
    if (cpu && gpu && again) {
        CHECK_MSG(strstr(gpu->device_note, "streamed in") != NULL, "not streamed: %s", gpu->device_note);
        double worst = agreement(gpu, again, cpu, 3);
        CHECK_MSG(worst <= 1e-10, "streamed vs the CPU: popt %.3g", worst);
        CHECK(gpu->m == cpu->m && gpu->nfev == cpu->nfev);
        printf("    %zu points streamed vs CPU popt %.1e relative (%s)\n", dp.m, worst, gpu->device_note);
    }
    /* the data check still happens, in the first streamed pass */
    dp.y[dp.m - 7] = NAN;
    nlsq_result *bad = NULL;
    CHECK(nlsq_curve_fit(dp.model, &dp.d, &o, &bad, &e) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(e.message, "99993") != NULL, "%s", e.message);
    nlsq_result_free(bad);
    nlsq_result_free(cpu);
    nlsq_result_free(gpu);
    nlsq_result_free(again);
    decay_problem_free(&dp);
}

/* A checkpoint records where the passes ran: a GPU fit resumes on the
   same GPU to the uninterrupted answer, and elsewhere is refused with a
   message that says so (a GPU's passes round differently). */
static void test_gpu_checkpoint_names_the_device(void)
{
    if (!need_gpu()) return;
    decay_problem dp;
    decay_problem_make(&dp, 40000);
    char path[256];
    snprintf(path, sizeof path, "%s/nlsq-gpu-ckpt-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {2, 1, 0};
    o.p0 = p0;
    o.device = "cuda:0";
    o.checkpoint = path;
    nlsq_result *first = NULL, *resumed = NULL, *cpu = NULL;
    CHECK_MSG(nlsq_curve_fit(dp.model, &dp.d, &o, &first, &e) == NLSQ_OK, "%s", e.message);
    o.resume = 1;
    CHECK_MSG(nlsq_curve_fit(dp.model, &dp.d, &o, &resumed, &e) == NLSQ_OK, "%s", e.message);
    if (first && resumed) {
        CHECK(resumed->resumed_evaluations > 0);
        for (int j = 0; j < 3; j++) CHECK_SAME(resumed->popt[j], first->popt[j], "resumed on the GPU, popt[%d]", j);
    }
    o.device = "cpu";
    CHECK(nlsq_curve_fit(dp.model, &dp.d, &o, &cpu, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "was written by a fit on cuda:0") && strstr(e.message, "runs on the CPU"), "%s",
              e.message);
    printf("    resumed on the GPU: the same bits; on the CPU: %s\n", e.message);
    unlink(path);
    nlsq_result_free(first);
    nlsq_result_free(resumed);
    nlsq_result_free(cpu);
    decay_problem_free(&dp);
}

static void test_gpu_hundred_million_points(void)
{
    if (!need_gpu()) return;
    if (emulated) {
        test_skip("10^8 points are for a real GPU, not the emulator");
        return;
    }
    size_t m = 100000000;
    nlsq_source *src = NULL;
    nlsq_model *model = NULL;
    nlsq_result *r = NULL;
    nlsq_error e;
    nlsq_model_parse("a*exp(-b*x) + c", NULL, &model, &e);
    nlsq_source_from_callback(2, m, fill_decay, &m, 1, &src, &e);
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {2, 1, 0};
    o.p0 = p0;
    o.device = "cuda:0";
    CHECK_MSG(nlsq_fit_source(model, src, NULL, &o, &r, &e) == NLSQ_OK, "%s", e.message);
    if (r) {
        printf("    10^8 points on %s (%s): %d passes\n", r->device, r->device_note, r->passes);
        CHECK(r->success);
        CHECK_NEAR(r->popt[1], 1.3, 1e-4, "b");
    }
    nlsq_result_free(r);
    nlsq_source_free(src);
    nlsq_model_free(model);
}

/* test_cuda [WORD]: only the tests whose names contain WORD */
int main(int argc, char **argv)
{
    emulated = getenv("NLSQ_TEST_EMULATED_GPU") != NULL;
    static const test_case tests[] = {
        TEST(test_a_missing_driver_is_reported_cleanly),
        TEST(test_the_public_device_list),
        TEST(test_reference_and_function_models_compile_without_warnings),
        TEST(test_random_models_compile_without_warnings),
        TEST(test_batch_kernels_compile_without_warnings),
        TEST(test_gpu_fits_agree_with_the_cpu_and_repeat_exactly),
        TEST(test_gpu_sources_upload_the_same_data),
        TEST(test_gpu_all_devices),
        TEST(test_gpu_streams_data_larger_than_its_memory),
        TEST(test_gpu_checkpoint_names_the_device),
        TEST(test_gpu_hundred_million_points),
    };
    enum { N = sizeof tests / sizeof tests[0] };
    test_case chosen[N];
    int count = 0;
    for (int k = 0; k < N; k++)
        if (argc < 2 || strstr(tests[k].name, argv[1])) chosen[count++] = tests[k];
    return run_tests(chosen, count);
}
