/*
 * The global search's shared pass on a GPU: the K-vector kernel
 * (nlsq_pass_many) against pass_run_many on the CPU for K = 1, 7 and 64,
 * each vector bitwise equal to a one-vector GPU pass at it, repeatable
 * bit for bit; and nlsq_fit_global with device cuda reaching the CPU's
 * minimum of a sine's frequency (multistart, successive halving and
 * CMA-ES), twice with the same bits. Without a GPU (or the emulator of
 * tests/emulator, test_global_gpu_emulated) every test is skipped with
 * the reason.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model_helper.h"
#include "exec/exec.h"
#include "gpu/gpu.h"
#include "jit_env.h"
#include "nlsq.h"

/* The GPUs here (0: skipped with the reason). */
static int need_gpu(void)
{
    if (emulator_unusable()) {
        test_skip(emulator_unusable());
        return 0;
    }
    cuda_device_info dev[4];
    char why[300];
    int n = cuda_devices(dev, 4, why, sizeof why);
    if (n > 0) return n;
    test_skip(why);
    return 0;
}

static double rel(double a, double b)
{
    double s = fmax(fabs(a), fabs(b));
    return s > 0 ? fabs(a - b) / s : 0;
}

/* Row j of two triangles (column-major, nc x nc) with their signs made
   alike (a Householder fold fixes each row's sign by its own order of
   sums): the largest difference over the row's largest entry. */
static double triangle_diff(const double *A, const double *B, int nc)
{
    double worst = 0;
    for (int j = 0; j < nc; j++) {
        double sa = A[j * nc + j] < 0 ? -1 : 1, sb = B[j * nc + j] < 0 ? -1 : 1, big = 0, d = 0;
        for (int k = j; k < nc; k++) {
            big = fmax(big, fabs(A[k * nc + j]));
            d = fmax(d, fabs(sa * A[k * nc + j] - sb * B[k * nc + j]));
        }
        if (big > 0) worst = fmax(worst, d / big);
    }
    return worst;
}

