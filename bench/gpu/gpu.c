/*
 * bench/gpu: the four reference models at 10^5 ... 10^8 points, fitted on
 * the GPU (float64, then float32 data and arithmetic) and on all CPU cores
 * in the same run: time to fit, time per pass
 * (the fastest pass, from the progress callback), the pass's achieved
 * bytes per second against a device-to-device copy (the bandwidth
 * ceiling, measured here), and the agreement of the parameters.
 *
 *   bench_gpu [SIZES] [MODELS] [--write DIR]
 *
 * With BENCH_GPU_ONLY=1 in the environment the CPU runs are left out (for
 * the kernel sweeps of run.sh, which set NLSQ_CUDA_TUNE).
 *
 * With --write the data are also written as DIR/MODEL_SIZE_{x,y}.npy for
 * the Python NLSQ peer (bench/gpu/peer_nlsq.py).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/gpu.h"
#include "nlsq.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef struct bench_model {
    const char *name, *text, *vars;
    int n;
    double p[10];
} bench_model;

static const bench_model MODELS[] = {
    {"decay", "a*exp(-b*x) + c", "x", 3, {2.5, 1.3, 0.5}},
    {"gauss_lin", "A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x", "x", 5, {3, 0.2, 0.7, 0.1, 0.05}},
    {"gauss2d", "A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B", "x,y", 6, {3, 0.1, 0.8, -0.2, 0.6, 0.3}},
    {"gauss3",
     "a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c",
     "x",
     10,
     {1, -1, 0.5, 2, 0, 0.3, 1.5, 1.2, 0.4, 0.1}},
};

static int fastest_pass(void *user, const nlsq_progress *p)
{
    double *best = user;
    if (p->pass_fraction >= 1 && p->pass_seconds > 0 && p->pass_seconds < *best) *best = p->pass_seconds;
    return 0;
}

/* Device-to-device copy bandwidth (read + write bytes per second). */
static double copy_bandwidth(void)
{
    char why[300];
    const cuda_driver *d = cuda_driver_get(why, sizeof why);
    if (!d) return NAN;
    CUdevice dev;
    CUcontext ctx;
    CUresult rc;
    if (d->cuDeviceGet(&dev, 0) || !(ctx = cuda_primary_context(d, dev, &rc)) || d->cuCtxSetCurrent(ctx)) return NAN;
    size_t bytes = (size_t)1 << 30;
    CUdeviceptr a = 0, b = 0;
    double best = INFINITY;
    if (d->cuMemAlloc(&a, bytes) == 0 && d->cuMemAlloc(&b, bytes) == 0) {
        d->cuMemsetD8(a, 1, bytes);
        for (int k = 0; k < 6; k++) {
            d->cuCtxSynchronize();
            double t0 = now();
            d->cuMemcpyDtoD(b, a, bytes);
            d->cuCtxSynchronize();
            double t = now() - t0;
            if (k && t < best) best = t;
        }
    }
    if (a) d->cuMemFree(a);
    if (b) d->cuMemFree(b);
    return 2.0 * (double)bytes / best;
}

static void write_npy(const char *path, const double *v, size_t m)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", m);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 10 + n; i < 127; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(v, sizeof(double), m, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *sizes = argc > 1 ? argv[1] : "1e5,1e6,1e7,1e8";
    const char *models = argc > 2 ? argv[2] : "decay,gauss_lin,gauss2d,gauss3";
    const char *write_dir = argc > 4 && strcmp(argv[3], "--write") == 0 ? argv[4] : NULL;
    double bw = copy_bandwidth();
    printf("COPY bytes_per_s=%.4g\n", bw);
    char list[256];
    snprintf(list, sizeof list, "%s", sizes);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t m = (size_t)atof(tok);
        double *x = malloc(2 * m * sizeof *x), *y = malloc(m * sizeof *y);
        if (!x || !y) {
            fprintf(stderr, "out of memory for %zu points\n", m);
            return 1;
        }
        for (size_t k = 0; k < sizeof MODELS / sizeof MODELS[0]; k++) {
            const bench_model *bm = &MODELS[k];
            if (!strstr(models, bm->name)) continue;
            nlsq_model_options mo = nlsq_model_options_default();
            mo.vars = bm->vars;
            nlsq_model *model = NULL;
            nlsq_error e;
            nlsq_model_parse(bm->text, &mo, &model, &e);
            int nv = strchr(bm->vars, ',') ? 2 : 1;
            for (size_t i = 0; i < m; i++) {
                x[i] = -3 + 6.0 * (double)i / (double)m;
                x[m + i] = -3 + 6.0 * (double)((i * 7919) % m) / (double)m;
            }
            nlsq_model_eval(model, bm->p, x, m, y, NULL, NULL);
            for (size_t i = 0; i < m; i++) y[i] += 0.01 * sin(1e3 * (double)i);
            if (write_dir) {
                char path[512];
                snprintf(path, sizeof path, "%s/%s_%s_x.npy", write_dir, bm->name, tok);
                write_npy(path, x, m);
                if (nv == 2) {
                    snprintf(path, sizeof path, "%s/%s_%s_x2.npy", write_dir, bm->name, tok);
                    write_npy(path, x + m, m);
                }
                snprintf(path, sizeof path, "%s/%s_%s_y.npy", write_dir, bm->name, tok);
                write_npy(path, y, m);
            }
            double p0[10];
            for (int j = 0; j < bm->n; j++) p0[j] = bm->p[j] * 1.1 + 0.02;
            nlsq_data d = {x, y, m, NULL, NLSQ_SIGMA_NONE};
            /* the GPU in float64, in float32, then all CPU cores */
            int runs = getenv("BENCH_GPU_ONLY") ? 2 : 3;
            for (int run = 0; run < runs; run++) {
                int on_gpu = run < 2;
                nlsq_options o = nlsq_options_default();
                o.p0 = p0;
                o.device = on_gpu ? "cuda:0" : "cpu";
                o.gpu_float32 = run == 1;
                double best = INFINITY;
                o.progress = fastest_pass;
                o.progress_data = &best;
                nlsq_result *r = NULL;
                /* once to compile (or load) the kernel, then timed */
                if (nlsq_curve_fit(model, &d, &o, &r, &e) != NLSQ_OK) {
                    printf("RESULT %s m=%zu %s failed: %s\n", bm->name, m, o.device, e.message);
                    continue;
                }
                nlsq_result_free(r);
                best = INFINITY;
                double t0 = now();
                nlsq_curve_fit(model, &d, &o, &r, &e);
                double t = now() - t0;
                double bytes = (double)m * (nv + 1) * 8;
                if (o.gpu_float32) bytes /= 2;
                printf("RESULT %s m=%zu device=%s%s seconds=%.4f passes=%d pass=%.5f bytes_per_s=%.4g of_copy=%.3f "
                       "b=%.12g status=%d\n",
                       bm->name, m, r->device, o.gpu_float32 ? "-f32" : "", t, r->passes, best, bytes / best,
                       on_gpu ? bytes / best / bw : NAN, r->popt[1], r->status);
                fflush(stdout);
                nlsq_result_free(r);
            }
            nlsq_model_free(model);
        }
        free(x);
        free(y);
    }
    return 0;
}
