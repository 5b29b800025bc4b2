/*
 * Batches on a CUDA device: the whole batch's data go up once, one launch
 * runs every fit to its end (MINPACK's lm on the device, a thread or a
 * warp a fit by fit size: src/gpu/cuda_batch.cu), and the results come
 * back once. No host round
 * trip per iteration; the kernel is compiled by NVRTC and cached as the
 * pass kernels are.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/jit.h"
#include "gpu.h"

/* Mirrors nlsq_batch_args in cuda_batch.cu: 8-byte fields only. */
typedef struct batch_args {
    CUdeviceptr x, y, sigma, offsets, p0;
    CUdeviceptr popt, perr, pcov, cost, chi2;
    CUdeviceptr status, nfev, nit, m_used, pcov_valid;
    unsigned long long nfits, m, xstride, x_shared, nparams;
    unsigned long long policy, absolute_sigma, max_nfev;
    double ftol, xtol, gtol;
} batch_args;

#define BATCH_TPB 128
/* Mean points a fit from which a warp takes each fit (every lane then has
   two points or more a pass); below, a thread a fit. A guess until it is
   measured on a GPU; NLSQ_BATCH_MAPPING=thread|warp overrides it. */
#define BATCH_WARP_POINTS 64

typedef struct gpu_batch {
    const cuda_driver *d;
    int ordinal, major, minor, retained;
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn;
    int warp; /* a warp a fit (nlsq_batch_warp), else a thread */
    CUdeviceptr mem[16];
    int nmem;
    char why[300];
} gpu_batch;

static int fail(gpu_batch *g, CUresult r, const char *what)
{
    char text[160];
    cuda_error_text(g->d, r, text, sizeof text);
    snprintf(g->why, sizeof g->why, "%s on cuda:%d: %s", what, g->ordinal, text);
    return -1;
}

#define CU(call, what) \
    do { \
        CUresult r_ = (call); \
        if (r_ != NLSQ_CUDA_SUCCESS) return fail(g, r_, what); \
    } while (0)

/* count doubles as a device array of float32 (converted here) or float64. */
static int data_array(gpu_batch *g, CUdeviceptr *out, const double *host, size_t count, int float32, const char *what);

/* A device array of `bytes`, copied from `host` when not NULL; 0 for an
   empty one. Freed by close_batch. */
static int device_array(gpu_batch *g, CUdeviceptr *out, const void *host, size_t bytes, const char *what)
{
    *out = 0;
    if (bytes == 0) return 0;
    CU(g->d->cuMemAlloc(out, bytes), what);
    g->mem[g->nmem++] = *out;
    if (host) CU(g->d->cuMemcpyHtoD(*out, host, bytes), what);
    return 0;
}

static int data_array(gpu_batch *g, CUdeviceptr *out, const double *host, size_t count, int float32, const char *what)
{
    if (!float32 || !host) return device_array(g, out, host, host ? count * sizeof(double) : 0, what);
    float *f = malloc((count ? count : 1) * sizeof *f);
    if (!f) {
        snprintf(g->why, sizeof g->why, "out of memory converting the data to float32");
        return -1;
    }
    for (size_t i = 0; i < count; i++) f[i] = (float)host[i];
    int rc = device_array(g, out, f, count * sizeof *f, what);
    free(f);
    return rc;
}

static void close_batch(gpu_batch *g)
{
    for (int k = 0; k < g->nmem; k++) g->d->cuMemFree(g->mem[k]);
    if (g->mod) g->d->cuModuleUnload(g->mod);
    /* the primary context stays retained for the process (cuda_load.c) */
}