static void k_vector_pass(const char *where)
{
    nlsq_model *m = parse("a*exp(-b*x) + c*sin(w*x)", "a,b,c,w");
    enum { M = 3000, NP = 4, NC = NP + 1, SZ = NC * NC, KMAX = 64 };
    static double x[M], y[M], P[KMAX * NP], U[KMAX * 64];
    static double cost_c[KMAX], chi2_c[KMAX], R_c[KMAX * SZ], cost_g[KMAX], chi2_g[KMAX], R_g[KMAX * SZ];
    static double cost_2[KMAX], chi2_2[KMAX], R_2[KMAX * SZ], cost_n[KMAX], chi2_n[KMAX];
    size_t bad_c[KMAX], bad_g[KMAX], bad_2[KMAX], bad_n[KMAX];
    for (int i = 0; i < M; i++) {
        x[i] = 10.0 * i / M;
        y[i] = 2 * exp(-0.3 * x[i]) + 0.5 * sin(1.7 * x[i]) + 0.01 * sin(97.0 * i);
    }
    for (int k = 0; k < KMAX; k++) {
        P[k * NP] = 1 + 0.05 * k;
        P[k * NP + 1] = 0.1 + 0.01 * k;
        P[k * NP + 2] = 0.3 + 0.02 * (k % 5);
        P[k * NP + 3] = 1 + 0.03 * k;
    }
    const program *prog = &m->prog;
    CHECK(prog->nuniform <= 64);
    int cols[NP] = {0, 1, 2, 3};
    pass_arrays pa = {x, M, y, NULL};
    pass_data pd = pass_data_arrays(&pa, M, 1, 0);
    pass ps;
    CHECK(pass_init(&ps, prog, vmath_select(), cols, NP, NLSQ_LOSS_LINEAR, 1, NULL) == 0);
    gpu_pass_spec spec = {0, 0, prog, cols, NP, M, 0, 1, NLSQ_LOSS_LINEAR, 1, 0, 0, 1, 0};
    gpu_group G;
    char device[16], note[240], why[400];
    int placed = gpu_place(where, &spec, &G, device, sizeof device, note, sizeof note, why, sizeof why);
    CHECK_MSG(placed == 1, "%s: %s", where, why);
    if (placed != 1) goto done;
    printf("    %s: %s\n", device, note);
    CHECK(gpu_group_set_points(&G, M, why, sizeof why) == 0);
    CHECK_MSG(gpu_group_upload_chunks(&G, &pd, NULL, M, 1, 0, 1, "read", why, sizeof why) == 0, "%s", why);
    size_t nu = prog->nuniform ? (size_t)prog->nuniform : 1;
    const int Ks[] = {1, 7, 64};
    for (int t = 0; t < 3; t++) {
        int K = Ks[t];
        pass_many pm = {K, P, NP, 0, cost_c, chi2_c, R_c, bad_c, 0, 0};
        pass_run_many(&ps, &pd, &pm);
        for (int k = 0; k < K; k++) {
            interp_uniform(&ps.w[0].it, P + k * NP);
            memcpy(U + k * nu, ps.w[0].it.u, (size_t)prog->nuniform * sizeof *U);
        }
        CHECK_MSG(gpu_group_run_many(&G, U, (size_t)prog->nuniform, K, 0, cost_g, chi2_g, R_g, bad_g, why,
                                     sizeof why) == 0,
                  "%s", why);
        double worst_cost = 0, worst_R = 0;
        for (int k = 0; k < K; k++) {
            worst_cost = fmax(worst_cost, fmax(rel(cost_g[k], cost_c[k]), rel(chi2_g[k], chi2_c[k])));
            worst_R = fmax(worst_R, triangle_diff(R_g + k * SZ, R_c + k * SZ, NC));
            CHECK(bad_g[k] == 0 && bad_c[k] == 0);
        }
        printf("    %s, K = %2d: GPU against CPU, cost %.2g, R %.2g (relative, worst vector)\n", device, K, worst_cost, worst_R);
        CHECK_MSG(worst_cost < 1e-12, "K = %d: costs differ by %.3g", K, worst_cost);
        CHECK_MSG(worst_R < 1e-12, "K = %d: triangles differ by %.3g", K, worst_R);
        /* each vector: the bits of a one-vector pass at it */
        for (int k = 0; k < K; k++) {
            double R1[SZ];
            pass_out out = {.R = R1};
            CHECK(gpu_group_run(&G, U + k * nu, &out, why, sizeof why) == 0);
            CHECK_MSG(memcmp(R1, R_g + k * SZ, sizeof R1) == 0, "K = %d, vector %d: R is not the one-vector pass's", K,
                      k);
            CHECK_SAME(out.cost, cost_g[k], "K = %d, vector %d: cost", K, k);
        }
        /* again: the same bits; cost only: the same costs */
        CHECK(gpu_group_run_many(&G, U, (size_t)prog->nuniform, K, 0, cost_2, chi2_2, R_2, bad_2, why, sizeof why) ==
              0);
        CHECK_MSG(memcmp(R_2, R_g, (size_t)K * SZ * sizeof *R_g) == 0 &&
                      memcmp(cost_2, cost_g, (size_t)K * sizeof *cost_g) == 0,
                  "K = %d: a second run differs", K);
        CHECK(gpu_group_run_many(&G, U, (size_t)prog->nuniform, K, 1, cost_n, chi2_n, NULL, bad_n, why, sizeof why) ==
              0);
        CHECK_MSG(memcmp(cost_n, cost_g, (size_t)K * sizeof *cost_g) == 0, "K = %d: cost-only costs differ", K);
    }
    /* a sample: fewer points on the same devices */
    {
        enum { MS = 700 };
        pass_arrays ps2 = {x, MS, y, NULL};
        pass_data pd2 = pass_data_arrays(&ps2, MS, 1, 0);
        CHECK(gpu_group_set_points(&G, MS, why, sizeof why) == 0);
        CHECK(gpu_group_upload_chunks(&G, &pd2, NULL, MS, 1, 0, 1, "read", why, sizeof why) == 0);
        pass_many pm = {7, P, NP, 0, cost_c, chi2_c, R_c, bad_c, 0, 0};
        pass_run_many(&ps, &pd2, &pm);
        CHECK(gpu_group_run_many(&G, U, (size_t)prog->nuniform, 7, 0, cost_g, chi2_g, R_g, bad_g, why, sizeof why) ==
              0);
        double worst = 0;
        for (int k = 0; k < 7; k++) worst = fmax(worst, fmax(rel(cost_g[k], cost_c[k]), triangle_diff(R_g + k * SZ, R_c + k * SZ, NC)));
        printf("    a sample of %d points: GPU against CPU %.2g\n", MS, worst);
        CHECK(worst < 1e-12);
        CHECK(gpu_group_set_points(&G, M + 1, why, sizeof why) != 0); /* more than the devices hold */
    }
    gpu_group_close(&G);
done:
    pass_free(&ps);
    nlsq_model_free(m);
}

