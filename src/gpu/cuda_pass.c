/*
 * A pass on CUDA devices. The data are uploaded once per fit (the reader
 * delivers them window by window, so any source works), or, when they do
 * not fit in the device, segment by segment in every pass; a pass sends
 * the uniform registers (the parameter-only part of the program, computed
 * on the host by the interpreter, as on the CPU) and gets back one small
 * triangle, a cost, a chi-square and a count per thread block, which are
 * merged here in a fixed tree — so a pass gives the same bits on every
 * run. A gpu_group spreads the points over several devices (cuda:all).
 *
 * Kernels are compiled by NVRTC for the device's architecture and kept on
 * disk beside the CPU kernels ($XDG_CACHE_HOME/nlsq/cuda), keyed by the
 * source, NVRTC's version, the options and the architecture, and sealed
 * with a checksum checked before the driver sees them; where the driver
 * cannot load the cubin, PTX for the same architecture is tried.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/exec.h"
#include "exec/jit.h"
#include "gpu.h"
#include "linalg/linalg.h"


static int cu_fail(const gpu_pass *g, CUresult r, const char *what, char *why, size_t why_size)
{
    char text[160];
    cuda_error_text(g->d, r, text, sizeof text);
    snprintf(why, why_size, "%s on cuda:%d: %s", what, g->ordinal, text);
    return -1;
}

#define CU(call, what) \
    do { \
        CUresult r_ = (call); \
        if (r_ != NLSQ_CUDA_SUCCESS) return cu_fail(g, r_, what, why, why_size); \
    } while (0)

/* ---- the kernel cache ----------------------------------------------------------- */

static int cache_path(const char *source, const char *arch, int cubin, char *out, size_t size)
{
    char why[300];
    const cuda_nvrtc *nv = cuda_nvrtc_get(NULL, 0);
    if (!nv) return -1;
    char ident[160];
    snprintf(ident, sizeof ident, "nvrtc %d.%d arch %s %s codegen %d", nv->major, nv->minor, arch,
             cubin ? "cubin" : "ptx", JIT_CODEGEN_VERSION);
    return cache_file_path("cuda", ident, source, cubin ? ".cubin" : ".ptx", out, size, why, sizeof why);
}

/* A cached image ends in a seal: "NLSQSUM1" and the 128-bit checksum of
   the image and the file's name (its key), so that a file cut short,
   damaged or put there by anything else is compiled afresh, never handed
   to the driver. */
#define SEAL_MAGIC "NLSQSUM1"
enum { SEAL_BYTES = 8 + 32 };

static void image_sum(const char *data, size_t n, const char *path, char out[33])
{
    const char *slash = strrchr(path, '/');
    hash128 h = hash128_start();
    hash128_bytes(&h, data, n);
    hash128_str(&h, slash ? slash + 1 : path);
    hash128_hex(&h, out);
}

