/*
 * Fitting from a source: nlsq_fit_source, and nlsq_curve_fit on arrays,
 * which is the same thing with the arrays as the source. The first pass
 * runs before the solver starts: it is the data check of nan_policy, the
 * count of usable points, the sums for R^2 and the checkpoint's
 * fingerprint of the data, and its answer is the solver's first
 * evaluation. Every later evaluation is a pass — or, when resuming, an
 * answer taken from the checkpoint.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fit.h"
#include "source.h"

nlsq_columns nlsq_columns_default(void)
{
    nlsq_columns c;
    memset(&c, 0, sizeof c);
    c.y = -1;
    c.sigma = -1;
    return c;
}

static void fit_abort(fit_problem *fp, nlsq_status st, const char *why)
{
    if (fp->abort_status != NLSQ_OK) return;
    fp->abort_status = st;
    snprintf(fp->abort_msg, sizeof fp->abort_msg, "%s", why);
}

/* ---- a group of processes ------------------------------------------------- */

static int in_group(const fit_problem *fp)
{
    const nlsq_group *g = fp->opt.group;
    return g && g->size > 1 && g->rank >= 0 && g->rank < g->size && g->send && g->recv && g->bcast;
}

/*
 * A decision every process of the group takes together: the lowest
 * process that failed (st, with its reason in *msg) makes every process
 * fail with the same status and words; 1 then, else 0. A process that
 * stopped alone would leave the others waiting for its triangles.
 */
static int group_decide(fit_problem *fp, nlsq_status *st, char *msg, size_t msg_size)
{
    const nlsq_group *g = fp->opt.group;
    int lowest, diverged;
    /* once the solver runs, the parameters every process is at: the same,
       or the group has diverged (another build or CPU on some node) */
    uint64_t at = fp->solving ? checkpoint_hash(0, fp->p, (size_t)fp->n * sizeof *fp->p) : fp->group_options;
    if (group_agree_checked(g, GROUP_TAG_AGREE, *st != NLSQ_OK, at, &lowest, &diverged) != 0) {
        *st = NLSQ_ERR_IO;
        snprintf(msg, msg_size, "process %d of %d lost touch with the group (a process ended or the network failed)",
                 g->rank, g->size);
        return 1;
    }
    if (lowest < 0) return 0;
    if (diverged) {
        *st = NLSQ_ERR_INVALID_ARGUMENT;
        snprintf(msg, msg_size, "%s",
                 fp->solving ? "the processes' solvers have diverged (their parameters differ): every process must run "
                               "the same nlsq build with the same options and data"
                             : "the processes were given different options (checkpoint, resume, keep_residuals, "
                               "method, loss, tolerances, p0, bounds or fixed parameters): every process must pass "
                               "the same options");
        return 1;
    }
    struct {
        int status;
        char text[400];
    } m = {(int)*st, ""};
    if (g->rank == lowest) snprintf(m.text, sizeof m.text, "%s", msg);
    if (group_tell(g, lowest, (char *)&m, sizeof m) != 0) {
        *st = NLSQ_ERR_IO;
        snprintf(msg, msg_size, "process %d of %d lost touch with the group", g->rank, g->size);
        return 1;
    }
    *st = (nlsq_status)m.status;
    if (lowest == 0) /* process 0's words: the same everywhere as they are */
        snprintf(msg, msg_size, "%s", m.text);
    else
        snprintf(msg, msg_size, "process %d of %d: %s", lowest, g->size, m.text);
    return 1;
}

/* The options whose difference between processes would part them: a
   checkpoint on one only (its agreements and the final pass are not
   everyone's), keep_residuals, and what steers the solver. */
static uint64_t group_options_hash(const fit_problem *fp)
{
    const nlsq_options *o = &fp->opt;
    int n = fp->model->params.count;
    int ints[] = {o->checkpoint != NULL, o->resume, o->keep_residuals, (int)o->method, (int)o->loss, o->max_nfev,
                  (int)o->nan_policy, o->x_scale_jac, o->lm_last_jacobian, o->p0 != NULL, o->lower != NULL,
                  o->upper != NULL, o->fixed != NULL, o->x_scale != NULL};
    double dbl[] = {o->f_scale, o->ftol, o->xtol, o->gtol};
    uint64_t h = checkpoint_hash(0, ints, sizeof ints);
    h = checkpoint_hash(h, dbl, sizeof dbl);
    if (o->p0) h = checkpoint_hash(h, o->p0, (size_t)n * sizeof *o->p0);
    if (o->lower) h = checkpoint_hash(h, o->lower, (size_t)n * sizeof *o->lower);
    if (o->upper) h = checkpoint_hash(h, o->upper, (size_t)n * sizeof *o->upper);
    if (o->fixed) h = checkpoint_hash(h, o->fixed, (size_t)n * sizeof *o->fixed);
    if (o->x_scale) h = checkpoint_hash(h, o->x_scale, (size_t)n * sizeof *o->x_scale);
    return h;
}

