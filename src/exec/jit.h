/*
 * The compiled tier: a model's program as C (codegen.c), built by the
 * system C compiler into a shared object, cached on disk by a hash of
 * everything that went into it, and loaded with dlopen (jit.c).
 */
#ifndef NLSQ_EXEC_JIT_H
#define NLSQ_EXEC_JIT_H

#include <pthread.h>
#include <stddef.h>

#include "model/model.h"

/* Bump when the generated code changes meaning: it is part of the cache
   key, so old kernels are not reused. */
#define JIT_CODEGEN_VERSION 28
#define JIT_ABI 2

/* ---- the ABI of a generated kernel (mirrored in jit_runtime.c) --------- */

typedef struct jit_chunk {
    const double *x;
    size_t stride;
    const double *y;
    const double *sigma;
    double sigma_all;
    size_t first, last; /* the points of this call                 */
    double *R;          /* (ncols+1)^2, the chunk's running triangle */
    double *block;      /* NLSQ_BLOCK x (ncols + 2) workspace       */
    double *xb;         /* NLSQ_BLOCK x nvars workspace             */
    /* Running compensated sums (sum, compensation), carried from call to
       call: a chunk read in windows sums exactly as in one call. */
    double cost, cost_comp, chi2, chi2_comp;
    size_t bad; /* running count of non-finite blocks       */
} jit_chunk;

typedef struct jit_kernel {
    int abi, nvars, ncols, width;
    const char *key;
    /* all uniform registers from the parameters */
    void (*uniform)(const double *params, double *u);
    /* points [start, start+len) -> out: columns 0..ncols-1 the Jacobian
       of the free parameters, column ncols the model, NLSQ_BLOCK apart */
    void (*block)(const double *u, const double *x, size_t stride, size_t start, size_t len, double *xb, double *out);
    /* a chunk of a linear-loss pass, fused: evaluate, weight, fold */
    void (*chunk_linear)(const double *u, jit_chunk *a);
} jit_kernel;

/* ---- codegen.c ---------------------------------------------------------- */

/* The kernel's C source for the free parameters cols[ncols], with width 4
   (libmvec AVX2) or 1 (libm); NULL when out of memory. The caller
   prepends the NLSQ_KEY definition. */
char *codegen_kernel(const program *p, const int *cols, int ncols, int width);
/* The model's part of a CUDA kernel for the free parameters cols[ncols]:
   model_point (one point, its Jacobian columns then its value), with
   float32 also model_value (the value in double), with uniform first
   model_uniform as a device function. Written from the same forms as the
   C kernels; the GPU layer (src/gpu/cuda_source.c) puts it into its
   templates. NULL when out of memory. */
char *codegen_cuda_model(const program *p, const int *cols, int ncols, int float32, int uniform);

/* ---- jit.c: compile, cache, load ---------------------------------------- */

enum { JIT_NONE, JIT_PENDING, JIT_READY, JIT_FAILED };

/* One kernel of a model: a program specialised to a set of free columns. */
typedef struct jit_entry {
    struct jit_entry *next;
    int *cols, ncols, width;
    int state; /* JIT_*, read and written under the set's lock */
    int ready; /* atomic: the kernel may be used              */
    const jit_kernel *kernel;
    void *handle; /* dlopen's                                    */
    char *source; /* with the key line; freed once built        */
    char key[33];
    pthread_t thread;
    int has_thread;
    char note[240];  /* why there is no kernel, or how it came      */
    double build_ms; /* compiler run, or load from the cache       */
    int from_cache;
} jit_entry;

/* The kernels of one model, owned by it; safe to use from many threads. */
/* A model's compiled kernels: attached to the model's slot on first use
   (the model layer only releases it), locked inside, so a const model may
   still gain kernels from several fits at once. */
typedef struct jit_set {
    model_attachment base; /* first: the model's slot points here */
    pthread_mutex_t lock;
    pthread_cond_t done;
    jit_entry *head;
} jit_set;


typedef enum jit_mode {
    JIT_LOOKUP,     /* the disk cache only; never run the compiler      */
    JIT_BACKGROUND, /* on a cache miss, compile on a thread of its own  */
    JIT_WAIT        /* on a cache miss, compile and wait for it         */
} jit_mode;

/* The entry for (p, cols) in s, created on first use; NULL when out of
   memory. Afterwards jit_kernel_ready tells whether it can run. */
jit_entry *jit_get(const nlsq_model *m, const int *cols, int ncols, int width, jit_mode mode);
/* The kernel once built, else NULL; cheap enough to ask every pass. */
const jit_kernel *jit_kernel_ready(jit_entry *e);
/* Copy of the entry's note under the lock. */
void jit_entry_note(const nlsq_model *m, jit_entry *e, char *buf, size_t size);

/* The kernel cache, for `nlsq cache`: its directory, the kernels in it
   (count, bytes) and the builds' temporary files apart. With `clear`, the
   kernels are removed, and so are the temporary files of builds whose
   process is gone (or, from older versions, untouched for ten minutes): a
   build still running is left alone. 0, or -1 with the reason in why. */
int jit_cache_scan(int clear, nlsq_cache_info *out, char *why, size_t why_size);

/* One line for `nlsq devices`: the compiler and the cache directory. */
void jit_describe(char *buf, size_t size);

#endif