static int cache_load(const char *path, cuda_image *img)
{
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    int ok = size > SEAL_BYTES && size < (1L << 30) && fseek(f, 0, SEEK_SET) == 0 &&
             (img->data = malloc((size_t)size + 1)) && fread(img->data, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    size_t n = ok ? (size_t)size - SEAL_BYTES : 0;
    char sum[33];
    if (ok) {
        image_sum(img->data, n, path, sum);
        ok = memcmp(img->data + n, SEAL_MAGIC, 8) == 0 && memcmp(img->data + n + 8, sum, 32) == 0;
    }
    if (!ok) {
        cuda_image_free(img);
        return -1;
    }
    img->data[n] = '\0';
    img->size = n;
    return 0;
}

/* Written through core/outfile (a registered temporary, renamed whole);
   a failure only costs a compile next time. */
static void cache_store(const char *path, const cuda_image *img)
{
    outfile o;
    char why[400], sum[33];
    if (outfile_open(&o, path, why, sizeof why) != 0) return;
    size_t size = img->cubin ? img->size : strlen(img->data) + 1;
    image_sum(img->data, size, path, sum);
    if (fwrite(img->data, 1, size, o.f) != size || fputs(SEAL_MAGIC, o.f) == EOF || fputs(sum, o.f) == EOF) {
        outfile_discard(&o);
        return;
    }
    outfile_commit(&o, why, sizeof why);
}

/* A kernel's source as a loaded module: from the cache, else compiled
   (cubin, then PTX if the driver refuses the cubin); note says which. */
int cuda_module_load(const cuda_driver *d, int major, int minor, const char *source, CUmodule *mod, char *note,
                     size_t note_size, char *why, size_t why_size)
{
    char arch[24], path[PATH_MAX];
    for (int cubin = 1; cubin >= 0; cubin--) {
        snprintf(arch, sizeof arch, "%s_%d%d", cubin ? "sm" : "compute", major, minor);
        cuda_image img;
        int have_path = cache_path(source, arch, cubin, path, sizeof path) == 0;
        int cached = have_path && cache_load(path, &img) == 0;
        if (!cached && cuda_compile(source, arch, cubin, &img, why, why_size) != 0) return -1;
        CUresult r = d->cuModuleLoadData(mod, img.data);
        if (r == NLSQ_CUDA_SUCCESS) {
            if (!cached && have_path) cache_store(path, &img);
            snprintf(note, note_size, "%s %s",
                     cached ? "loaded from the cache:" : "compiled by NVRTC:", cubin ? arch : "PTX");
            cuda_image_free(&img);
            return 0;
        }
        cuda_image_free(&img);
        if (cached && have_path) unlink(path); /* a bad cache file: rebuilt next time */
        if (!cubin) {
            char text[160];
            cuda_error_text(d, r, text, sizeof text);
            snprintf(why, why_size, "cuModuleLoadData: %s", text);
            return -1;
        }
    }
    return -1;
}

static int load_module(gpu_pass *g, const char *source, char *why, size_t why_size)
{
    char text[200];
    if (cuda_module_load(g->d, g->major, g->minor, source, &g->mod, g->note, sizeof g->note, text, sizeof text) == 0)
        return 0;
    snprintf(why, why_size, "%s on cuda:%d", text, g->ordinal);
    return -1;
}

/* ---- setup ---------------------------------------------------------------------------- */

/*
 * NLSQ_CUDA_TUNE="K=k,TPB=t": rows a lane holds per tile and threads a
 * block, instead of the kernel's choice by model size — for bench/gpu to
 * sweep them (the kernel cache keys on the source, so each variant is
 * cached apart). 0, or -1 with the reason; *k and *tpb stay 0 when unset.
 */
static int tuning(int nc, int *k, int *tpb, char *why, size_t why_size)
{
    *k = *tpb = 0;
    const char *s = getenv("NLSQ_CUDA_TUNE");
    if (!s || !*s) return 0;
    for (const char *p = s; *p;) {
        int v = 0, n = 0;
        if (sscanf(p, "K=%d%n", &v, &n) == 1 && n > 0)
            *k = v;
        else if (sscanf(p, "TPB=%d%n", &v, &n) == 1 && n > 0)
            *tpb = v;
        else
            break;
        p += n;
        if (*p == ',')
            p++;
        else if (*p)
            break;
        if (!*p) {
            int k_ok = *k == 0 || (*k >= 1 && *k <= 16),
                t_ok = *tpb == 0 || (*tpb >= 32 && *tpb <= 1024 && *tpb % 32 == 0);
            /* the warps' triangles in 48 kB of static shared memory */
            int fits = (size_t)(*tpb ? *tpb : nc <= 24 ? 256 : 128) / 32 * (size_t)(nc * nc) * 8 <= 48 * 1024 - 512;
            if (k_ok && t_ok && fits) return 0;
            snprintf(why, why_size,
                     "NLSQ_CUDA_TUNE='%.60s': K from 1 to 16, TPB a multiple of 32 up to 1024 whose "
                     "warps' triangles fit in 48 kB",
                     s);
            return -1;
        }
    }
    snprintf(why, why_size, "NLSQ_CUDA_TUNE='%.60s': expected K=k,TPB=t", s);
    return -1;
}

int gpu_pass_open(gpu_pass *g, const gpu_pass_spec *s, char *why, size_t why_size)
{
    memset(g, 0, sizeof *g);
    g->ordinal = s->ordinal;
    if (s->ncols > GPU_MAX_FREE) {
        /* the tile and the triangle live in a block's 48 kB of static
           shared memory: (ncols + 1) x 128 + (ncols + 1)^2 doubles */
        snprintf(why, why_size, "the GPU kernel takes up to %d free parameters, this fit has %d (use device cpu)",
                 GPU_MAX_FREE, s->ncols);
        return -1;
    }
    g->d = cuda_driver_get(why, why_size);
    if (!g->d) return -1;
    g->ncols = s->ncols;
    g->nc = s->ncols + 1;
    g->nvars = s->prog->nvars;
    g->nuniform = s->prog->nuniform;
    g->first = s->first;
    g->m = s->m;
    g->has_sigma = s->has_sigma;
    g->sigma_all = s->sigma_all;
    g->loss = (int)s->loss;
    g->f_scale = s->f_scale;
    g->omit = s->omit;
    g->float32 = s->float32;
    g->esize = s->float32 ? sizeof(float) : sizeof(double);
    CU(g->d->cuDeviceGet(&g->dev, s->ordinal), "cuDeviceGet");
    g->d->cuDeviceGetName(g->name, (int)sizeof g->name, g->dev);
    g->d->cuDeviceGetAttribute(&g->major, NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, g->dev);
    g->d->cuDeviceGetAttribute(&g->minor, NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, g->dev);
    int sms = 1;
    g->d->cuDeviceGetAttribute(&sms, NLSQ_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, g->dev);
    CUresult rc_ctx;
    g->ctx = cuda_primary_context(g->d, g->dev, &rc_ctx);
    CU(rc_ctx, "cuDevicePrimaryCtxRetain");
    g->retained = 1;
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    int tuned_k, tuned_tpb;
    if (tuning(g->nc, &tuned_k, &tuned_tpb, why, why_size) != 0) return -1;
    g->tpb = tuned_tpb ? tuned_tpb : g->nc <= 24 ? 256 : 128; /* NLSQ_TPB of cuda_kernel.cu */
    unsigned max_blocks = (unsigned)sms * 32;
    size_t per_point = g->esize * (size_t)(g->nvars + 1 + g->has_sigma);
    size_t fixed = ((size_t)max_blocks * (size_t)(g->nc * g->nc + 3) + (size_t)g->nuniform) * 8;
    size_t free_bytes = 0, total = 0;
    CU(g->d->cuMemGetInfo(&free_bytes, &total), "cuMemGetInfo");
    g->cap = g->m;
    if (g->m * per_point + fixed > free_bytes) {
        if (!s->stream_unit) {
            snprintf(why, why_size,
                     "the data need %.3g GB on cuda:%d, which has %.3g GB free; fit on the CPU (device cpu), whose "
                     "passes read any size",
                     (double)(g->m * per_point) * 1e-9, g->ordinal, free_bytes * 1e-9);
            return -1;
        }
        /* stream: segments in half of the device's memory — its total,
           not its free memory, which changes from run to run: the
           segments, and so a pass's bits, depend on the device alone */
        size_t budget = total / 2, unit = s->stream_unit;
        size_t cap = budget > fixed ? (budget - fixed) / per_point / unit * unit : 0;
        if (cap == 0 || cap * per_point + fixed > free_bytes) {
            snprintf(why, why_size,
                     "cuda:%d has %.3g GB free, too little even to stream the data through it (%.3g GB needed); fit "
                     "on the CPU (device cpu)",
                     g->ordinal, free_bytes * 1e-9, (double)(unit * per_point + fixed) * 1e-9);
            return -1;
        }
        g->cap = cap;
        g->streaming = 1;
    }
    char *source = cuda_source_pass(s->prog, s->cols, s->ncols, s->float32);
    if (source && (tuned_k || tuned_tpb)) {
        char defs[96];
        int n = snprintf(defs, sizeof defs, "#define NLSQ_K_TUNED %d\n#define NLSQ_TPB_TUNED %d\n",
                         tuned_k ? tuned_k : 0, g->tpb);
        if (!tuned_k) n = snprintf(defs, sizeof defs, "#define NLSQ_TPB_TUNED %d\n", g->tpb);
        char *both = malloc((size_t)n + strlen(source) + 1);
        if (both) {
            memcpy(both, defs, (size_t)n);
            strcpy(both + n, source);
        }
        free(source);
        source = both;
    }
    if (!source) {
        snprintf(why, why_size, "out of memory for the CUDA kernel's source");
        return -1;
    }
    int rc = load_module(g, source, why, why_size);
    free(source);
    if (rc != 0) return -1;
    CU(g->d->cuModuleGetFunction(&g->fn, g->mod, "nlsq_pass"), "cuModuleGetFunction");
    CU(g->d->cuModuleGetFunction(&g->fn_many, g->mod, "nlsq_pass_many"), "cuModuleGetFunction (nlsq_pass_many)");
    /* as many blocks as are resident at once: each folds a contiguous
       range of points, and every block's triangle is one more merge on
       the host per pass. A block takes at least 16 points per thread. */
    int per_sm = 0;
    if (g->d->cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, g->fn, g->tpb, 0) != NLSQ_CUDA_SUCCESS || per_sm < 1)
        per_sm = 2;
    unsigned long long want = (unsigned long long)sms * (unsigned)per_sm, most = g->cap / ((size_t)g->tpb * 16);
    if (want > max_blocks) want = max_blocks;
    if (want > most) want = most ? most : 1;
    g->nblocks = (unsigned)want;
    gpu_pass_set_range(g, g->first, g->streaming ? g->cap : g->m);
    size_t cap = g->cap ? g->cap : 1;
    CU(g->d->cuMemAlloc(&g->x, cap * (size_t)(g->nvars ? g->nvars : 1) * g->esize), "cuMemAlloc (x)");
    CU(g->d->cuMemAlloc(&g->y, cap * g->esize), "cuMemAlloc (y)");
    if (g->has_sigma) CU(g->d->cuMemAlloc(&g->sigma, cap * g->esize), "cuMemAlloc (sigma)");
    CU(g->d->cuMemAlloc(&g->u, (size_t)(g->nuniform ? g->nuniform : 1) * 8), "cuMemAlloc (u)");
    CU(g->d->cuMemAlloc(&g->R, (size_t)g->nblocks * (size_t)(g->nc * g->nc) * 8), "cuMemAlloc (R)");
    CU(g->d->cuMemAlloc(&g->sums, (size_t)g->nblocks * 3 * 8), "cuMemAlloc (sums)");
    g->hsums = malloc((size_t)g->nblocks * 3 * sizeof *g->hsums);
    g->nworkers = s->nworkers > 0 ? s->nworkers : 1;
    if (g->float32) g->stage = malloc((size_t)g->nworkers * GPU_STAGE * sizeof *g->stage);
    if (!g->hsums || (g->float32 && !g->stage)) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    return 0;
}