/* group_decide for the setup's status and error. The words travel
   without fit_fail's "who: " and get it back in front, so that they read
   "nlsq_fit_source: process 2 of 3: ..." as a pass's failures do. */
static nlsq_status group_settle(fit_problem *fp, nlsq_status st, nlsq_error *err)
{
    if (!in_group(fp)) return st;
    char msg[400];
    const char *text = err && st != NLSQ_OK ? err->message : "";
    const char *who = fp->who ? fp->who : "nlsq_curve_fit";
    size_t wl = strlen(who);
    if (strncmp(text, who, wl) == 0 && strncmp(text + wl, ": ", 2) == 0) text += wl + 2;
    snprintf(msg, sizeof msg, "%s", text);
    if (!group_decide(fp, &st, msg, sizeof msg)) return NLSQ_OK;
    if (err) error_set(err, st, 0, 0, "%s: %s", who, msg);
    return st;
}

/* Every process must read the same rows: the count against process 0's. */
static nlsq_status group_same_rows(fit_problem *fp, nlsq_error *err)
{
    const nlsq_group *g = fp->opt.group;
    uint64_t rows = fp->m_total;
    if (g->bcast(g->ctx, 0, &rows, sizeof rows) != 0)
        return fit_fail(fp, err, NLSQ_ERR_IO, "process %d of %d lost touch with the group", g->rank, g->size);
    if (rows != fp->m_total)
        return fit_fail(fp, err, NLSQ_ERR_DATA,
                        "its data have %zu rows, process 0's have %llu: every process must open the same data",
                        fp->m_total, (unsigned long long)rows);
    return NLSQ_OK;
}

int fit_group_share_rows(fit_problem *fp, double *r)
{
    const nlsq_group *g = fp->opt.group;
    size_t chunk = pass_chunk_points(fp->m_total);
    int n = (int)((fp->m_total + chunk - 1) / chunk);
    for (int q = 0; q < g->size; q++) {
        int lo, hi;
        tree_span(fp->ps.spans, n, g->size, q, &lo, &hi);
        size_t first = (size_t)lo * chunk, last = (size_t)hi * chunk < fp->m_total ? (size_t)hi * chunk : fp->m_total;
        if (last > first && g->bcast(g->ctx, q, r + first, (last - first) * sizeof *r) != 0) return -1;
    }
    return 0;
}

/* ---- progress -------------------------------------------------------------- */

static void report(fit_problem *fp, double fraction)
{
    if (!fp->opt.progress) return;
    double t = host_seconds(), in_pass = t - fp->t_pass;
    nlsq_progress p;
    p.pass = fp->ps.passes;
    p.iteration = fp->iterations;
    p.pass_fraction = fraction;
    p.cost = fp->latest_cost;
    p.elapsed = t - fp->t_start;
    p.pass_seconds = fp->last_pass_seconds;
    p.pass_remaining = fraction >= 1 ? 0 : fraction > 0 ? in_pass * (1 - fraction) / fraction : NAN;
    p.points = fp->m_total;
    if (fp->opt.progress(fp->opt.progress_data, &p) != 0) fp->stop_requested = 1;
    fp->last_report = t;
}

/* The pass's hook, on the caller's thread: a report every interval. */
static void pass_progress(void *ctx, size_t done, size_t m)
{
    fit_problem *fp = ctx;
    double interval = fp->opt.progress_interval > 0 ? fp->opt.progress_interval : 0.1;
    if (done < m && host_seconds() - fp->last_report >= interval) report(fp, (double)done / (double)m);
}

/* ---- evaluations ----------------------------------------------------------- */

static int streamed_pass(fit_problem *fp, const double *u, pass_out *out, nlsq_status *st, char *why, size_t why_size);

/* After a group's pass: what failed on any process (its data changed,
   its share could not be read, no memory) ends the fit on every process
   with that process's words; 1 then. */
static int group_pass_failed(fit_problem *fp, const pass_out *out, int changed, char *why, size_t why_size)
{
    nlsq_status st = NLSQ_OK;
    if (out->group_failed) {
        fit_abort(fp, NLSQ_ERR_IO, "a process of the group ended or could not be reached during a pass");
        return 1;
    }
    if (changed) {
        st = NLSQ_ERR_DATA;
    } else if (fp->rd.failed) {
        st = NLSQ_ERR_DATA;
        snprintf(why, why_size, "%s", fp->rd.why);
    } else if (out->nomem) {
        st = NLSQ_ERR_NOMEM;
        snprintf(why, why_size, "out of memory for a pass");
    }
    if (!group_decide(fp, &st, why, why_size)) return 0;
    fit_abort(fp, st, why);
    return 1;
}

/* A pass at fp->p: the cost, R_aug, and nonzero when something is not
   finite (or the data could not be read: the fit is then aborted). */
