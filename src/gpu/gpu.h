/*
 * The CUDA tier: loading (cuda_load.c), devices (devices.c), run-time
 * compilation (cuda_compile.c), the kernels' source (cuda_source.c: the
 * templates cuda_kernel.cu and cuda_batch.cu, the numeric core of
 * src/kernel/, and the model's code from the same code generator as the
 * CPU kernels, src/exec/codegen.c), passes on one or several devices
 * (cuda_pass.c) and batches (cuda_batch.c).
 */
#ifndef NLSQ_GPU_GPU_H
#define NLSQ_GPU_GPU_H

#include <stddef.h>

#include "cuda_api.h"
#include "exec/exec.h"
#include "kernel/sum.h"

/* ---- cuda_compile.c ------------------------------------------------------------ */

typedef struct cuda_image {
    char *data; /* cubin or PTX (NUL-terminated)      */
    size_t size;
    int cubin;
    char *log; /* NVRTC's messages; "" when none     */
} cuda_image;

/* Compile `source` for `arch`: "sm_NN" with cubin = 1, "compute_NN" with
   cubin = 0 (PTX). 0, or -1 with the reason (and out->log when NVRTC
   wrote one). */
int cuda_compile(const char *source, const char *arch, int cubin, cuda_image *out, char *why, size_t why_size);
void cuda_image_free(cuda_image *img);

/* ---- cuda_source.c ---------------------------------------------------------------- */

/* The CUDA source of a pass kernel for the free parameters cols[ncols],
   or NULL when out of memory. */
char *cuda_source_pass(const program *p, const int *cols, int ncols, int float32);
/* The CUDA source of a batch kernel (cuda_batch.cu: MINPACK's lm on the
   device, a thread or a warp a fit) for the free parameters cols[ncols],
   with float32 data and Jacobian if asked, or NULL. */
char *cuda_source_batch(const program *p, const int *cols, int ncols, int float32);

/* ---- cuda_pass.c: the kernel cache --------------------------------------------- */

/* A kernel's source as a loaded module of the current context: from the
   disk cache ($XDG_CACHE_HOME/nlsq/cuda), else compiled by NVRTC for
   sm_<major><minor> (PTX if the driver refuses the cubin) and cached;
   note says which. 0, or -1 with the reason. */
int cuda_module_load(const cuda_driver *d, int major, int minor, const char *source, CUmodule *mod, char *note,
                     size_t note_size, char *why, size_t why_size);

/* ---- devices.c ------------------------------------------------------------------ */

typedef struct cuda_device_info {
    int ordinal;
    char name[128];
    size_t memory;    /* bytes */
    int major, minor; /* compute capability */
    int multiprocessors;
} cuda_device_info;

/* The devices (up to max), or -1 with the reason there are none usable. */
int cuda_devices(cuda_device_info *out, int max, char *why, size_t why_size);

/* ---- cuda_pass.c: a pass on one device ------------------------------------------- */

/* Free parameters a GPU pass can fold (shared memory per block). */
#define GPU_MAX_FREE 31

#define GPU_STAGE ((size_t)1 << 18) /* float32 values converted at a time */

typedef struct gpu_pass_spec {
    int ordinal;
    size_t first; /* the device's points: [first, first + m)     */
    const program *prog;
    const int *cols;
    int ncols;
    size_t m;
    int has_sigma;    /* a sigma column is uploaded                  */
    double sigma_all; /* else one sigma for all                      */
    nlsq_loss loss;
    double f_scale;
    int omit;           /* nan_policy omit                             */
    int float32;        /* data and per-point arithmetic in float32    */
    int nworkers;       /* threads that may upload at once             */
    size_t stream_unit; /* 0: the data must fit on the device; else
                            they may be streamed through it every pass,
                            in segments of a multiple of this many points */
} gpu_pass_spec;