static int open_batch(gpu_batch *g, const program *prog, const int *cols, int ncols, int float32, char *note,
                      size_t note_size)
{
    CU(g->d->cuDeviceGet(&g->dev, g->ordinal), "cuDeviceGet");
    g->d->cuDeviceGetAttribute(&g->major, NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, g->dev);
    g->d->cuDeviceGetAttribute(&g->minor, NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, g->dev);
    CUresult rc;
    g->ctx = cuda_primary_context(g->d, g->dev, &rc);
    CU(rc, "cuDevicePrimaryCtxRetain");
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    char *source = cuda_source_batch(prog, cols, ncols, float32);
    if (!source) {
        snprintf(g->why, sizeof g->why, "no CUDA batch kernel for this model (out of memory)");
        return -1;
    }
    char text[200];
    int r = cuda_module_load(g->d, g->major, g->minor, source, &g->mod, note, note_size, text, sizeof text);
    free(source);
    if (r != 0) {
        snprintf(g->why, sizeof g->why, "%s on cuda:%d", text, g->ordinal);
        return -1;
    }
    CU(g->d->cuModuleGetFunction(&g->fn, g->mod, g->warp ? "nlsq_batch_warp" : "nlsq_batch"), "cuModuleGetFunction");
    return 0;
}

/* The outputs come back as 8-byte values and are narrowed here. */
static int fetch_results(gpu_batch *g, const batch_args *a, const gpu_batch_in *in, gpu_batch_out *out)
{
    size_t nf = in->nfits, np = (size_t)in->nparams;
    long long *ll = malloc(nf * 5 * sizeof *ll);
    if (!ll) {
        snprintf(g->why, sizeof g->why, "out of memory for the results");
        return -1;
    }
    int rc = -1;
    CUresult r;
#define GET(dst, src, bytes) \
    if ((r = g->d->cuMemcpyDtoH(dst, src, bytes)) != NLSQ_CUDA_SUCCESS) { \
        fail(g, r, "cuMemcpyDtoH (results)"); \
        goto done; \
    }
    GET(out->popt, a->popt, nf * np * sizeof(double));
    GET(out->cost, a->cost, nf * sizeof(double));
    GET(out->chi2, a->chi2, nf * sizeof(double));
    if (out->perr) GET(out->perr, a->perr, nf * np * sizeof(double));
    if (out->pcov) GET(out->pcov, a->pcov, nf * np * np * sizeof(double));
    GET(ll, a->status, nf * sizeof *ll);
    GET(ll + nf, a->nfev, nf * sizeof *ll);
    GET(ll + 2 * nf, a->nit, nf * sizeof *ll);
    GET(ll + 3 * nf, a->m_used, nf * sizeof *ll);
    GET(ll + 4 * nf, a->pcov_valid, nf * sizeof *ll);
#undef GET
    for (size_t i = 0; i < nf; i++) {
        out->status[i] = (int)ll[i];
        out->nfev[i] = (int)ll[nf + i];
        out->nit[i] = (int)ll[2 * nf + i];
        out->m[i] = (size_t)ll[3 * nf + i];
        out->pcov_valid[i] = (unsigned char)(ll[4 * nf + i] != 0);
    }
    rc = 0;
done:
    free(ll);
    return rc;
}