static int run_pass(fit_problem *fp, double *cost, double *R)
{
    fp->t_pass = host_seconds();
    pass_out out = {.R = R, .residuals = NULL};
    if (fp->use_gpu) {
        /* the parameter-only part on the host, by the interpreter */
        interp *it = &fp->ps.w[0].it;
        interp_uniform(it, fp->p);
        char why[400];
        nlsq_status st = NLSQ_ERR_INVALID_ARGUMENT;
        fp->gpu_passes++;
        int rc = fp->gpu.part[0].streaming ? streamed_pass(fp, it->u, &out, &st, why, sizeof why)
                                           : gpu_group_run(&fp->gpu, it->u, &out, why, sizeof why);
        if (rc != 0) {
            fit_abort(fp, st, why);
            *cost = NAN;
            return 1;
        }
    } else {
        /* the data file must be the one the fit started on, before the
           pass and after it (a file cut short during the pass reads as
           zeros there: see mapguard.c) */
        char why[400];
        int changed = source_check(fp->rd.src, why, sizeof why) != 0;
        if (!changed || in_group(fp)) { /* a group's pass is everyone's */
            pass_run(&fp->ps, &fp->pd, fp->p, &out);
            reader_flush(&fp->rd);
        }
        if (!changed) changed = source_check(fp->rd.src, why, sizeof why) != 0;
        if (in_group(fp) && group_pass_failed(fp, &out, changed, why, sizeof why)) {
            *cost = NAN;
            return 1;
        }
        if (changed) {
            fit_abort(fp, NLSQ_ERR_DATA, why);
            *cost = NAN;
            return 1;
        }
    }
    fp->last_pass_seconds = host_seconds() - fp->t_pass;
    if (out.nomem) {
        fit_abort(fp, NLSQ_ERR_NOMEM, "out of memory for a pass");
        *cost = NAN;
        return 1;
    }
    if (out.read_failed) {
        fit_abort(fp, NLSQ_ERR_DATA, fp->rd.why);
        *cost = NAN;
        return 1;
    }
    *cost = out.cost;
    if (isnan(fp->latest_cost)) fp->latest_cost = out.cost;
    report(fp, 1.0);
    return out.nonfinite || !isfinite(out.cost);
}

static int evaluate_source(void *ctx, const double *x_free, double *cost, double *R)
{
    fit_problem *fp = ctx;
    if (fp->abort_status != NLSQ_OK) {
        *cost = NAN;
        return 1;
    }
    int rc, nf = fp->n_free;
    size_t nc = (size_t)nf + 1;
    if (fp->ckpt) {
        int r = checkpoint_replay(fp->ckpt, x_free, cost, R, &rc);
        if (r > 0) {
            fp->resumed++;
            return rc;
        }
        if (r < 0) {
            fit_abort(fp, NLSQ_ERR_INVALID_ARGUMENT,
                      "the fit left the checkpoint's course (another build of nlsq wrote it?); start afresh");
            *cost = NAN;
            return 1;
        }
    }
    if (fp->first_valid && memcmp(x_free, fp->first_x, (size_t)nf * sizeof *x_free) == 0) {
        *cost = fp->first_cost;
        memcpy(R, fp->first_R, nc * nc * sizeof *R);
        rc = fp->first_rc;
    } else {
        fit_fill_params(fp, x_free);
        rc = run_pass(fp, cost, R);
        if (fp->abort_status != NLSQ_OK) return 1;
    }
    fp->first_valid = 0;
    char why[400];
    nlsq_status st = NLSQ_OK;
    if (fp->ckpt && checkpoint_record(fp->ckpt, x_free, *cost, rc, R, why, sizeof why) != 0)
        st = NLSQ_ERR_INVALID_ARGUMENT;
    if (fp->ckpt && in_group(fp)) group_decide(fp, &st, why, sizeof why); /* process 0 writes it */
    if (st != NLSQ_OK) {
        fit_abort(fp, st, why);
        return 1;
    }
    return rc;
}

/* ---- setup ------------------------------------------------------------------ */

nlsq_status fit_resolve_columns(fit_problem *fp, const nlsq_source *src, const nlsq_columns *c, int *xc, int *yc,
                                int *sc, double *sigma_all, nlsq_error *err)
{
    int k = fp->model->vars.count, ncols = nlsq_source_num_columns(src);
    if (k > NLSQ_READER_MAX_COLS - 2) return fit_fail(fp, err, NLSQ_ERR_INVALID_ARGUMENT, "more than 256 variables");
    for (int j = 0; j < k; j++) {
        xc[j] = c->x ? c->x[j] : j;
        if (xc[j] < 0 || xc[j] >= ncols)
            return fit_fail(fp, err, NLSQ_ERR_INVALID_ARGUMENT,
                            "the column of variable '%s' is %d; the source has %d (0-based)", fp->model->vars.names[j],
                            xc[j], ncols);
    }
    /* y by default: the column after the x columns (after the last of
       them in the source, whatever order x names them in) */
    int after_x = 0;
    for (int j = 0; j < k; j++)
        if (xc[j] + 1 > after_x) after_x = xc[j] + 1;
    *yc = c->y >= 0 ? c->y : after_x;
    if (*yc >= ncols)
        return fit_fail(fp, err, NLSQ_ERR_INVALID_ARGUMENT, "the y column is %d; the source has %d columns (0-based)",
                        *yc, ncols);
    *sc = c->sigma;
    if (*sc < -1 || *sc >= ncols)
        return fit_fail(fp, err, NLSQ_ERR_INVALID_ARGUMENT,
                        "the sigma column is %d; the source has %d columns (0-based)", *sc, ncols);
    *sigma_all = 1;
    if (*sc < 0 && c->sigma_value != 0) {
        if (!(c->sigma_value > 0 && isfinite(c->sigma_value)))
            return fit_fail(fp, err, NLSQ_ERR_DATA, "sigma must be positive and finite, got %g", c->sigma_value);
        *sigma_all = c->sigma_value;
    }
    return NLSQ_OK;
}