/* count values from src to element first of the device array dst, as
   float32 (through the worker's staging buffer) or float64. */
static int put(gpu_pass *g, CUdeviceptr dst, size_t first, const double *src, size_t count, int worker,
               const char *what, char *why, size_t why_size)
{
    if (!g->float32) {
        CU(g->d->cuMemcpyHtoD(dst + first * 8, src, count * 8), what);
        return 0;
    }
    float *stage = g->stage + (size_t)worker * GPU_STAGE;
    for (size_t done = 0; done < count; done += GPU_STAGE) {
        size_t n = count - done < GPU_STAGE ? count - done : GPU_STAGE;
        for (size_t i = 0; i < n; i++) stage[i] = (float)src[done + i];
        CU(g->d->cuMemcpyHtoD(dst + (first + done) * 4, stage, n * 4), what);
    }
    return 0;
}

void gpu_pass_set_range(gpu_pass *g, size_t first, size_t m)
{
    g->first = first;
    g->m = m;
    unsigned long long per = (m + g->nblocks - 1) / g->nblocks;
    g->per_block = (per + g->tpb - 1) / g->tpb * g->tpb;
    if (!g->per_block) g->per_block = (unsigned long long)g->tpb;
}

int gpu_pass_upload(gpu_pass *g, const pass_view *v, size_t first, size_t count, int worker, char *why, size_t why_size)
{
    if (worker < 0 || worker >= g->nworkers) {
        snprintf(why, why_size, "internal error: upload worker %d of %d", worker, g->nworkers);
        return -1;
    }
    if (first < g->first || first + count > g->first + g->m) {
        snprintf(why, why_size, "internal error: points [%zu, %zu) outside cuda:%d's range", first, first + count,
                 g->ordinal);
        return -1;
    }
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    size_t lo = first - v->base;
    first -= g->first; /* on the device */
    for (int k = 0; k < g->nvars; k++)
        if (put(g, g->x, (size_t)k * g->cap + first, v->x + (size_t)k * v->stride + lo, count, worker,
                "cuMemcpyHtoD (x)", why, why_size) != 0)
            return -1;
    if (put(g, g->y, first, v->y + lo, count, worker, "cuMemcpyHtoD (y)", why, why_size) != 0) return -1;
    if (g->has_sigma &&
        put(g, g->sigma, first, v->sigma + lo, count, worker, "cuMemcpyHtoD (sigma)", why, why_size) != 0)
        return -1;
    return 0;
}