static int run(gpu_batch *g, const gpu_batch_in *in, gpu_batch_out *out)
{
    size_t nf = in->nfits, np = (size_t)in->nparams, k = (size_t)in->k;
    size_t xcount = in->x_shared ? k * in->xstride : k * in->total;
    batch_args a;
    memset(&a, 0, sizeof a);
    unsigned long long *offsets = NULL;
    if (in->offsets) {
        offsets = malloc((nf + 1) * sizeof *offsets);
        if (!offsets) {
            snprintf(g->why, sizeof g->why, "out of memory for the offsets");
            return -1;
        }
        for (size_t i = 0; i <= nf; i++) offsets[i] = in->offsets[i];
    }
    int bad = data_array(g, &a.x, in->x, xcount, in->float32, "cuMemAlloc (x)") ||
              data_array(g, &a.y, in->y, in->total, in->float32, "cuMemAlloc (y)") ||
              data_array(g, &a.sigma, in->sigma, in->total, in->float32, "cuMemAlloc (sigma)") ||
              device_array(g, &a.offsets, offsets, offsets ? (nf + 1) * sizeof *offsets : 0, "cuMemAlloc (offsets)") ||
              device_array(g, &a.p0, in->p0, nf * np * sizeof(double), "cuMemAlloc (p0)") ||
              device_array(g, &a.popt, NULL, nf * np * sizeof(double), "cuMemAlloc (popt)") ||
              device_array(g, &a.perr, NULL, out->perr ? nf * np * sizeof(double) : 0, "cuMemAlloc (perr)") ||
              device_array(g, &a.pcov, NULL, out->pcov ? nf * np * np * sizeof(double) : 0, "cuMemAlloc (pcov)") ||
              device_array(g, &a.cost, NULL, nf * sizeof(double), "cuMemAlloc (cost)") ||
              device_array(g, &a.chi2, NULL, nf * sizeof(double), "cuMemAlloc (chi2)") ||
              device_array(g, &a.status, NULL, nf * 8, "cuMemAlloc (status)") ||
              device_array(g, &a.nfev, NULL, nf * 8, "cuMemAlloc (nfev)") ||
              device_array(g, &a.nit, NULL, nf * 8, "cuMemAlloc (nit)") ||
              device_array(g, &a.m_used, NULL, nf * 8, "cuMemAlloc (m)") ||
              device_array(g, &a.pcov_valid, NULL, nf * 8, "cuMemAlloc (pcov_valid)");
    free(offsets);
    if (bad) return -1;
    a.nfits = nf;
    a.m = in->m;
    a.xstride = in->x_shared ? in->xstride : in->total;
    a.x_shared = (unsigned long long)in->x_shared;
    a.nparams = np;
    a.policy = (unsigned long long)in->policy;
    a.absolute_sigma = (unsigned long long)in->absolute_sigma;
    a.max_nfev = (unsigned long long)(in->max_nfev > 0 ? in->max_nfev : 0);
    a.ftol = in->ftol;
    a.xtol = in->xtol;
    a.gtol = in->gtol;
    CUdeviceptr args;
    if (device_array(g, &args, &a, sizeof a, "cuMemAlloc (arguments)")) return -1;
    void *params[] = {&args};
    size_t threads = nf * (g->warp ? 32 : 1);
    unsigned blocks = (unsigned)((threads + BATCH_TPB - 1) / BATCH_TPB);
    CU(g->d->cuLaunchKernel(g->fn, blocks, 1, 1, BATCH_TPB, 1, 1, 0, NULL, params, NULL), "cuLaunchKernel (batch)");
    CU(g->d->cuCtxSynchronize(), "the batch kernel");
    return fetch_results(g, &a, in, out);
}

int gpu_batch_run(const program *prog, const int *cols, int ncols, int ordinal, const gpu_batch_in *in,
                  gpu_batch_out *out, char *why, size_t why_size)
{
    gpu_batch g;
    memset(&g, 0, sizeof g);
    g.ordinal = ordinal;
    const char *mapping = getenv("NLSQ_BATCH_MAPPING");
    if (mapping && *mapping && strcmp(mapping, "thread") != 0 && strcmp(mapping, "warp") != 0) {
        snprintf(why, why_size, "NLSQ_BATCH_MAPPING is '%.40s'; expected thread or warp", mapping);
        return -1;
    }
    g.warp = mapping && *mapping ? strcmp(mapping, "warp") == 0 : in->total >= (size_t)BATCH_WARP_POINTS * in->nfits;
    if (in->nfits > (size_t)UINT32_MAX * BATCH_TPB / 64) {
        snprintf(why, why_size, "%zu fits are more than one launch takes", in->nfits);
        return -1;
    }
    if (!(g.d = cuda_driver_get(why, why_size))) return -1;
    char note[96] = "";
    int rc = open_batch(&g, prog, cols, ncols, in->float32, note, sizeof note);
    if (rc == 0) rc = run(&g, in, out);
    if (rc == 0) {
        char name[128] = "";
        g.d->cuDeviceGetName(name, (int)sizeof name, g.dev);
        snprintf(out->device, sizeof out->device, "cuda:%d", ordinal);
        snprintf(out->note, sizeof out->note, "%.100s, one %s a fit (lm)%s, kernel %s", name,
                 g.warp ? "warp" : "thread", in->float32 ? ", float32 data and Jacobian" : "", note);
    } else {
        snprintf(why, why_size, "%s", g.why);
    }
    close_batch(&g);
    return rc;
}
