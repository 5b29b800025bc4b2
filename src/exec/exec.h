/*
 * The exec layer: running a scheduled program over points on the CPU —
 * the block interpreter and nlsq_model_eval, the pass that folds the rows
 * into R_aug, the thread pool, and the C code generator and JIT cache
 * (jit.h). The CUDA backend is src/gpu, above this layer.
 */
#ifndef NLSQ_EXEC_EXEC_H
#define NLSQ_EXEC_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/loss.h"
#include "kernel/runs.h"
#include "model/model.h"

/* Points per block: 256 doubles = 2 KiB a slot, so the temporaries of a
   typical model's program stay in L1/L2 while a block runs. */
#define NLSQ_BLOCK 256

/* Math over one block: o[i] = f(a[i]) or f(a[i], b[i]), i < NLSQ_BLOCK. */
typedef void (*vm_unary)(const double *restrict a, double *restrict o);
typedef void (*vm_binary)(const double *restrict a, const double *restrict b, double *restrict o);

typedef struct vmath {
    const char *name;
    vm_unary unary[NLSQ_OP_COUNT]; /* NULL where the op is not a call */
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
    double *u;     /* uniform registers                          */
    double *slots; /* nslots blocks of NLSQ_BLOCK doubles         */
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

/* ---- robust losses: src/kernel/loss.h, which the CUDA pass kernel runs too */

/* Add the point's 1/2 C^2 rho to *cost, rescale *r, return the factor for
   its Jacobian row (SciPy's scale_for_robust_loss_function). */
_Static_assert((int)NK_LOSS_LINEAR == (int)NLSQ_LOSS_LINEAR && (int)NK_LOSS_SOFT_L1 == (int)NLSQ_LOSS_SOFT_L1 &&
                   (int)NK_LOSS_HUBER == (int)NLSQ_LOSS_HUBER && (int)NK_LOSS_CAUCHY == (int)NLSQ_LOSS_CAUCHY &&
                   (int)NK_LOSS_ARCTAN == (int)NLSQ_LOSS_ARCTAN,
               "the kernel's loss numbers are nlsq_loss's");
static inline double loss_scale_row(nlsq_loss loss, double f_scale, double *r, double *cost)
{
    return nk_loss_scale_row((int)loss, f_scale, r, cost);
}

/* ---- pass.c: one sweep over the points -> cost and R_aug ---------------- */

/*
 * What a pass reads: m points, delivered window by window by `read`, so the
 * data may be caller arrays (pointers into them, no copy), a mapped file or
 * a callback (copied into the worker's buffers). A window is a multiple of
 * NLSQ_BLOCK points that starts at a multiple of PASS_WINDOW within its
 * chunk; the arithmetic does not depend on where the values come from.
 */
#define PASS_WINDOW ((size_t)NLSQ_BLOCK * 64)

typedef struct pass_view {
    const double *x; /* point i: row k of the variables at
                            x[k*stride + i - base]                           */
    size_t stride;
    const double *y;     /* y[i - base]                                      */
    const double *sigma; /* sigma[i - base], or NULL: sigma_all for all      */
    size_t base;
} pass_view;

/* Points [first, first+count) of chunk `chunk`, for `worker`; 0, or
   nonzero when they cannot be read (the pass then fails). `release`
   (optional) is told when the worker is done with them. */
typedef int (*pass_read_fn)(void *ctx, int chunk, size_t first, size_t count, int worker, pass_view *v);
typedef void (*pass_release_fn)(void *ctx, size_t first, size_t count, int worker);

typedef struct pass_data {
    size_t m;
    pass_read_fn read;
    pass_release_fn release;
    void *ctx;
    double sigma_all;   /* when a view has no sigma: one sigma for all     */
    int omit_nonfinite; /* rows with NaN/Inf in x, y or sigma contribute 0 */
} pass_data;

/* The simplest data: arrays in memory, read in place. */
typedef struct pass_arrays {
    const double *x; /* row k at x + k*stride */
    size_t stride;
    const double *y, *sigma;
} pass_arrays;

/* A pass_data reading `a` (which must outlive it). */
pass_data pass_data_arrays(const pass_arrays *a, size_t m, double sigma_all, int omit_nonfinite);

/* Called on the caller's thread during a pass with the points done so far
   (every window it finishes itself). */
typedef void (*pass_progress_fn)(void *ctx, size_t done, size_t m);

/* ---- pool.c: threads made once per fit, not per pass ------------------- */

typedef struct pool pool;
typedef void (*pool_task_fn)(void *ctx, int task, int worker);

/* A pool of nthreads (the caller counts as one); NULL when out of memory. */
pool *pool_new(int nthreads);
int pool_threads(const pool *p);
/* Run fn(ctx, task, worker) for task = 0 .. ntasks-1 and wait; worker is
   0 .. pool_threads-1. A NULL pool runs the tasks on the caller. */
void pool_run(pool *p, pool_task_fn fn, void *ctx, int ntasks);
/* As pool_run, but the caller runs no task: it calls watch(wctx) every
   `interval` seconds until the tasks are done, so a front end hears from
   a long job on its own thread (Python runs its signal handlers only
   there). The tasks run on workers 1 .. pool_threads-1; a pool of one
   thread (or NULL) runs them on the caller, watching between tasks. */
void pool_run_watched(pool *p, pool_task_fn fn, void *ctx, int ntasks, void (*watch)(void *wctx), void *wctx,
                      double interval);
void pool_free(pool *p);

/* ---- tree.c: the fixed merge tree, in one process or over a group ------ */

/* What tree_merge merges: n nodes held by the caller (node i starts as
   chunk i), merged as node `into` = `into` then `from`; packed into
   node_bytes to travel between processes. */
typedef struct tree_ops {
    void *ctx;
    size_t node_bytes;
    void (*merge)(void *ctx, int into, int from);
    void (*pack)(void *ctx, int node, void *buf);
    void (*unpack)(void *ctx, int node, const void *buf);
} tree_ops;

/* The chunks [lo, hi) of n that process `rank` of `size` folds: an even
   share, or spans[rank] .. spans[rank+1] when a table is given (data in
   pieces, source_pieces.c; NULL: even). */
void tree_span(const int *spans, int n, int size, int rank, int *lo, int *hi);
/* Merge nodes 0..n-1 into node 0 in the fixed tree. With a group (NULL:
   one process) this process holds its span's nodes, the tree's other
   halves arrive from their owners, and every process ends with node 0;
   tags tag .. tag+31 are used; buf holds node_bytes. 0, or -1 when the
   group's transport failed. */
int tree_merge(const tree_ops *ops, int n, const nlsq_group *g, const int *spans, int tag, void *buf);
/* The lowest rank whose `raised` is nonzero, or -1, into *lowest on every
   process; 0, or -1 when the transport failed. */
int group_agree(const nlsq_group *g, int tag, int raised, int *lowest);
/* group_agree with a check value: *diverged (may be NULL) is set when
   some process's check differs from another's. */
int group_agree_checked(const nlsq_group *g, int tag, int raised, uint64_t check, int *lowest, int *diverged);
/* `from`'s text (size bytes) to every process; 0 or -1. */
int group_tell(const nlsq_group *g, int from, char *text, size_t size);

/* Message tags: each use of the group its own range. */
enum { GROUP_TAG_PASS = 0x100, GROUP_TAG_MANY = 0x200, GROUP_TAG_STATS = 0x300, GROUP_TAG_AGREE = 0x400,
       GROUP_TAG_BATCH = 0x500, GROUP_TAG_SHARED = 0x600,
       GROUP_TAG_ROWS = 0x700 };

/* Per-thread state of a pass. */
typedef struct pass_worker {
    interp it;
    double *block;   /* NLSQ_BLOCK x (ncols + 2), column-major: the rows
                            [J | r] and a column of weights                */
    double *jit_out; /* NLSQ_BLOCK x (ncols + 1): a compiled kernel's
                            J and f, when the rows are made here          */
    double *jit_x;   /* NLSQ_BLOCK x nvars: its padded points         */
} pass_worker;

struct jit_entry;

/*
 * A pass splits the points into chunks whose size depends on m alone (not
 * on the thread count), folds each chunk into its own triangle, and merges
 * the triangles in a fixed binary tree: the result is bitwise the same on
 * 1 thread or 16.
 */
typedef struct pass {
    int ncols; /* Jacobian columns folded (free parameters)       */
    int *cols; /* their parameter indices                         */
    nlsq_loss loss;
    double f_scale;
    pool *pool; /* borrowed; NULL: the caller's thread only        */
    int nworkers;
    pass_worker *w;
    double *chunk_R, *merge_work;
    struct pass_sums *chunk_sums; /* per chunk, then per tree node        */
    void *node_buf;               /* a node packed for the group          */
    size_t node_buf_cap;
    const nlsq_group *group;      /* borrowed; NULL: this process alone   */
    const int *spans;             /* the group's shares, or NULL: even    */
    int chunk_cap;
    const program *prog;
    struct jit_entry *jit; /* a compiled kernel, used once it is ready; the
                            kernel computes the interpreter's arithmetic,
                            so switching between passes changes nothing */
    double *jit_u;         /* its uniform registers                          */
    int passes, jit_passes;
    int last_jit;              /* the latest pass ran the compiled kernel        */
    pass_progress_fn progress; /* optional                                  */
    void *progress_ctx;
    /* pass_run_many's chunks x vectors: triangles, sums and per-worker
       states (pass.c), the kernel's uniform registers per vector */
    double *many_R, *many_u;
    void *many_sums;
    size_t many_R_cap, many_sums_cap, many_u_cap;
    long multi_evals; /* parameter vectors evaluated by pass_run_many */
} pass;

typedef struct pass_out {
    double cost;       /* 1/2 sum rho(r^2)                                */
    double chi2;       /* sum r^2, before the loss                        */
    double *R;         /* (ncols+1)^2 column-major upper triangle R_aug   */
    size_t nonfinite;  /* nonzero when some residual or Jacobian entry is
                            NaN/Inf (a count of rows or of blocks)         */
    double *residuals; /* if not NULL: the m weighted residuals r         */
    nk_runs *runs;     /* if not NULL: the residuals' signs and lag-1 sums
                            in data order (kernel/runs.h), for the
                            diagnostics; the pass then takes the
                            block path, not a fused kernel              */
    int group_failed;  /* the group's transport failed: nothing is valid  */
    int no_triangle;   /* nonzero: the residuals' sums only (cost, chi2,
                            residuals, runs); R is left zero, no row is
                            folded (a third of a pass's time or more)  */
    int read_failed;   /* the data could not be read: nothing is valid    */
    int nomem;         /* no memory for the pass: nothing is valid         */
} pass_out;

/* 0, or -1 when out of memory. cols[ncols] lists the free parameters;
   the pass runs on `pl`'s threads (NULL: the caller's only). */
int pass_init(pass *ps, const program *p, const vmath *vm, const int *cols, int ncols, nlsq_loss loss, double f_scale,
              pool *pl);
/* Points per chunk for m points: a multiple of PASS_WINDOW, at most about
   4096 chunks. */
size_t pass_chunk_points(size_t m);
/* Run on the compiled kernel of e (see jit.h) from the next pass on
   where it is ready; 0, or -1 when out of memory. */
int pass_use_jit(pass *ps, struct jit_entry *e);
void pass_free(pass *ps);
/* One sweep at the full parameter vector `params`. With ps->group set,
   this process reads and folds only its share of the chunks (tree_span)
   and every process gets the whole pass's answer (out->residuals, if
   asked for, only for the rows of its share). */
void pass_run(pass *ps, const pass_data *d, const double *params, pass_out *out);

/* K parameter vectors in one sweep (many starts at once). */
typedef struct pass_many {
    int K;
    const double *params; /* K full vectors, vector k at params + k*np      */
    size_t np;
    int no_triangle;   /* the costs alone: R is not touched            */
    double *cost;      /* K, out                                       */
    double *chi2;      /* K, out                                       */
    double *R;         /* K x (ncols+1)^2, out (unless no_triangle)    */
    size_t *nonfinite; /* K, out: nonzero where vector k's rows are not
                              finite                                    */
    int read_failed, nomem; /* read_failed: also the group's transport */
} pass_many;

/*
 * One sweep over the data for all K vectors: each window of points is
 * read once and evaluated at every vector while it is in the cache; each
 * vector has its own chunk triangles and sums, merged in pass_run's fixed
 * tree, so vector k's cost and R are bitwise what pass_run gives at it
 * (whatever the other vectors and the thread count). The compiled kernel
 * serves where it is ready (its chunk entry, or its block entry for cost
 * only); else the interpreter, whose uniform part is rerun per vector and
 * window (the uniform program is small next to 64 blocks of points).
 */
void pass_run_many(pass *ps, const pass_data *d, pass_many *pm);

#endif