int gpu_pass_launch(gpu_pass *g, const double *u, char *why, size_t why_size)
{
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    if (g->nuniform) CU(g->d->cuMemcpyHtoD(g->u, u, (size_t)g->nuniform * 8), "cuMemcpyHtoD (u)");
    unsigned long long xstride = g->cap, m = g->m, per_block = g->per_block;
    CUdeviceptr sigma = g->has_sigma ? g->sigma : 0, residuals = 0;
    double sigma_all = g->sigma_all, f_scale = g->f_scale;
    int loss = g->loss, omit = g->omit;
    void *params[] = {&g->u,      &g->x, &xstride, &g->y, &sigma,     &sigma_all, &m,
                      &per_block, &loss, &f_scale, &omit, &residuals, &g->R,      &g->sums};
    CU(g->d->cuLaunchKernel(g->fn, g->nblocks, 1, 1, (unsigned)g->tpb, 1, 1, 0, NULL, params, NULL), "cuLaunchKernel");
    return 0;
}

int gpu_pass_collect(gpu_pass *g, double *R, char *why, size_t why_size)
{
    size_t sz = (size_t)g->nc * (size_t)g->nc;
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    CU(g->d->cuCtxSynchronize(), "the pass kernel");
    CU(g->d->cuMemcpyDtoH(R, g->R, (size_t)g->nblocks * sz * 8), "cuMemcpyDtoH (R)");
    CU(g->d->cuMemcpyDtoH(g->hsums, g->sums, (size_t)g->nblocks * 3 * 8), "cuMemcpyDtoH (sums)");
    return 0;
}