typedef struct gpu_pass {
    const cuda_driver *d;
    int ordinal, major, minor;
    char name[128], note[96];
    CUdevice dev;
    CUcontext ctx;
    int retained;
    CUmodule mod;
    CUfunction fn;
    int ncols, nc, nvars, nuniform, has_sigma, loss, omit, float32;
    size_t esize; /* bytes per data value on the device: 4 or 8  */
    float *stage; /* float32: GPU_STAGE values per worker, converted
                            for upload                                  */
    int nworkers;
    double sigma_all, f_scale;
    size_t first, m; /* the points held: [first, first + m)         */
    size_t cap;      /* points the device's buffers hold: m, or a
                            segment's size when streaming               */
    int streaming;
    int tpb; /* threads per block                           */
    unsigned nblocks;
    unsigned long long per_block;
    CUdeviceptr x, y, sigma, u, R, sums;
    double *hsums; /* the last pass's blocks' sums, collected     */
    /* the K-vector pass (nlsq_pass_many): its function, and buffers for
       up to many_cap vectors' uniforms, triangles and sums, made at its
       first use */
    CUfunction fn_many;
    CUdeviceptr mu, mR, msums;
    size_t many_cap, many_ustride;
} gpu_pass;

/* Compile or load the kernel, allocate the device's buffers; 0, or -1
   with the reason (no driver, not enough device memory, ...). */
int gpu_pass_open(gpu_pass *g, const gpu_pass_spec *spec, char *why, size_t why_size);
/* Copy points [first, first+count) of the view (inside the device's
   range) to the device, on the thread of the given worker (0 ..
   nworkers-1; workers upload at once). */
int gpu_pass_upload(gpu_pass *g, const pass_view *v, size_t first, size_t count, int worker, char *why,
                    size_t why_size);
/* Streaming: the device's buffers now hold points [first, first+m),
   m <= cap (upload them next). */
void gpu_pass_set_range(gpu_pass *g, size_t first, size_t m);
/* Start a pass with uniform registers u (computed on the host); collect
   then waits for it and copies the blocks' triangles to R (nblocks of
   them) and their sums to g->hsums. */
int gpu_pass_launch(gpu_pass *g, const double *u, char *why, size_t why_size);
int gpu_pass_collect(gpu_pass *g, double *R, char *why, size_t why_size);
void gpu_pass_close(gpu_pass *g);

/* ---- cuda_pass.c: a pass on several devices --------------------------------------- */

#define GPU_MAX_DEVICES 16

/*
 * The points split into contiguous ranges, one per device (cuda:all); a
 * pass runs on all of them at once, and all the blocks' triangles, in
 * device order, merge in one fixed tree: a pass's result depends on the
 * number of devices, never on timing. One device is the same as a single
 * gpu_pass.
 */
typedef struct gpu_group {
    int count;
    gpu_pass part[GPU_MAX_DEVICES];
    unsigned nblocks;   /* over all parts                              */
    size_t segments;    /* a pass's segments: 1, or more when streaming */
    double *R, *work;   /* nblocks * segments triangles; one for the merge */
    size_t filled;      /* triangles collected in this pass            */
    nk_ksum cost, chi2; /* compensated, as the CPU pass sums */
    double bad;
    double *many_R, *many_sums; /* the K-vector pass's blocks' triangles and
                                   sums, vector by vector, in device order */
    size_t many_cap;
} gpu_group;

/* Open the devices ordinals[0..count) for spec's m points (spec->ordinal
   and spec->first are ignored). */
int gpu_group_open(gpu_group *G, const gpu_pass_spec *spec, const int *ordinals, int count, char *why, size_t why_size);
/* Points [first, first+count) of the view, to whichever devices hold them. */
int gpu_group_upload(gpu_group *G, const pass_view *v, size_t first, size_t count, int worker, char *why,
                     size_t why_size);
/* A pass: cost, chi2, R_aug and the non-finite count into out. */
int gpu_group_run(gpu_group *G, const double *u, pass_out *out, char *why, size_t why_size);
/* The same in steps, for a pass streamed in segments: begin, then add
   after each segment's upload (every device runs on what it holds), then
   end merges everything collected, in the order it was added. */