/* The fit's working memory: per thread the pass's block buffers, the
   interpreter's slots, a kernel's buffers and (unless the data are read in
   place) one window of every column read; per chunk a triangle; and the
   residuals when kept. */
static size_t estimate_memory(const nlsq_model *m, size_t rows, int nf, int threads, int ncopy, int keep_residuals)
{
    const program *p = &m->prog;
    size_t nc = (size_t)nf + 1, chunk = pass_chunk_points(rows), nchunks = (rows + chunk - 1) / chunk;
    size_t per_thread = (size_t)NLSQ_BLOCK * sizeof(double) *
                        ((nc + 1) + (size_t)p->nslots + nc + (size_t)(p->nvars ? p->nvars : 1));
    per_thread += (size_t)p->nuniform * sizeof(double);
    per_thread += (size_t)ncopy * PASS_WINDOW * sizeof(double);
    size_t per_chunk = nc * nc * sizeof(double) + 3 * sizeof(double) + sizeof(int) + sizeof(data_stats);
    return (size_t)threads * per_thread + nchunks * per_chunk + (keep_residuals ? rows * sizeof(double) : 0);
}

/* The options that steer the solver's course, hashed for the checkpoint. */
static uint64_t options_hash(const fit_problem *fp, int yc, int sc, double sigma_all)
{
    const nlsq_options *o = &fp->opt;
    int ints[] = {(int)o->method, (int)o->loss, o->max_nfev, o->x_scale_jac, (int)o->nan_policy, fp->n,
                  fp->n_free,     yc,           sc};
    double dbl[] = {o->f_scale, o->ftol, o->xtol, o->gtol, sigma_all};
    uint64_t h = checkpoint_hash(0, ints, sizeof ints);
    h = checkpoint_hash(h, dbl, sizeof dbl);
    h = checkpoint_hash(h, fp->p, (size_t)fp->n * sizeof *fp->p);
    h = checkpoint_hash(h, fp->lb, (size_t)fp->n * sizeof *fp->lb);
    h = checkpoint_hash(h, fp->ub, (size_t)fp->n * sizeof *fp->ub);
    h = checkpoint_hash(h, fp->free_idx, (size_t)fp->n_free * sizeof *fp->free_idx);
    if (o->x_scale) h = checkpoint_hash(h, o->x_scale, (size_t)fp->n * sizeof *o->x_scale);
    return h;
}

/* The model as the checkpoint names it: its text as nlsq prints it, with
   the variables and parameters in order. */
static char *model_identity(const nlsq_model *m)
{
    /* 0 from the formatter is its failure (out of memory): an empty text
       would be written as the checkpoint's model and refuse every resume */
    size_t text = nlsq_model_format(m, -1, NULL, 0);
    if (text == 0) return NULL;
    size_t need = text + 64;
    for (int k = 0; k < m->vars.count; k++) need += strlen(m->vars.names[k]) + 2;
    for (int j = 0; j < m->params.count; j++) need += strlen(m->params.names[j]) + 2;
    char *s = malloc(need);
    if (!s) return NULL;
    size_t used = nlsq_model_format(m, -1, s, need);
    if (used != text) {
        free(s);
        return NULL;
    }
    used += (size_t)snprintf(s + used, need - used, "; variables");
    for (int k = 0; k < m->vars.count; k++) used += (size_t)snprintf(s + used, need - used, " %s", m->vars.names[k]);
    used += (size_t)snprintf(s + used, need - used, "; parameters");
    for (int j = 0; j < m->params.count; j++)
        used += (size_t)snprintf(s + used, need - used, " %s", m->params.names[j]);
    return s;
}

/* A value against nan_policy, named as an array element (0-based, as
   nlsq_curve_fit names them) and as the source's row (1-based: the n-th
   data row of a file, header and comments not counted). */
static nlsq_status data_error(fit_problem *fp, const data_stats *st, nlsq_error *err)
{
    size_t i = st->bad_row;
    switch (st->bad_kind) {
    case BAD_Y:
        return fit_fail(fp, err, NLSQ_ERR_DATA, "y[%zu] is %g (data row %zu; nan_policy raise)", i, st->bad_value,
                        i + 1);
    case BAD_X:
        return fit_fail(fp, err, NLSQ_ERR_DATA, "%s[%zu] is %g (data row %zu; nan_policy raise)",
                        fp->model->vars.names[st->bad_var], i, st->bad_value, i + 1);
    case BAD_SIGMA:
        return fit_fail(fp, err, NLSQ_ERR_DATA, "sigma[%zu] is %g (data row %zu; nan_policy raise)", i, st->bad_value,
                        i + 1);
    default:
        return fit_fail(fp, err, NLSQ_ERR_DATA, "sigma[%zu] = %g (data row %zu): sigma must be positive", i,
                        st->bad_value, i + 1);
    }
}