void gpu_pass_close(gpu_pass *g)
{
    if (g->d) {
        if (g->retained) g->d->cuCtxSetCurrent(g->ctx);
        CUdeviceptr bufs[] = {g->x, g->y, g->sigma, g->u, g->R, g->sums, g->mu, g->mR, g->msums};
        for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++)
            if (bufs[k]) g->d->cuMemFree(bufs[k]);
        if (g->mod) g->d->cuModuleUnload(g->mod);
    }
    free(g->hsums);
    free(g->stage);
    memset(g, 0, sizeof *g);
}

/* ---- several devices ----------------------------------------------------------------- */

int gpu_group_open(gpu_group *G, const gpu_pass_spec *spec, const int *ordinals, int count, char *why, size_t why_size)
{
    memset(G, 0, sizeof *G);
    if (count < 1 || count > GPU_MAX_DEVICES) {
        snprintf(why, why_size, "%d devices asked for, 1 to %d possible", count, GPU_MAX_DEVICES);
        return -1;
    }
    /* equal contiguous ranges, in device order */
    size_t first = 0;
    for (int k = 0; k < count; k++) {
        size_t m = spec->m / (size_t)count + ((size_t)k < spec->m % (size_t)count);
        gpu_pass_spec s = *spec;
        s.ordinal = ordinals[k];
        s.first = first;
        s.m = m;
        G->count = k + 1;
        if (gpu_pass_open(&G->part[k], &s, why, why_size) != 0) return -1;
        G->nblocks += G->part[k].nblocks;
        first += m;
    }
    /* streaming happens on one device only (stream_unit is 0 otherwise) */
    const gpu_pass *g0 = &G->part[0];
    G->segments = g0->streaming ? (spec->m + g0->cap - 1) / g0->cap : 1;
    size_t sz = (size_t)g0->nc * (size_t)g0->nc;
    G->R = malloc((size_t)G->nblocks * G->segments * sz * sizeof *G->R);
    G->work = malloc(sz * sizeof *G->work);
    if (!G->R || !G->work) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    return 0;
}

