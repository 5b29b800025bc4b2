/* The fit layer: curve_fit semantics over the pass and the solvers. */
#ifndef NLSQ_FIT_FIT_H
#define NLSQ_FIT_FIT_H

#include <pthread.h>

#include "exec/exec.h"
#include "exec/jit.h"
#include "gpu/gpu.h"
#include "solve/solve.h"

/* ---- reader.c: the pass's windows from a source ------------------------ */

#define NLSQ_READER_MAX_COLS 258 /* 256 variables, y and sigma */

enum { BAD_NONE, BAD_Y, BAD_X, BAD_SIGMA, BAD_SIGMA_NONPOSITIVE };

/* What the first pass learns about the data (per chunk, then merged). */
typedef struct data_stats {
    size_t usable;  /* points that count (nan_policy omit)            */
    size_t bad_row; /* the first row against nan_policy, or SIZE_MAX  */
    int bad_kind, bad_var;
    double bad_value;
    double sw, mean, m2; /* weighted moments of y, for SS_tot            */
} data_stats;

typedef struct release_range {
    size_t first, count;
} release_range;

typedef struct reader {
    nlsq_source *src;
    size_t m;
    int nvars, nread, nworkers, has_sigma, omit, raise;
    int cols[NLSQ_READER_MAX_COLS]; /* x..., y, sigma                   */
    double sigma_all;
    const double *direct[NLSQ_READER_MAX_COLS]; /* a column read in place,
                               or NULL: copied into the worker's buffer  */
    size_t x_stride;                            /* of the x columns in place                 */
    int ncopy;                                  /* columns copied                            */
    int copy_cols[NLSQ_READER_MAX_COLS], slot_of[NLSQ_READER_MAX_COLS];
    double *buf;            /* nworkers x ncopy x PASS_WINDOW            */
    release_range *pending; /* per worker: pages not yet handed back     */
    int checking, nstats;
    data_stats *stats; /* per chunk, while checking                 */
    pthread_mutex_t lock;
    int failed;
    char why[300];
} reader;

/* 0, or -1 when out of memory. */
int reader_init(reader *rd, nlsq_source *src, const int *xcols, int k, int ycol, int sigcol, int nworkers,
                double sigma_all, int omit);
void reader_free(reader *rd);
pass_data reader_pass_data(reader *rd);
/* Check the data during the next pass (of nchunks chunks); 0 or -1. */
int reader_check_next_pass(reader *rd, int nchunks);
/* The data check's findings over all chunks (over the group's, with g);
   0, or -1 when the group's transport failed. */
int reader_finish_check(reader *rd, const nlsq_group *g, data_stats *total);
/* Hand back the pages still held after a pass. */
void reader_flush(reader *rd);
/* Which of columns cols[0..nread) (the k x columns first) are read in
   place: direct[] gets their pointers (NULL: copied), x_stride the spacing
   of x's. Returns the number of columns copied. */
int reader_plan(const nlsq_source *src, const int *cols, int nread, int k, const double **direct, size_t *x_stride);
int fit_choose_threads(const nlsq_options *o, size_t m);

/* ---- checkpoint.c ------------------------------------------------------- */

typedef struct checkpoint checkpoint;

/* FNV-1a over data, continuing from h (0: start). */
uint64_t checkpoint_hash(uint64_t h, const void *data, size_t n);
/* Open for writing at `path`; with resume, load it if it exists and check
   that it was written for this model text, device (where the passes run,
   as text), options hash, n_free and row count. In a group (g, else NULL;
   every process calls it) process 0 reads the file and alone writes it.
   0, or -1 with the reason. */
int checkpoint_open(const char *path, int resume, const char *model_text, const char *device, uint64_t opt_hash, int nf,
                    size_t m_total, const nlsq_group *g, checkpoint **out, char *why, size_t why_size);
/* The first pass's answer: stored, or compared with the loaded one (the
   data's fingerprint); 0, or -1 when they differ. */
int checkpoint_first(checkpoint *c, size_t m_used, const double *x, double cost, int rc, const double *R, char *why,
                     size_t why_size);
/* The next recorded evaluation, if x is its point: 1 (filled in), 0 when
   the records are used up, -1 when x is not the recorded point. */
int checkpoint_replay(checkpoint *c, const double *x, double *cost, double *R, int *rc);
/* Append an evaluation and write the file; 0, or -1 with the reason. */
int checkpoint_record(checkpoint *c, const double *x, double cost, int rc, const double *R, char *why, size_t why_size);
int checkpoint_save(checkpoint *c, char *why, size_t why_size);
void checkpoint_free(checkpoint *c);