void gpu_group_begin(gpu_group *G);
int gpu_group_add(gpu_group *G, const double *u, char *why, size_t why_size);
void gpu_group_end(gpu_group *G, pass_out *out);
void gpu_group_close(gpu_group *G);

/* ---- cuda_pass.c: K parameter vectors in one launch (the global search) -------------- */

/* Vectors a K-vector launch takes at most: their blocks' triangles within
   GPU_MANY_BYTES on the device (more vectors go in several launches). */
#define GPU_MANY_BYTES ((size_t)64 << 20)

/* The devices now hold points [0, m) of a smaller set (a sample of the
   data they were opened for, m at most that; not when streaming), in
   equal contiguous shares again: upload them next. 0, or -1 with the
   reason. */
int gpu_group_set_points(gpu_group *G, size_t m, char *why, size_t why_size);
/*
 * K vectors over the data the devices hold: vector k's uniform registers
 * at U + k * ustride (ustride >= the program's nuniform); cost[k],
 * chi2[k], bad[k] and (unless no_triangle) R + k * (ncols+1)^2 out. Each
 * vector's blocks are merged in gpu_group_run's fixed tree, so vector k
 * gets the bits a one-vector pass at it gives, whatever K. 0, or -1 with
 * the reason (nothing is then valid).
 */
int gpu_group_run_many(gpu_group *G, const double *U, size_t ustride, int K, int no_triangle, double *cost,
                       double *chi2, double *R, size_t *bad, char *why, size_t why_size);

/* ---- cuda_batch.c: batches of small fits, one thread a fit ------------------------ */

/* The batch's arrays as the kernel reads them (see nlsq_batch). */
typedef struct gpu_batch_in {
    size_t nfits, m, total, xstride;
    const size_t *offsets; /* or NULL                                   */
    const double *x, *y, *sigma;
    int x_shared, nparams, k;
    const double *p0; /* nfits x nparams, every fit's full start    */
    int policy;       /* 0 raise, 1 omit, 2 ignore                  */
    int absolute_sigma, max_nfev, want_pcov;
    double ftol, xtol, gtol;
    int float32; /* data and Jacobian in float32 on the device */
} gpu_batch_in;

typedef struct gpu_batch_out {
    double *popt, *perr, *pcov, *cost, *chi2; /* perr, pcov may be NULL */
    int *status, *nfev, *nit;
    unsigned char *pcov_valid;
    size_t *m;
    char device[16], note[240];
} gpu_batch_out;

/* Run every fit with MINPACK's lm on device `ordinal`, the free
   parameters cols[ncols] of `prog`; 0, or -1 with the reason. */
int gpu_batch_run(const program *prog, const int *cols, int ncols, int ordinal, const gpu_batch_in *in,
                  gpu_batch_out *out, char *why, size_t why_size);

/* ---- placement.c: where a fit's passes run, and its data's upload ------- */

/* Open the devices that `requested` names (NULL: $NLSQ_DEVICE, else
   "auto"; "cpu", "cuda", "cuda:N", "cuda:all") for the pass spec (its
   ordinal and stream_unit are chosen here). 1 with g open and device
   ("cuda:N", "cuda:all") and note filled; 0 for the CPU ("auto" without a
   usable GPU, or too few points), with note saying why; -1 with the
   reason in why when a GPU was named and cannot be used. */
int gpu_place(const char *requested, const gpu_pass_spec *spec, gpu_group *g, char *device, size_t device_size,
              char *note, size_t note_size, char *why, size_t why_size);

enum { GPU_UPLOAD_READ_FAILED = -1, GPU_UPLOAD_COPY_FAILED = -2 };

/* Upload chunks [c0, c1) of the pass's m_total points through pd on the
   pool's threads (in_place: pd's windows stay valid after the next read,
   so neighbours go in one copy). 0, or the GPU_UPLOAD_* of the lowest
   chunk that failed with its reason in why (read_why, pd's own message,
   for a failed read). */
int gpu_group_upload_chunks(gpu_group *g, const pass_data *pd, pool *threads, size_t m_total, int in_place, int c0,
                            int c1, const char *read_why, char *why, size_t why_size);

#endif