int gpu_group_upload(gpu_group *G, const pass_view *v, size_t first, size_t count, int worker, char *why,
                     size_t why_size)
{
    for (int k = 0; k < G->count && count; k++) {
        gpu_pass *g = &G->part[k];
        size_t end = g->first + g->m;
        if (first >= end) continue;
        size_t n = first + count < end ? count : end - first;
        if (gpu_pass_upload(g, v, first, n, worker, why, why_size) != 0) return -1;
        first += n;
        count -= n;
    }
    return 0;
}

void gpu_group_begin(gpu_group *G)
{
    G->filled = 0;
    G->cost = G->chi2 = (nk_ksum){0, 0};
    G->bad = 0;
}

int gpu_group_add(gpu_group *G, const double *u, char *why, size_t why_size)
{
    /* every device starts before any is waited for */
    for (int k = 0; k < G->count; k++)
        if (gpu_pass_launch(&G->part[k], u, why, why_size) != 0) return -1;
    size_t sz = (size_t)G->part[0].nc * (size_t)G->part[0].nc;
    for (int k = 0; k < G->count; k++) {
        gpu_pass *g = &G->part[k];
        if (G->filled + g->nblocks > (size_t)G->nblocks * G->segments) {
            snprintf(why, why_size, "internal error: more segments than planned");
            return -1;
        }
        if (gpu_pass_collect(g, G->R + G->filled * sz, why, why_size) != 0) return -1;
        G->filled += g->nblocks;
        for (unsigned b = 0; b < g->nblocks; b++) {
            nk_ksum_add(&G->cost, g->hsums[3 * b]);
            nk_ksum_add(&G->chi2, g->hsums[3 * b + 1]);
            G->bad += g->hsums[3 * b + 2];
        }
    }
    return 0;
}

void gpu_group_end(gpu_group *G, pass_out *out)
{
    size_t nc = (size_t)G->part[0].nc, sz = nc * nc, n = G->filled;
    /* merge in the CPU pass's fixed tree: (0,1) (2,3) ..., then (0,2) ... */
    for (size_t stride = 1; stride < n; stride *= 2)
        for (size_t i = 0; i + stride < n; i += 2 * stride)
            qr_merge(G->R + i * sz, G->R + (i + stride) * sz, (int)nc, G->work);
    if (n)
        memcpy(out->R, G->R, sz * sizeof *out->R);
    else
        memset(out->R, 0, sz * sizeof *out->R);
    out->cost = G->cost.sum + G->cost.comp;
    out->chi2 = G->chi2.sum + G->chi2.comp;
    out->nonfinite = (size_t)G->bad;
    out->read_failed = 0;
}

int gpu_group_run(gpu_group *G, const double *u, pass_out *out, char *why, size_t why_size)
{
    gpu_group_begin(G);
    if (gpu_group_add(G, u, why, why_size) != 0) return -1;
    gpu_group_end(G, out);
    return 0;
}

void gpu_group_close(gpu_group *G)
{
    for (int k = 0; k < G->count; k++) gpu_pass_close(&G->part[k]);
    free(G->R);
    free(G->work);
    free(G->many_R);
    free(G->many_sums);
    memset(G, 0, sizeof *G);
}