/* Where the passes run: the CPU, or CUDA devices opened here (gpu/placement.c). */
static nlsq_status choose_device(fit_problem *fp, int sc, double sigma_all, nlsq_error *err)
{
    if (in_group(fp)) {
        /* a GPU's bits depend on its own layout, not the group's chunks */
        const char *asked = fp->opt.device ? fp->opt.device : getenv("NLSQ_DEVICE");
        if (asked && *asked && strcmp(asked, "auto") != 0 && strcmp(asked, "cpu") != 0)
            return fit_fail(fp, err, NLSQ_ERR_INVALID_ARGUMENT,
                            "device '%.40s': a fit spread over a group of processes runs on the CPU", asked);
        snprintf(fp->device, sizeof fp->device, "cpu");
        snprintf(fp->device_note, sizeof fp->device_note, "a group of %d processes", fp->opt.group->size);
        return NLSQ_OK;
    }
    gpu_pass_spec gs = {0,
                        0,
                        &fp->model->prog,
                        fp->free_idx,
                        fp->n_free,
                        fp->m_total,
                        sc >= 0,
                        sigma_all,
                        fp->opt.loss,
                        fp->opt.f_scale,
                        fp->omit,
                        fp->opt.gpu_float32 != 0,
                        fp->ps.nworkers,
                        0};
    char why[300];
    int rc = gpu_place(fp->opt.device, &gs, &fp->gpu, fp->device, sizeof fp->device, fp->device_note,
                       sizeof fp->device_note, why, sizeof why);
    if (rc < 0) return fit_fail(fp, err, NLSQ_ERR_INVALID_ARGUMENT, "%s", why);
    fp->use_gpu = rc;
    return NLSQ_OK;
}

/* Upload chunks [c0, c1) through the reader, which checks the data on the
   way as a first CPU pass would; NLSQ_OK, or the status and reason of the
   lowest chunk that failed. */
static nlsq_status upload_chunks(fit_problem *fp, int c0, int c1, char *why, size_t why_size)
{
    pass_data pd = reader_pass_data(&fp->rd);
    int rc = gpu_group_upload_chunks(&fp->gpu, &pd, fp->ps.pool, fp->m_total, fp->rd.ncopy == 0, c0, c1, fp->rd.why,
                                     why, why_size);
    reader_flush(&fp->rd);
    if (rc == 0 && source_check(fp->rd.src, why, why_size) != 0) return NLSQ_ERR_DATA;
    return rc == 0 ? NLSQ_OK : rc == GPU_UPLOAD_READ_FAILED ? NLSQ_ERR_DATA : NLSQ_ERR_INVALID_ARGUMENT;
}

static nlsq_status upload(fit_problem *fp, nlsq_error *err)
{
    size_t chunk = pass_chunk_points(fp->m_total);
    char why[400];
    nlsq_status st = upload_chunks(fp, 0, (int)((fp->m_total + chunk - 1) / chunk), why, sizeof why);
    return st == NLSQ_OK ? NLSQ_OK : fit_fail(fp, err, st, "%s", why);
}

/*
 * A pass over data larger than the GPU's memory: segment by segment (a
 * whole number of chunks each), uploaded through the reader and folded,
 * all the segments' triangles merged at the end. The copies are not
 * overlapped with the kernels: each segment's upload waits for the last.
 */
static int streamed_pass(fit_problem *fp, const double *u, pass_out *out, nlsq_status *st, char *why, size_t why_size)
{
    gpu_pass *g = &fp->gpu.part[0];
    size_t chunk = pass_chunk_points(fp->m_total), cap = g->cap;
    gpu_group_begin(&fp->gpu);
    for (size_t lo = 0; lo < fp->m_total; lo += cap) {
        size_t n = fp->m_total - lo < cap ? fp->m_total - lo : cap;
        gpu_pass_set_range(g, lo, n);
        *st = upload_chunks(fp, (int)(lo / chunk), (int)((lo + n + chunk - 1) / chunk), why, why_size);
        if (*st != NLSQ_OK) return -1;
        *st = NLSQ_ERR_INVALID_ARGUMENT;
        if (gpu_group_add(&fp->gpu, u, why, why_size) != 0) return -1;
    }
    gpu_group_end(&fp->gpu, out);
    return 0;
}

/* The first pass, at the start point: the data check, the usable points,
   SS_tot and the answer of the solver's first evaluation. */