typedef struct fit_problem {
    const nlsq_model *model;
    const nlsq_data *data; /* the covariance-sigma path only             */
    const char *who;       /* the API function, for messages            */
    size_t m_total;        /* rows, before nan_policy omit              */
    int covariance;        /* sigma is a covariance matrix              */
    double sst;            /* SS_tot for R^2                            */
    reader rd;             /* the source path                           */
    int have_rd;
    /* the first pass (run before the solver, as the data check) */
    int first_valid, first_rc;
    double first_cost, *first_x, *first_R;
    /* aborting: a read failed, the checkpoint diverged */
    nlsq_status abort_status;
    char abort_msg[400];
    /* progress */
    double t_start, t_pass, last_report, last_pass_seconds, latest_cost;
    int iterations, stop_requested;
    uint64_t group_options; /* in a group, before the solver runs: the hash of
                               the options every process must share      */
    /* checkpoints */
    checkpoint *ckpt;
    int resumed;   /* evaluations taken from the checkpoint      */
    int solving;   /* the solver has started (fp->p is its point) */
    gpu_group gpu; /* the passes on CUDA devices, if use_gpu     */
    int use_gpu, gpu_passes;
    char device[16], device_note[240];
    size_t memory_bytes;
    nlsq_options opt;
    int n, n_free, omit;
    size_t m_used;
    nlsq_method method;
    double *mem;             /* owns p, lb, ub, x, R, free_idx             */
    double *p;               /* the full parameter vector                   */
    double *lb, *ub;         /* n bounds                                    */
    double *x;               /* n_free solver variables                     */
    double *lbf, *ubf, *xsf; /* their bounds and x_scale                */
    double *R_at;            /* n_free: the point R's Jacobian was taken at */
    double *R;               /* (n_free+1)^2 R_aug at the solution          */
    int *free_idx;
    pass ps;
    pass_arrays pa;
    pass_data pd;
    pool *pool; /* the pass's threads, NULL for one             */
    int threads;
    jit_entry *jit;           /* the model's compiled kernel, or NULL         */
    int jit_quiet;            /* only the cache was asked: no note unless used */
    int no_extra_pass;        /* a profile's refit: no pass of its own for the
                                 residual diagnostics (nobody reads them)   */
    double *L, *wf, *wJ, *wA; /* covariance sigma: Cholesky factor, f, J, rows */
    /* a fit without a model (fit_callback.c): the residuals at p into
       `residuals` (if not NULL) and their sum of squares; 0 or -1 */
    int (*final_residuals)(struct fit_problem *fp, double *residuals, double *chi2, nk_runs *runs);
    double *x0; /* n_free: where the solver started, for the diagnostics */
} fit_problem;

/* The method NLSQ_METHOD_AUTO stands for: trf, for every problem. */
nlsq_method fit_default_method(void);
/* Fill tolerances left negative with the method's SciPy default. */
void fit_default_tolerances(nlsq_method method, solve_options *so);

/* The covariance of the free parameters from R_aug by SciPy's rules for
   `method` (unscaled); work: fit_covariance_work_doubles(nf). 0 when
   none. *rank (may be NULL): the singular values it kept, nf when J has
   full rank at working precision. */
int fit_free_covariance(const double *R, int nf, size_t m_used, nlsq_method method, double *cov, double *work,
                        int *rank);
