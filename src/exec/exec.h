/*
 * The exec layer: running a scheduled program over points. For now the
 * block interpreter and nlsq_model_eval; passes, the JIT and CUDA come
 * here too.
 */
#ifndef NLSQ_EXEC_EXEC_H
#define NLSQ_EXEC_EXEC_H

#include <stddef.h>

#include "model/model.h"

/* Points per block: 256 doubles = 2 KiB a slot, so the temporaries of a
   typical model's program stay in L1/L2 while a block runs. */
#define NLSQ_BLOCK 256

/* Math over one block: o[i] = f(a[i]) or f(a[i], b[i]), i < NLSQ_BLOCK. */
typedef void (*vm_unary)(const double *restrict a, double *restrict o);
typedef void (*vm_binary)(const double *restrict a, const double *restrict b, double *restrict o);

typedef struct vmath {
    const char *name;
    vm_unary unary[NLSQ_OP_COUNT];   /* NULL where the op is not a call */
    vm_binary binary[NLSQ_OP_COUNT];
} vmath;

/* libm in plain loops: any CPU. */
const vmath *vmath_scalar(void);
/* glibc's libmvec AVX2 variants, or NULL when not built in. */
const vmath *vmath_avx2(void);
/* The fastest table this CPU runs; scalar when NLSQ_VECTOR_MATH=off. */
const vmath *vmath_select(void);

typedef struct interp {
    const program *p;
    const vmath *vm;
    double *u;       /* uniform registers                          */
    double *slots;   /* nslots blocks of NLSQ_BLOCK doubles         */
} interp;

/* Workspace for one program; 0 or -1 when out of memory. */
int interp_init(interp *it, const program *p, const vmath *vm);
void interp_free(interp *it);
/* Run the uniform program and fill the broadcast slots. */
void interp_uniform(interp *it, const double *params);
/* Points [start, start+len) of x (row k at x + k*stride), len <= NLSQ_BLOCK;
   afterwards interp_output(it, k) holds output k for those points. */
void interp_block(interp *it, const double *x, size_t stride, size_t start, size_t len);
const double *interp_output(const interp *it, int k);

/* ---- loss.c ------------------------------------------------------------ */

void loss_eval(nlsq_loss loss, double z, double *rho, double *d1, double *d2);
/* Add the point's 1/2 C^2 rho to *cost, rescale *r, return the factor for
   its Jacobian row (SciPy's scale_for_robust_loss_function). */
double loss_scale_row(nlsq_loss loss, double f_scale, double *r, double *cost);

/* ---- pass.c: one sweep over the points -> cost and R_aug ---------------- */

typedef struct pass_data {
    const double *x;     /* row k of the variables at x + k*stride          */
    size_t stride;
    size_t m;
    const double *y;
    const double *sigma; /* per-point sigma (weight 1/sigma), or NULL       */
    double sigma_all;    /* when sigma is NULL: one sigma for all (1 = none) */
    int omit_nonfinite;  /* rows with NaN/Inf in x, y or sigma contribute 0 */
} pass_data;

/* ---- pool.c: threads made once per fit, not per pass ------------------- */

typedef struct pool pool;
typedef void (*pool_task_fn)(void *ctx, int task, int worker);

/* A pool of nthreads (the caller counts as one); NULL when out of memory. */
pool *pool_new(int nthreads);
int pool_threads(const pool *p);
/* Run fn(ctx, task, worker) for task = 0 .. ntasks-1 and wait; worker is
   0 .. pool_threads-1. A NULL pool runs the tasks on the caller. */
void pool_run(pool *p, pool_task_fn fn, void *ctx, int ntasks);
void pool_free(pool *p);

/* Per-thread state of a pass. */
typedef struct pass_worker {
    interp it;
    double *block;       /* NLSQ_BLOCK x (ncols + 2), column-major: the rows
                            [J | r] and a column of weights                */
    double *jit_out;     /* NLSQ_BLOCK x (ncols + 1): a compiled kernel's
                            J and f, when the rows are made here          */
    double *jit_x;       /* NLSQ_BLOCK x nvars: its padded points         */
} pass_worker;

struct jit_entry;

/*
 * A pass splits the points into chunks whose size depends on m alone (not
 * on the thread count), folds each chunk into its own triangle, and merges
 * the triangles in a fixed binary tree: the result is bitwise the same on
 * 1 thread or 16.
 */
typedef struct pass {
    int ncols;           /* Jacobian columns folded (free parameters)       */
    int *cols;           /* their parameter indices                         */
    nlsq_loss loss;
    double f_scale;
    pool *pool;          /* borrowed; NULL: the caller's thread only        */
    int nworkers;
    pass_worker *w;
    double *chunk_R, *chunk_cost, *chunk_chi2, *merge_work;
    size_t *chunk_bad;
    int chunk_cap;
    const program *prog;
    struct jit_entry *jit; /* a compiled kernel, used once it is ready; the
                            kernel computes the interpreter's arithmetic,
                            so switching between passes changes nothing */
    double *jit_u;       /* its uniform registers                          */
    int passes, jit_passes;
    int last_jit;        /* the latest pass ran the compiled kernel        */
} pass;

typedef struct pass_out {
    double cost;         /* 1/2 sum rho(r^2)                                */
    double chi2;         /* sum r^2, before the loss                        */
    double *R;           /* (ncols+1)^2 column-major upper triangle R_aug   */
    size_t nonfinite;    /* nonzero when some residual or Jacobian entry is
                            NaN/Inf (a count of rows or of blocks)         */
    double *residuals;   /* if not NULL: the m weighted residuals r         */
} pass_out;

/* 0, or -1 when out of memory. cols[ncols] lists the free parameters;
   the pass runs on `pl`'s threads (NULL: the caller's only). */
int pass_init(pass *ps, const program *p, const vmath *vm, const int *cols, int ncols, nlsq_loss loss,
              double f_scale, pool *pl);
/* Points per chunk for m points: a multiple of NLSQ_BLOCK, at most about
   4096 chunks. */
size_t pass_chunk_points(size_t m);
/* Run on the compiled kernel of e (see jit.h) from the next pass on
   where it is ready; 0, or -1 when out of memory. */
int pass_use_jit(pass *ps, struct jit_entry *e);
void pass_free(pass *ps);
/* One sweep at the full parameter vector `params`. */
void pass_run(pass *ps, const pass_data *d, const double *params, pass_out *out);

#endif