static nlsq_status first_pass(fit_problem *fp, nlsq_error *err)
{
    int nf = fp->n_free;
    size_t nc = (size_t)nf + 1, chunk = pass_chunk_points(fp->m_total);
    fp->first_x = malloc((size_t)nf * sizeof *fp->first_x);
    fp->first_R = malloc(nc * nc * sizeof *fp->first_R);
    nlsq_status st0 = NLSQ_OK;
    if (!fp->first_x || !fp->first_R || reader_check_next_pass(&fp->rd, (int)((fp->m_total + chunk - 1) / chunk)) != 0)
        st0 = fit_fail(fp, err, NLSQ_ERR_NOMEM, "out of memory");
    if ((st0 = group_settle(fp, st0, err)) != NLSQ_OK) return st0; /* before the pass every process takes part in */
    for (int k = 0; k < nf; k++) fp->first_x[k] = fp->p[fp->free_idx[k]];
    if (fp->use_gpu && !fp->gpu.part[0].streaming) { /* else every pass uploads */
        nlsq_status st = upload(fp, err);
        if (st != NLSQ_OK) return st;
    }
    fp->first_rc = run_pass(fp, &fp->first_cost, fp->first_R);
    if (fp->abort_status != NLSQ_OK) return fit_fail(fp, err, fp->abort_status, "%s", fp->abort_msg);
    data_stats st;
    if (reader_finish_check(&fp->rd, in_group(fp) ? fp->opt.group : NULL, &st) != 0)
        return fit_fail(fp, err, NLSQ_ERR_IO, "a process of the group ended or could not be reached");
    if (st.bad_row != SIZE_MAX) return data_error(fp, &st, err);
    fp->m_used = st.usable;
    if (fp->m_used == 0) return fit_fail(fp, err, NLSQ_ERR_DATA, "no usable data points");
    /* before a checkpoint is written for a fit that will not run */
    nlsq_status determined = fit_check_determined(fp, fp->m_used, err);
    if (determined != NLSQ_OK) return determined;
    fp->sst = fp->rd.has_sigma ? st.m2 : st.m2 / (fp->rd.sigma_all * fp->rd.sigma_all);
    fp->first_valid = 1;
    char why[400];
    if (fp->ckpt) {
        nlsq_status cs = NLSQ_OK;
        if (checkpoint_first(fp->ckpt, fp->m_used, fp->first_x, fp->first_cost, fp->first_rc, fp->first_R, why,
                             sizeof why) != 0 ||
            (!fp->opt.resume && checkpoint_save(fp->ckpt, why, sizeof why) != 0))
            cs = NLSQ_ERR_INVALID_ARGUMENT;
        if (in_group(fp)) group_decide(fp, &cs, why, sizeof why);
        if (cs != NLSQ_OK) return fit_fail(fp, err, cs, "%s", why);
    }
    return NLSQ_OK;
}

/* Where the passes run, as far as it fixes their bits: the CPU's are the
   same on any thread count and backend; a GPU's depend on its model, the
   number of blocks and devices, the precision and the segments. */
static void device_identity(const fit_problem *fp, char *out, size_t size)
{
    if (!fp->use_gpu) {
        snprintf(out, size, "the CPU");
        return;
    }
    const gpu_pass *g = &fp->gpu.part[0];
    snprintf(out, size, "%s (%d x %.100s, %u blocks, %s%s)", fp->device, fp->gpu.count, g->name, fp->gpu.nblocks,
             g->float32 ? "float32" : "float64", g->streaming ? ", streamed" : "");
    if (g->streaming) {
        size_t used = strlen(out);
        snprintf(out + used - 1, size - used + 1, " in segments of %zu points)", g->cap);
    }
}

/* The checkpoint is replaced after every evaluation: refused, before any
   work, when it is one of the data's files (by device and inode, through
   any link or name), not a regular file, or in a place that cannot take
   it. */
static nlsq_status check_checkpoint_path(fit_problem *fp, const nlsq_source *src, nlsq_error *err)
{
    const char *path = fp->opt.checkpoint;
    struct stat st;
    char why[600];
    if (strcmp(path, "-") == 0)
        return fit_fail(fp, err, NLSQ_ERR_IO, "a checkpoint cannot be the standard output ('-'): it is read back");
    if (stat(path, &st) == 0) {
        if (source_reads_file(src, &st))
            return fit_fail(fp, err, NLSQ_ERR_IO, "the checkpoint %s is a file of the data; refusing to overwrite it",
                            path);
        if (!S_ISREG(st.st_mode))
            return fit_fail(fp, err, NLSQ_ERR_IO, "the checkpoint %s is %s, not a regular file", path,
                            S_ISDIR(st.st_mode) ? "a directory" : "a device or a pipe");
    }
    if (outfile_check(path, NULL, 0, why, sizeof why) != 0)
        return fit_fail(fp, err, NLSQ_ERR_IO, "cannot write the checkpoint %s", why);
    return NLSQ_OK;
}