/* ---- K parameter vectors in one launch ------------------------------------------------ */

int gpu_group_set_points(gpu_group *G, size_t m, char *why, size_t why_size)
{
    size_t held = 0, first = 0;
    for (int k = 0; k < G->count; k++) held += G->part[k].cap;
    if (G->part[0].streaming || m > held) {
        snprintf(why, why_size, "internal error: %zu points for devices holding %zu%s", m, held,
                 G->part[0].streaming ? " (streamed)" : "");
        return -1;
    }
    /* gpu_group_open's shares: each is at most the share of the larger
       set the device's buffers were made for */
    for (int k = 0; k < G->count; k++) {
        size_t mk = m / (size_t)G->count + ((size_t)k < m % (size_t)G->count);
        gpu_pass_set_range(&G->part[k], first, mk);
        first += mk;
    }
    return 0;
}

/* Device buffers for `cap` vectors of ustride uniforms each. */
static int many_buffers(gpu_pass *g, size_t cap, size_t ustride, char *why, size_t why_size)
{
    if (cap <= g->many_cap && ustride == g->many_ustride) return 0;
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    CUdeviceptr *bufs[] = {&g->mu, &g->mR, &g->msums};
    for (int k = 0; k < 3; k++)
        if (*bufs[k]) {
            g->d->cuMemFree(*bufs[k]);
            *bufs[k] = 0;
        }
    g->many_cap = 0;
    size_t sz = (size_t)g->nc * (size_t)g->nc;
    CU(g->d->cuMemAlloc(&g->mu, cap * (ustride ? ustride : 1) * 8), "cuMemAlloc (K vectors' uniforms)");
    CU(g->d->cuMemAlloc(&g->mR, cap * g->nblocks * sz * 8), "cuMemAlloc (K vectors' triangles)");
    CU(g->d->cuMemAlloc(&g->msums, cap * g->nblocks * 3 * 8), "cuMemAlloc (K vectors' sums)");
    g->many_cap = cap;
    g->many_ustride = ustride;
    return 0;
}

static int launch_many(gpu_pass *g, const double *U, size_t ustride, int K, int no_triangle, char *why,
                       size_t why_size)
{
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    if (ustride) CU(g->d->cuMemcpyHtoD(g->mu, U, (size_t)K * ustride * 8), "cuMemcpyHtoD (K vectors' uniforms)");
    unsigned long long us = ustride, nb = g->nblocks, nv = (unsigned long long)K, xstride = g->cap, m = g->m,
                       per_block = g->per_block;
    CUdeviceptr sigma = g->has_sigma ? g->sigma : 0;
    double sigma_all = g->sigma_all, f_scale = g->f_scale;
    int loss = g->loss, omit = g->omit, nt = no_triangle;
    void *params[] = {&g->mu, &us,        &nb,   &nv,      &nt,   &g->x,  &xstride, &g->y,    &sigma,
                      &sigma_all, &m, &per_block, &loss, &f_scale, &omit, &g->mR, &g->msums};
    CU(g->d->cuLaunchKernel(g->fn_many, g->nblocks * (unsigned)K, 1, 1, (unsigned)g->tpb, 1, 1, 0, NULL, params, NULL),
       "cuLaunchKernel (nlsq_pass_many)");
    return 0;
}

/* Part p's K vectors' blocks (the device holds them vector by vector)
   into the group's arrays at block offset `off` of each vector's row. */