/* The work (doubles) fit_free_covariance needs for nf free parameters. */
size_t fit_covariance_work_doubles(int nf);
nlsq_status fit_solve(fit_problem *fp, solve_problem *pb, nlsq_result **out, nlsq_error *err);
nlsq_status fit_fail(const fit_problem *fp, nlsq_error *err, nlsq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Pieces of curve_fit.c that the source path shares. */
nlsq_status fit_check_options(const fit_problem *fp, nlsq_error *err);
nlsq_status fit_alloc(fit_problem *fp, nlsq_error *err);
nlsq_status fit_setup_parameters(fit_problem *fp, nlsq_error *err);
/* NLSQ_ERR_DATA when points < the free parameters (underdetermined). */
nlsq_status fit_check_determined(const fit_problem *fp, size_t points, nlsq_error *err);
nlsq_status fit_choose_method(fit_problem *fp, nlsq_error *err);
nlsq_status fit_choose_backend(const fit_problem *fp, nlsq_backend *b, nlsq_error *err);
nlsq_status fit_start_pass(fit_problem *fp, nlsq_backend backend, nlsq_error *err);
void fit_free_problem(fit_problem *fp);
void fit_fill_params(fit_problem *fp, const double *x_free);
/* SS_tot of arrays (the covariance path; sources gather it in a pass). */
double fit_sst_arrays(const nlsq_data *d);
/* The columns of a source (x, y, sigma by nlsq_columns' rules) into
   xc[k], yc, sc (-1: none) and sigma_all (fit_source.c). */
nlsq_status fit_resolve_columns(fit_problem *fp, const nlsq_source *src, const nlsq_columns *c, int *xc, int *yc,
                                int *sc, double *sigma_all, nlsq_error *err);
/* data's arrays as a source read in place (nlsq_source_from_arrays) and
   its columns; who names the caller in messages. */
nlsq_status fit_arrays_source(const nlsq_data *data, int k, const char *who, nlsq_source **src, nlsq_columns *c,
                              nlsq_error *err);
/* nlsq_fit_source for a profile's refits (src/uncertainty): the same fit
   without the extra pass for the residual diagnostics. */
nlsq_status fit_source_refit(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                             const nlsq_options *opt, nlsq_result **out, nlsq_error *err);
/* nlsq_curve_fit on arrays, through an array source (fit_source.c). */
nlsq_status fit_arrays(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt, nlsq_result **out,
                       nlsq_error *err);
/* In a group: the rows of every process's share of r (m doubles) to
   every process, after a pass that filled only this process's
   (keep_residuals); 0, or -1 when the transport failed. */
int fit_group_share_rows(fit_problem *fp, double *r);
/* batch_group.c: nlsq_fit_batch with opt->group of two or more: this
   process's share of the fits, then every share into r (allocated for
   all the fits). */
typedef nlsq_status (*batch_fit_fn)(const nlsq_model *model, const nlsq_batch *batch, const nlsq_options *opt,
                                    unsigned outputs, nlsq_batch_result **out, nlsq_error *err);
/* (the share is fitted by fit_share, nlsq_fit_batch itself with no group:
   passed in, so that this file does not call back into batch.c) */
/* The points of a batch fit's arrays (len of them, k variables) that
   nan_policy keeps, or 0 when its data refuse it (NaN with raise,
   sigma <= 0). */
size_t batch_usable_points(const pass_arrays *a, int k, size_t len, nlsq_nan_policy policy);
/* A batch's layout checked (offsets, x and y present), its total points
   and its longest fit; messages named by who (nlsq_fit_batch, _shared). */
nlsq_status batch_check_layout(const fit_problem *who, const nlsq_model *model, const nlsq_batch *b, size_t *total,
                               size_t *longest, nlsq_error *err);
/* The option of opt that only a single fit takes (callback, checkpoint,
   keep_residuals), or NULL. */
const char *fit_single_only_option(const nlsq_options *o);
/* The compiled kernel's width and mode for many small fits of `total`
   points in all (batches, shared fits' sets). */
void batch_choose_kernel(nlsq_backend backend, size_t total, int *width, jit_mode *mode);
nlsq_status batch_over_group(const nlsq_model *model, const nlsq_batch *b, const nlsq_options *opt, unsigned outputs,
                             batch_fit_fn fit_share, nlsq_batch_result *r, nlsq_error *err);
/* With a valid group of two or more: st from every process, and the
   lowest failing process's status and words on all ("process q of P:
   ..."); else st. */
nlsq_status batch_group_settle(const nlsq_group *g, nlsq_status st, nlsq_error *err);
/* diagnose.c: fill r->diag from the fit's final R_aug, its start x0 (free
   parameters), r's popt, pcov, R^2, status and active mask, and the
   residuals' sums (NULL: r->residuals if kept, else not tested).
   0, or -1 out of memory. */
int fit_diagnose(const fit_problem *fp, const double *x0, const nk_runs *runs, nlsq_result *r);
/* The findings from J at the solution (fp->R, fp->x) and the start x0:
   NOT_CONVERGED, NO_INFLUENCE, NOT_MOVED, RANK_DEFICIENT, ILL_CONDITIONED
   and NO_EXPLANATION (r2 NaN: unknown) into d: flags, trusted, rank, cond,
   and param_flags and influence (n each, zeroed by the caller). No
   allocation (the batch's lanes call it per fit): work holds
   fit_diagnose_work_doubles(n_free) doubles, cols n_free ints. */
void fit_diagnose_jacobian(const fit_problem *fp, const double *x0, int status, double r2, double chi2,
                           nlsq_diagnostics *d, double *work, int *cols);
size_t fit_diagnose_work_doubles(int nf);
void fit_diagnostics_free(nlsq_diagnostics *d);
/* result.c: a global search's summary (nlsq_result.global); NULL is fine. */
void global_summary_free(nlsq_global_summary *s);
nlsq_status fit_make_result(fit_problem *fp, const solve_result *sr, const double *lbf, const double *ubf, double xtol,
                            nlsq_result **out, nlsq_error *err);

#endif