static nlsq_status open_checkpoint(fit_problem *fp, const nlsq_source *src, int yc, int sc, double sigma_all,
                                   nlsq_error *err)
{
    if (!fp->opt.checkpoint) return NLSQ_OK;
    /* in a group process 0 alone checks the path, and a failure on any
       process must stop all of them before checkpoint_open's broadcasts
       and the first pass: each step is settled together */
    nlsq_status st = in_group(fp) && fp->opt.group->rank != 0 ? NLSQ_OK : check_checkpoint_path(fp, src, err);
    char *text = NULL, why[600], device[300];
    if (st == NLSQ_OK && !(text = model_identity(fp->model)))
        st = fit_fail(fp, err, NLSQ_ERR_NOMEM, "out of memory for the checkpoint's model text");
    if ((st = group_settle(fp, st, err)) != NLSQ_OK) {
        free(text);
        return st;
    }
    device_identity(fp, device, sizeof device);
    why[0] = '\0';
    int rc = checkpoint_open(fp->opt.checkpoint, fp->opt.resume, text, device, options_hash(fp, yc, sc, sigma_all),
                             fp->n_free, fp->m_total, in_group(fp) ? fp->opt.group : NULL, &fp->ckpt, why, sizeof why);
    free(text);
    st = rc == 0 ? NLSQ_OK : fit_fail(fp, err, NLSQ_ERR_INVALID_ARGUMENT, "%s", why[0] ? why : "out of memory");
    return group_settle(fp, st, err);
}

static nlsq_status fit_from_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                                   const nlsq_options *options, const char *who, int no_extra_pass, nlsq_result **out,
                                   nlsq_error *err)
{
    fit_problem fp;
    memset(&fp, 0, sizeof fp);
    fp.no_extra_pass = no_extra_pass;
    fp.model = model;
    fp.who = who;
    fp.opt = options ? *options : nlsq_options_default();
    fp.m_total = nlsq_source_num_rows(src);
    fp.latest_cost = NAN;
    fp.last_pass_seconds = NAN;
    fp.t_start = fp.last_report = host_seconds();
    nlsq_columns c = cols ? *cols : nlsq_columns_default();
    int xc[NLSQ_READER_MAX_COLS], yc, sc;
    double sigma_all;
    nlsq_status st;
    if ((st = fit_check_options(&fp, err)) != NLSQ_OK) goto setup_done;
    if ((st = fit_alloc(&fp, err)) != NLSQ_OK) goto setup_done;
    if ((st = fit_resolve_columns(&fp, src, &c, xc, &yc, &sc, &sigma_all, err)) != NLSQ_OK) goto setup_done;
    if ((st = fit_setup_parameters(&fp, err)) != NLSQ_OK) goto setup_done;
    /* before any pass when the source has too few rows at all (omitted
       rows can only lower the count; fit_choose_method checks it again) */
    if ((st = fit_check_determined(&fp, fp.m_total, err)) != NLSQ_OK) goto setup_done;
    if (fp.opt.keep_residuals && fp.m_total > host_available_memory() / 2 / sizeof(double)) {
        st = fit_fail(&fp, err, NLSQ_ERR_NOMEM,
                      "keep_residuals needs %.3g GB for %zu residuals, more than half the available memory (%.3g GB); "
                      "fit without it and evaluate the residuals window by window (nlsq_source_read, nlsq_model_eval)",
                      (double)fp.m_total * 8e-9, fp.m_total, (double)host_available_memory() * 1e-9);
        goto setup_done;
    }
    nlsq_backend backend = fp.opt.backend;
    if ((st = fit_choose_backend(&fp, &backend, err)) != NLSQ_OK) goto setup_done;
    if ((st = fit_start_pass(&fp, backend, err)) != NLSQ_OK) goto setup_done;
    if (reader_init(&fp.rd, src, xc, model->vars.count, yc, sc, fp.ps.nworkers, sigma_all, fp.omit) != 0) {
        fp.have_rd = 1;
        st = fit_fail(&fp, err, NLSQ_ERR_NOMEM, "out of memory for the read buffers");
        goto setup_done;
    }
    fp.have_rd = 1;
    fp.rd.raise = fp.opt.nan_policy == NLSQ_NAN_RAISE;
    fp.pd = reader_pass_data(&fp.rd);
    if (fp.opt.progress) {
        fp.ps.progress = pass_progress;
        fp.ps.progress_ctx = &fp;
    }
    fp.memory_bytes = estimate_memory(model, fp.m_total, fp.n_free, fp.threads, fp.rd.ncopy, fp.opt.keep_residuals);
    if ((st = choose_device(&fp, sc, sigma_all, err)) != NLSQ_OK) goto setup_done;
    /* data in pieces are folded by the group they were made over: its
       shares (spans) have one entry per process */
    int pieces_size = 0;
    if (source_spans(src, &pieces_size) && (in_group(&fp) ? fp.opt.group->size : 1) != pieces_size) {
        st = fit_fail(&fp, err, NLSQ_ERR_INVALID_ARGUMENT,
                      "the source is data in pieces over a group of %d processes; fit it with that group "
                      "(nlsq_options.group), here %d",
                      pieces_size, in_group(&fp) ? fp.opt.group->size : 1);
        goto setup_done;
    }
setup_done:
    if (in_group(&fp)) {
        /* what failed here on one process fails on all, before any pass;
           and every process must have been given the same options */
        fp.group_options = group_options_hash(&fp);
        if ((st = group_settle(&fp, st, err)) != NLSQ_OK) goto done;
        if ((st = group_settle(&fp, group_same_rows(&fp, err), err)) != NLSQ_OK) goto done;
        fp.ps.group = fp.opt.group;
        fp.ps.spans = source_spans(src, NULL);
    } else if (st != NLSQ_OK) {
        goto done;
    }
    /* (opening a checkpoint is collective in a group: every process reads
       what process 0 read) */
    if ((st = open_checkpoint(&fp, src, yc, sc, sigma_all, err)) != NLSQ_OK) goto done;
    if ((st = first_pass(&fp, err)) != NLSQ_OK) goto done;
    if ((st = fit_choose_method(&fp, err)) != NLSQ_OK) goto done;
    solve_problem pb = {fp.n_free, fp.m_used, evaluate_source, &fp, NULL, NULL, NULL, 0, NULL};
    fp.solving = 1;
    st = fit_solve(&fp, &pb, out, err);
done:
    checkpoint_free(fp.ckpt);
    fit_free_problem(&fp);
    return st;
}