static int collect_many(gpu_group *G, gpu_pass *g, size_t off, int K, int no_triangle, char *why, size_t why_size)
{
    size_t sz = (size_t)g->nc * (size_t)g->nc, nb = g->nblocks, all = G->nblocks;
    CU(g->d->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
    CU(g->d->cuCtxSynchronize(), "the K-vector pass kernel");
    int whole = G->count == 1; /* one copy each when the rows are contiguous */
    for (int v = 0; v < (whole ? 1 : K); v++) {
        size_t n = whole ? (size_t)K * nb : nb, src = (size_t)v * nb, dst = (size_t)v * all + off;
        if (!no_triangle)
            CU(g->d->cuMemcpyDtoH(G->many_R + dst * sz, g->mR + src * sz * 8, n * sz * 8), "cuMemcpyDtoH (R)");
        CU(g->d->cuMemcpyDtoH(G->many_sums + dst * 3, g->msums + src * 3 * 8, n * 3 * 8), "cuMemcpyDtoH (sums)");
    }
    return 0;
}

/* Vector v's blocks (row v of the group's arrays) as gpu_group_end sums
   and merges one vector's. */
static void reduce_many(gpu_group *G, int v, int no_triangle, double *cost, double *chi2, double *R, size_t *bad)
{
    size_t nc = (size_t)G->part[0].nc, sz = nc * nc, n = G->nblocks;
    const double *s = G->many_sums + (size_t)v * n * 3;
    nk_ksum c = {0, 0}, c2 = {0, 0};
    double b = 0;
    for (size_t k = 0; k < n; k++) {
        nk_ksum_add(&c, s[3 * k]);
        nk_ksum_add(&c2, s[3 * k + 1]);
        b += s[3 * k + 2];
    }
    *cost = c.sum + c.comp;
    *chi2 = c2.sum + c2.comp;
    *bad = (size_t)b;
    if (no_triangle) return;
    double *T = G->many_R + (size_t)v * n * sz;
    for (size_t stride = 1; stride < n; stride *= 2)
        for (size_t i = 0; i + stride < n; i += 2 * stride)
            qr_merge(T + i * sz, T + (i + stride) * sz, (int)nc, G->work);
    memcpy(R, T, sz * sizeof *R);
}

int gpu_group_run_many(gpu_group *G, const double *U, size_t ustride, int K, int no_triangle, double *cost,
                       double *chi2, double *R, size_t *bad, char *why, size_t why_size)
{
    if (K <= 0) return 0;
    if (G->part[0].streaming) {
        snprintf(why, why_size, "the K-vector pass needs the data in the device's memory, not streamed");
        return -1;
    }
    if (ustride < (size_t)G->part[0].nuniform) {
        snprintf(why, why_size, "internal error: uniform stride %zu below %d", ustride, G->part[0].nuniform);
        return -1;
    }
    size_t nc = (size_t)G->part[0].nc, sz = nc * nc, most = 1;
    for (int k = 0; k < G->count; k++) {
        size_t per = (size_t)G->part[k].nblocks * sz * 8, can = per ? GPU_MANY_BYTES / per : 1;
        if (k == 0 || can < most) most = can;
    }
    if (most < 1) most = 1;
    size_t cap = (size_t)K < most ? (size_t)K : most;
    if (cap > G->many_cap) {
        double *r = realloc(G->many_R, cap * G->nblocks * sz * sizeof *r);
        if (r) G->many_R = r;
        double *s = r ? realloc(G->many_sums, cap * G->nblocks * 3 * sizeof *s) : NULL;
        if (s) G->many_sums = s;
        if (!r || !s) {
            snprintf(why, why_size, "out of memory for %zu vectors' triangles", cap);
            return -1;
        }
        G->many_cap = cap;
    }
    for (int k = 0; k < G->count; k++)
        if (many_buffers(&G->part[k], cap, ustride, why, why_size) != 0) return -1;
    for (int v0 = 0; v0 < K; v0 += (int)cap) {
        int kl = K - v0 < (int)cap ? K - v0 : (int)cap;
        /* every device starts before any is waited for */
        for (int k = 0; k < G->count; k++)
            if (launch_many(&G->part[k], U + (size_t)v0 * ustride, ustride, kl, no_triangle, why, why_size) != 0)
                return -1;
        size_t off = 0;
        for (int k = 0; k < G->count; k++) {
            if (collect_many(G, &G->part[k], off, kl, no_triangle, why, why_size) != 0) return -1;
            off += G->part[k].nblocks;
        }
        for (int v = 0; v < kl; v++)
            reduce_many(G, v, no_triangle, &cost[v0 + v], &chi2[v0 + v], no_triangle ? NULL : R + (size_t)(v0 + v) * sz,
                        &bad[v0 + v]);
    }
    return 0;
}