/* One GPU; with several (the emulator's NLSQ_EMU_DEVICES=2), all of them:
   each vector's blocks from every device merged in device order. */
static void test_k_vector_pass_agrees_with_the_cpu(void)
{
    int n = need_gpu();
    if (!n) return;
    k_vector_pass("cuda:0");
    if (n > 1) k_vector_pass("cuda:all");
}

/* ---- nlsq_fit_global on the GPU --------------------------------------------------- */

typedef struct sine {
    nlsq_model *m;
    double x[400], y[400];
    nlsq_data d;
    double lo[3], hi[3];
} sine;

static void sine_make(sine *s)
{
    s->m = parse("A*sin(w*x + ph)", "A,w,ph");
    for (int i = 0; i < 400; i++) {
        s->x[i] = 20.0 * i / 400;
        s->y[i] = 1.3 * sin(2.7 * s->x[i] + 0.4) + 0.02 * sin(31.0 * i);
    }
    s->d = (nlsq_data){s->x, s->y, 400, NULL, NLSQ_SIGMA_NONE};
    double lo[3] = {0, 0.1, -3.2}, hi[3] = {3, 5, 3.2};
    memcpy(s->lo, lo, sizeof lo);
    memcpy(s->hi, hi, sizeof hi);
}

static nlsq_result *sine_fit(sine *s, const char *device, nlsq_global_options g)
{
    nlsq_options o = nlsq_options_default();
    o.lower = s->lo;
    o.upper = s->hi;
    o.device = device;
    nlsq_result *r = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_fit_global(s->m, &s->d, &o, &g, &r, &e);
    CHECK_MSG(st == NLSQ_OK, "nlsq_fit_global on %s: %s", device, e.message);
    return r;
}

/* The same minimum on the GPU as on the CPU; twice on the GPU, the same bits. */
static void same_minimum(const char *what, const char *where, nlsq_global_options g)
{
    sine s;
    sine_make(&s);
    nlsq_result *cpu = sine_fit(&s, "cpu", g), *gpu = sine_fit(&s, where, g), *again = sine_fit(&s, where, g);
    if (!cpu || !gpu || !again) goto done;
    printf("    %s: cpu w = %.9f cost %.9g (%d at best, %d minima); %s w = %.9f cost %.9g (%d at best, %d minima)\n",
           what, cpu->popt[1], cpu->cost, cpu->global->at_best, cpu->global->n_minima, gpu->device, gpu->popt[1],
           gpu->cost, gpu->global->at_best, gpu->global->n_minima);
    printf("    %s: %s | %s\n", gpu->backend, gpu->device, gpu->device_note);
    CHECK(strcmp(cpu->device, "cpu") == 0);
    CHECK(strcmp(gpu->device, where) == 0 && strcmp(gpu->backend, "cuda") == 0);
    CHECK(strstr(gpu->device_note, "shared passes") != NULL);
    CHECK_NEAR(gpu->popt[1], 2.7, 1e-3, "frequency on the GPU");
    CHECK_NEAR(gpu->cost, cpu->cost, 1e-9 * cpu->cost, "the GPU's minimum");
    for (int j = 0; j < 3; j++) CHECK_NEAR(gpu->popt[j], cpu->popt[j], 1e-6, "parameter %d", j);
    CHECK(gpu->global->starts == cpu->global->starts && gpu->global->rungs == cpu->global->rungs);
    CHECK(gpu->global->shared_passes > 0);
    CHECK_NEAR(gpu->global->minima_cost[0], cpu->global->minima_cost[0], 1e-8 * cpu->global->minima_cost[0],
               "the best minimum");
    CHECK_MSG(memcmp(gpu->popt, again->popt, 3 * sizeof *gpu->popt) == 0, "two GPU runs differ");
    CHECK_SAME(gpu->cost, again->cost, "two GPU runs' cost");
    CHECK(gpu->global->n_minima == again->global->n_minima && gpu->global->at_best == again->global->at_best &&
          memcmp(gpu->global->minima_cost, again->global->minima_cost,
                 (size_t)gpu->global->n_minima * sizeof *gpu->global->minima_cost) == 0);
done:
    nlsq_result_free(cpu);
    nlsq_result_free(gpu);
    nlsq_result_free(again);
    nlsq_model_free(s.m);
}