nlsq_status nlsq_fit_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                            const nlsq_options *opt, nlsq_result **out, nlsq_error *err)
{
    error_clear(err);
    if (!model || !src || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_fit_source: %s is NULL",
                  !model ? "model"
                  : !src ? "source"
                         : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (model->params.count == 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_fit_source: the model has no parameters");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return fit_from_source(model, src, cols, opt, "nlsq_fit_source", 0, out, err);
}

nlsq_status fit_source_refit(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                             const nlsq_options *opt, nlsq_result **out, nlsq_error *err)
{
    error_clear(err);
    *out = NULL;
    return fit_from_source(model, src, cols, opt, "nlsq_fit_source", 1, out, err);
}

nlsq_status fit_arrays_source(const nlsq_data *data, int k, const char *who, nlsq_source **src, nlsq_columns *c,
                              nlsq_error *err)
{
    if (k > NLSQ_READER_MAX_COLS - 2) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: more than 256 variables", who);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    const double *cols[NLSQ_READER_MAX_COLS];
    for (int j = 0; j < k; j++) cols[j] = data->x ? data->x + (size_t)j * data->m : NULL;
    cols[k] = data->y;
    int ncols = k + 1;
    *c = nlsq_columns_default();
    if (data->sigma_kind == NLSQ_SIGMA_PER_POINT) {
        cols[ncols] = data->sigma;
        c->sigma = ncols++;
    } else if (data->sigma_kind == NLSQ_SIGMA_SCALAR) {
        if (!(data->sigma[0] > 0 && isfinite(data->sigma[0]))) {
            error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: sigma must be positive and finite, got %g", who, data->sigma[0]);
            return NLSQ_ERR_DATA;
        }
        c->sigma_value = data->sigma[0];
    }
    return nlsq_source_from_arrays(cols, ncols, data->m, src, err);
}

nlsq_status fit_arrays(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt, nlsq_result **out,
                       nlsq_error *err)
{
    nlsq_source *src;
    nlsq_columns c;
    nlsq_status st = fit_arrays_source(data, model->vars.count, "nlsq_curve_fit", &src, &c, err);
    if (st != NLSQ_OK) return st;
    st = fit_from_source(model, src, &c, opt, "nlsq_curve_fit", 0, out, err);
    nlsq_source_free(src);
    return st;
}

nlsq_status nlsq_fit_memory(const nlsq_model *model, const nlsq_source *src, const nlsq_columns *cols,
                            const nlsq_options *options, size_t *bytes, nlsq_error *err)
{
    error_clear(err);
    if (!model || !src || !bytes) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_fit_memory: %s is NULL",
                  !model ? "model"
                  : !src ? "source"
                         : "bytes");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    fit_problem fp;
    memset(&fp, 0, sizeof fp);
    fp.model = model;
    fp.who = "nlsq_fit_memory";
    fp.opt = options ? *options : nlsq_options_default();
    nlsq_columns c = cols ? *cols : nlsq_columns_default();
    int xc[NLSQ_READER_MAX_COLS], yc, sc, k = model->vars.count;
    double sigma_all;
    nlsq_status st = fit_resolve_columns(&fp, src, &c, xc, &yc, &sc, &sigma_all, err);
    if (st != NLSQ_OK) return st;
    int nf = 0;
    for (int j = 0; j < model->params.count; j++) nf += !(fp.opt.fixed && fp.opt.fixed[j]);
    size_t rows = nlsq_source_num_rows(src);
    int read[NLSQ_READER_MAX_COLS], nread = k + 1;
    memcpy(read, xc, (size_t)k * sizeof *read);
    read[k] = yc;
    if (sc >= 0) read[nread++] = sc;
    const double *direct[NLSQ_READER_MAX_COLS];
    size_t stride;
    int ncopy = reader_plan(src, read, nread, k, direct, &stride);
    *bytes = estimate_memory(model, rows, nf, fit_choose_threads(&fp.opt, rows), ncopy, fp.opt.keep_residuals);
    return NLSQ_OK;
}