static void test_global_search_on_the_gpu(void)
{
    int n = need_gpu();
    if (!n) return;
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 32;
    same_minimum("multistart", "cuda:0", g);
    nlsq_global_options h = g;
    h.halving = 1;
    h.halving_sample = 100;
    same_minimum("halving", "cuda:0", h);
    nlsq_global_options c = nlsq_global_options_default();
    c.method = NLSQ_GLOBAL_CMAES;
    c.starts = 16;
    same_minimum("cmaes", "cuda:0", c);
    if (n > 1) {
        same_minimum("multistart", "cuda:all", g);
        same_minimum("halving", "cuda:all", h);
    }
}

/* float32 data and Jacobian on the device (gpu_float32): the same
   minimum, to float32's rounding of the data. */
static void test_global_search_in_float32(void)
{
    if (!need_gpu()) return;
    sine s;
    sine_make(&s);
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 16;
    nlsq_options o = nlsq_options_default();
    o.lower = s.lo;
    o.upper = s.hi;
    nlsq_result *cpu = NULL, *gpu = NULL;
    nlsq_error e;
    CHECK(nlsq_fit_global(s.m, &s.d, &o, &g, &cpu, &e) == NLSQ_OK);
    o.device = "cuda:0";
    o.gpu_float32 = 1;
    CHECK_MSG(nlsq_fit_global(s.m, &s.d, &o, &g, &gpu, &e) == NLSQ_OK, "%s", e.message);
    if (cpu && gpu) {
        printf("    float32: w = %.9f (cpu %.9f), %s\n", gpu->popt[1], cpu->popt[1], gpu->device_note);
        CHECK(strstr(gpu->device_note, "float32") != NULL);
        for (int j = 0; j < 3; j++) CHECK_NEAR(gpu->popt[j], cpu->popt[j], 1e-5, "parameter %d in float32", j);
        CHECK_NEAR(gpu->cost, cpu->cost, 1e-5 * cpu->cost, "cost in float32");
    }
    nlsq_result_free(cpu);
    nlsq_result_free(gpu);
    nlsq_model_free(s.m);
}

static void test_a_named_gpu_that_is_not_there(void)
{
    sine s;
    sine_make(&s);
    nlsq_options o = nlsq_options_default();
    o.device = "cuda:99";
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 4;
    nlsq_result *r = NULL;
    nlsq_error e;
    CHECK(nlsq_fit_global(s.m, &s.d, &o, &g, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && r == NULL);
    CHECK_MSG(strstr(e.message, "cuda:99") != NULL, "%s", e.message);
    printf("    cuda:99: %s\n", e.message);
    nlsq_model_free(s.m);
}

/* Data larger than the device's memory (the emulator's NLSQ_EMU_MEMORY):
   the K-vector pass does not stream them, so a named device is an error
   saying so, and auto stays on the CPU. */
static void test_data_larger_than_the_device(void)
{
    if (!getenv("NLSQ_EMU_MEMORY")) {
        test_skip("needs a small device: the emulator with NLSQ_EMU_MEMORY (test_global_gpu_emulated_small)");
        return;
    }
    if (!need_gpu()) return;
    nlsq_model *m = parse("a*exp(-b*x) + c", "a,b,c");
    size_t M = 400000;
    double *x = malloc(2 * M * sizeof *x), *y = x + M;
    for (size_t i = 0; i < M; i++) {
        x[i] = 5.0 * (double)i / (double)M;
        y[i] = 2 * exp(-0.7 * x[i]) + 0.5;
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    o.device = "cuda:0";
    nlsq_global_options g = nlsq_global_options_default();
    g.starts = 4;
    nlsq_result *r = NULL;
    nlsq_error e;
    CHECK(nlsq_fit_global(m, &d, &o, &g, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && r == NULL);
    CHECK_MSG(strstr(e.message, "cuda:0") && strstr(e.message, "do not fit"), "%s", e.message);
    printf("    %s\n", e.message);
    free(x);
    nlsq_model_free(m);
}

/* test_global_gpu [WORD]: only the tests whose names contain WORD */
int main(int argc, char **argv)
{
    static const test_case tests[] = {
        TEST(test_k_vector_pass_agrees_with_the_cpu),
        TEST(test_global_search_on_the_gpu),
        TEST(test_global_search_in_float32),
        TEST(test_a_named_gpu_that_is_not_there),
        TEST(test_data_larger_than_the_device),
    };
    enum { N = sizeof tests / sizeof tests[0] };
    test_case chosen[N];
    int count = 0;
    for (int k = 0; k < N; k++)
        if (argc < 2 || strstr(tests[k].name, argv[1])) chosen[count++] = tests[k];
    return run_tests(chosen, count);
}
