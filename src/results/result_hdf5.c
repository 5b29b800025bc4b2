/*
 * What a result puts into HDF5 (include/nlsq.h, "Results into HDF5";
 * docs/data-formats.md): nlsq_result_write_hdf5 and
 * nlsq_batch_result_write_hdf5, over the writer of io/hdf5_write.c, which
 * owns the file, its atomicity and the HDF5 lock. This layer sits above
 * fit/ (sources), exec/ (the model at popt for the predictions) and
 * uncertainty/ (the intervals).
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/core.h"
#include "fit/source.h"
#include "io/hdf5_write.h"
#include "nlsq.h"

/* Rows of predictions computed and written at a time. */
#define PRED_WINDOW 65536
/* Variables the predictions take (their columns are x0 .. x63). */
#define PRED_MAX_VARS 64

nlsq_hdf5_write_options nlsq_hdf5_write_options_default(void)
{
    nlsq_hdf5_write_options o;
    memset(&o, 0, sizeof o);
    o.mode = NLSQ_HDF5_REPLACE;
    o.sigma_kind = -1;
    o.level = 0.95;
    return o;
}

/* ---- names of the options' values ------------------------------------------ */

static const char *loss_name(nlsq_loss l)
{
    static const char *names[] = {"linear", "soft_l1", "huber", "cauchy", "arctan"};
    return (int)l >= 0 && l <= NLSQ_LOSS_ARCTAN ? names[l] : "unknown";
}

static const char *method_name(nlsq_method m)
{
    static const char *names[] = {"auto", "trf", "lm", "dogbox"};
    return (int)m >= 0 && m <= NLSQ_DOGBOX ? names[m] : "unknown";
}

static const char *sigma_name(int kind)
{
    static const char *names[] = {"none", "scalar", "per_point", "covariance"};
    return kind >= 0 && kind <= NLSQ_SIGMA_COVARIANCE ? names[kind] : "unknown";
}

static const char *nan_policy_name(nlsq_nan_policy p)
{
    static const char *names[] = {"raise", "omit", "ignore"};
    return (int)p >= 0 && p <= NLSQ_NAN_IGNORE ? names[p] : "unknown";
}

/* The findings' keys, in bit order, as --json and the batch rows name
   them (docs/cli.md). */
static const char *const finding_keys[] = {"not_converged",  "no_influence",   "not_moved",
                                           "rank_deficient", "no_explanation", "ill_conditioned",
                                           "correlated",     "at_bound",       "residual_structure"};
enum { NFINDINGS = sizeof finding_keys / sizeof finding_keys[0] };

/* ---- the attributes every result has --------------------------------------- */

/* How the points were weighted: as told, else from the columns or data. */
static int sigma_kind(const nlsq_hdf5_write_options *o)
{
    if (o->sigma_kind >= 0) return o->sigma_kind;
    if (o->data) return (int)o->data->sigma_kind;
    if (o->source) {
        nlsq_columns c = o->columns ? *o->columns : nlsq_columns_default();
        return c.sigma >= 0 ? NLSQ_SIGMA_PER_POINT : c.sigma_value > 0 ? NLSQ_SIGMA_SCALAR : NLSQ_SIGMA_NONE;
    }
    return -1;
}

/* "model": the given text, else the model formatted. */
static int attr_model(h5w *w, const nlsq_model *model, const nlsq_hdf5_write_options *o)
{
    if (o->model_text) return h5w_attr_string(w, NULL, "model", o->model_text);
    size_t len = nlsq_model_format(model, -1, NULL, 0);
    char *text = malloc(len + 1);
    if (!text) return h5w_fail(w, NLSQ_ERR_NOMEM, "out of memory");
    nlsq_model_format(model, -1, text, len + 1);
    int rc = h5w_attr_string(w, NULL, "model", text);
    free(text);
    return rc;
}

static void attrs_common(h5w *w, const nlsq_model *model, nlsq_method method, int absolute_sigma,
                         const nlsq_hdf5_write_options *o, const char *kind)
{
    char created[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    h5w_attr_int(w, NULL, kind, 1);
    attr_model(w, model, o);
    h5w_attr_string(w, NULL, "nlsq_version", nlsq_version());
    h5w_attr_string(w, NULL, "created", created);
    h5w_attr_string(w, NULL, "method", method_name(method));
    h5w_attr_int(w, NULL, "absolute_sigma", absolute_sigma != 0);
    h5w_attr_string(w, NULL, "sigma", sigma_name(sigma_kind(o)));
    if (o->data_name) h5w_attr_string(w, NULL, "data", o->data_name);
    if (!o->fit) return;
    const nlsq_options *f = o->fit;
    h5w_attr_string(w, NULL, "loss", loss_name(f->loss));
    h5w_attr_double(w, NULL, "f_scale", f->f_scale);
    /* the tolerances in effect (negative asks for the defaults) */
    h5w_attr_double(w, NULL, "ftol", f->ftol >= 0 ? f->ftol : NLSQ_DEFAULT_FTOL);
    h5w_attr_double(w, NULL, "xtol", f->xtol >= 0 ? f->xtol : NLSQ_DEFAULT_XTOL);
    h5w_attr_double(w, NULL, "gtol", f->gtol >= 0 ? f->gtol : method == NLSQ_LM ? 0 : NLSQ_DEFAULT_GTOL);
    h5w_attr_int(w, NULL, "max_nfev", f->max_nfev);
    h5w_attr_string(w, NULL, "nan_policy", nan_policy_name(f->nan_policy));
}

/* lower, upper, p0 and fixed from the fit's options, where given. */
static void put_fit_arrays(h5w *w, int n, const nlsq_hdf5_write_options *o)
{
    const nlsq_options *f = o->fit;
    size_t dims[1] = {(size_t)n};
    if (!f) return;
    if (f->lower) h5w_doubles(w, "lower", f->lower, 1, dims);
    if (f->upper) h5w_doubles(w, "upper", f->upper, 1, dims);
    if (f->p0) h5w_doubles(w, "p0", f->p0, 1, dims);
    if (f->fixed) h5w_ints(w, "fixed", H5W_U8, f->fixed, 1, dims);
}

/* ---- one fit's result --------------------------------------------------------- */

static void put_names(h5w *w, const nlsq_model *model, int n)
{
    const char **names = malloc((n > 0 ? (size_t)n : 1) * sizeof *names);
    if (!names) {
        h5w_fail(w, NLSQ_ERR_NOMEM, "out of memory");
        return;
    }
    for (int j = 0; j < n; j++) names[j] = nlsq_model_param_name(model, j);
    h5w_strings(w, "names", names, (size_t)n);
    free(names);
}

/* The correlation as the report computes it (NaN without a pcov). */
static double correlation(const nlsq_result *r, int a, int b)
{
    double va = r->pcov[a * r->n + a], vb = r->pcov[b * r->n + b];
    return !r->pcov_valid ? NAN : va > 0 && vb > 0 ? r->pcov[a * r->n + b] / sqrt(va * vb) : 0;
}

static void put_matrices(h5w *w, const nlsq_result *r)
{
    int n = r->n;
    size_t dims[2] = {(size_t)n, (size_t)n};
    double *corr = malloc((n > 0 ? (size_t)n * (size_t)n : 1) * sizeof *corr);
    if (!corr) {
        h5w_fail(w, NLSQ_ERR_NOMEM, "out of memory");
        return;
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) corr[a * n + b] = correlation(r, a, b);
    h5w_doubles(w, "pcov", r->pcov, 2, dims);
    h5w_doubles(w, "correlation", corr, 2, dims);
    free(corr);
}

/* Intervals at `level` (none for 0, or when the fit has no quantile). */
static void put_intervals(h5w *w, const nlsq_result *r, double level)
{
    if (!(level > 0 && level < 1)) return;
    double *lo = malloc((r->n > 0 ? 2 * (size_t)r->n : 1) * sizeof *lo);
    if (!lo) {
        h5w_fail(w, NLSQ_ERR_NOMEM, "out of memory");
        return;
    }
    size_t dims[1] = {(size_t)r->n};
    if (nlsq_result_intervals(r, level, lo, lo + r->n, NULL) == NLSQ_OK) {
        h5w_doubles(w, "interval_lower", lo, 1, dims);
        h5w_doubles(w, "interval_upper", lo + r->n, 1, dims);
        h5w_attr_double(w, NULL, "level", level);
    }
    free(lo);
}

/* The warnings of the text report, in its words. */
static void put_warnings(h5w *w, const nlsq_result *r)
{
    char not_conv[300];
    const char *list[3];
    size_t k = 0;
    int high = 0;
    for (int a = 0; r->pcov_valid && a < r->n; a++)
        for (int b = a + 1; b < r->n; b++) high |= fabs(correlation(r, a, b)) > 0.99;
    if (!r->success) {
        snprintf(not_conv, sizeof not_conv, "the fit did not converge (%s)", r->message);
        list[k++] = not_conv;
    }
    if (!r->pcov_valid) list[k++] = "the covariance of the parameters could not be estimated";
    if (high) list[k++] = "a correlation above 0.99: the model may have more parameters than the data can determine";
    h5w_strings(w, "warnings", list, k);
}

static void put_diagnostics(h5w *w, const nlsq_result *r)
{
    const nlsq_diagnostics *d = &r->diag;
    const char *keys[NFINDINGS], *sentences[NFINDINGS];
    size_t k = 0;
    for (unsigned b = 0; b < NFINDINGS; b++)
        if (d->flags & (1u << b)) {
            sentences[k] = nlsq_diagnostic_str((nlsq_diagnostic)(1u << b));
            keys[k++] = finding_keys[b];
        }
    size_t n[1] = {(size_t)r->n}, pairs[2] = {(size_t)d->n_correlated, 2};
    h5w_group(w, "diagnostics");
    h5w_int(w, "diagnostics/trusted", d->trusted);
    h5w_int(w, "diagnostics/flags", d->flags);
    h5w_strings(w, "diagnostics/findings", keys, k);
    h5w_strings(w, "diagnostics/finding_messages", sentences, k);
    h5w_int(w, "diagnostics/rank", d->rank);
    h5w_double(w, "diagnostics/cond", d->cond);
    h5w_doubles(w, "diagnostics/influence", d->influence, 1, n);
    h5w_ints(w, "diagnostics/param_flags", H5W_U32, d->param_flags, 1, n);
    h5w_ints(w, "diagnostics/correlated", H5W_I32, d->correlated, 2, pairs);
    h5w_doubles(w, "diagnostics/correlated_value", d->correlation, 1, pairs);
    h5w_int(w, "diagnostics/residuals_tested", d->residuals_tested);
    h5w_int(w, "diagnostics/runs", (long long)d->runs);
    h5w_int(w, "diagnostics/n_pos", (long long)d->n_pos);
    h5w_int(w, "diagnostics/n_neg", (long long)d->n_neg);
    h5w_double(w, "diagnostics/runs_z", d->runs_z);
    h5w_double(w, "diagnostics/lag1", d->lag1);
}

static void put_result(h5w *w, const nlsq_model *model, const nlsq_result *r, const nlsq_hdf5_write_options *o)
{
    size_t n[1] = {(size_t)r->n};
    attrs_common(w, model, r->method, r->absolute_sigma, o, "nlsq_result");
    put_names(w, model, r->n);
    h5w_doubles(w, "popt", r->popt, 1, n);
    h5w_doubles(w, "perr", r->perr, 1, n);
    put_matrices(w, r);
    h5w_ints(w, "active_mask", H5W_I8, r->active_mask, 1, n);
    put_intervals(w, r, o->level);
    put_fit_arrays(w, r->n, o);
    struct {
        const char *name;
        double v;
    } nums[] = {{"cost", r->cost}, {"chi2", r->chi2}, {"redchi", r->redchi},      {"r2", r->r2},
                {"aic", r->aic},   {"bic", r->bic},   {"grad_norm", r->grad_norm}};
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) h5w_double(w, nums[k].name, nums[k].v);
    struct {
        const char *name;
        long long v;
    } ints[] = {{"n", r->n},
                {"n_free", r->n_free},
                {"m", (long long)r->m},
                {"dof", r->dof},
                {"nfev", r->nfev},
                {"njev", r->njev},
                {"nit", r->nit},
                {"status", r->status},
                {"success", r->success},
                {"pcov_valid", r->pcov_valid},
                {"pcov_rank", r->pcov_rank},
                {"passes", r->passes},
                {"jit_passes", r->jit_passes},
                {"threads", r->threads}};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) h5w_int(w, ints[k].name, ints[k].v);
    h5w_string(w, "message", r->message);
    h5w_string(w, "method", method_name(r->method));
    h5w_string(w, "backend", r->backend);
    h5w_string(w, "device", r->device);
    h5w_string(w, "backend_note", r->backend_note);
    h5w_string(w, "device_note", r->device_note);
    h5w_int(w, "memory_bytes", (long long)r->memory_bytes);
    h5w_int(w, "resumed_evaluations", r->resumed_evaluations);
    put_warnings(w, r);
    put_diagnostics(w, r);
}

/* ---- predictions, window by window ---------------------------------------------- */

typedef struct pred_plan {
    int k; /* variables                               */
    size_t rows;
    int xc[PRED_MAX_VARS], yc, sc; /* a source's columns; sc -1: no sigma */
    const nlsq_data *data;         /* or the data in memory                   */
    nlsq_source *src;
    int slots[PRED_MAX_VARS + 4]; /* x..., y, fit, residual, sigma        */
} pred_plan;

/* Which columns the predictions read; 0, or -1 with the failure kept. */
static int plan_predictions(h5w *w, const nlsq_model *model, const nlsq_hdf5_write_options *o, pred_plan *p)
{
    memset(p, 0, sizeof *p);
    p->k = nlsq_model_num_vars(model);
    if (p->k < 0 || p->k > PRED_MAX_VARS)
        return h5w_fail(w, NLSQ_ERR_INVALID_ARGUMENT, "predictions of more than %d variables", PRED_MAX_VARS);
    if (o->data) {
        p->data = o->data;
        p->rows = o->data->m;
        p->sc = o->data->sigma_kind == NLSQ_SIGMA_PER_POINT && o->data->sigma ? 0 : -1;
        return 0;
    }
    nlsq_columns c = o->columns ? *o->columns : nlsq_columns_default();
    int ncols = nlsq_source_num_columns(o->source);
    for (int v = 0; v < p->k; v++) p->xc[v] = c.x ? c.x[v] : v;
    p->yc = c.y >= 0 ? c.y : (p->k ? p->xc[p->k - 1] + 1 : 0);
    p->sc = c.sigma;
    for (int v = 0; v <= p->k + (p->sc >= 0); v++) {
        int col = v < p->k ? p->xc[v] : v == p->k ? p->yc : p->sc;
        if (col < 0 || col >= ncols)
            return h5w_fail(w, NLSQ_ERR_INVALID_ARGUMENT, "predictions: column %d is not in the data (%d columns)", col,
                            ncols);
    }
    p->src = o->source;
    p->rows = nlsq_source_num_rows(o->source);
    return 0;
}

/* The predictions' datasets at their full length. */
static int create_columns(h5w *w, const nlsq_model *model, pred_plan *p)
{
    static const char *const rest[] = {"y", "fit", "residual", "sigma"};
    char name[48];
    if (h5w_group(w, "predictions") != 0) return -1;
    int total = p->k + 3 + (p->sc >= 0);
    for (int s = 0; s < total; s++) {
        if (s < p->k && p->k == 1)
            snprintf(name, sizeof name, "predictions/x");
        else if (s < p->k)
            snprintf(name, sizeof name, "predictions/x%d", s);
        else
            snprintf(name, sizeof name, "predictions/%s", rest[s - p->k]);
        if ((p->slots[s] = h5w_column(w, name, p->rows)) < 0) return -1;
        if (s < p->k) h5w_attr_string(w, name, "variable", nlsq_model_var_name(model, s));
    }
    return h5w_failed(w) ? -1 : 0;
}

/* Rows [first, first+n) of the inputs: x rows, y and sigma. */
static int read_window(h5w *w, const pred_plan *p, size_t first, size_t n, double *x, double *y, double *sig)
{
    nlsq_error e;
    if (p->data) {
        for (int v = 0; v < p->k; v++)
            memcpy(x + (size_t)v * n, p->data->x + (size_t)v * p->rows + first, n * sizeof *x);
        memcpy(y, p->data->y + first, n * sizeof *y);
        if (sig) memcpy(sig, p->data->sigma + first, n * sizeof *sig);
        return 0;
    }
    int bad = nlsq_source_read(p->src, p->yc, first, n, y, &e) != NLSQ_OK;
    for (int v = 0; v < p->k && !bad; v++)
        bad = nlsq_source_read(p->src, p->xc[v], first, n, x + (size_t)v * n, &e) != NLSQ_OK;
    if (!bad && sig) bad = nlsq_source_read(p->src, p->sc, first, n, sig, &e) != NLSQ_OK;
    return bad ? h5w_fail(w, e.code, "predictions: %s", e.message) : 0;
}

/* The model at popt and the residual y - fit, as --predict writes them,
   window by window: memory of one window whatever the rows. */
static void put_predictions(h5w *w, const nlsq_model *model, const nlsq_result *r, const nlsq_hdf5_write_options *o)
{
    pred_plan p;
    if (plan_predictions(w, model, o, &p) != 0 || create_columns(w, model, &p) != 0) return;
    size_t win = p.rows < PRED_WINDOW ? (p.rows ? p.rows : 1) : PRED_WINDOW;
    double *buf = malloc(win * ((size_t)p.k + 4) * sizeof *buf);
    if (!buf) {
        h5w_fail(w, NLSQ_ERR_NOMEM, "out of memory for the predictions");
        return;
    }
    for (size_t first = 0; first < p.rows && !h5w_failed(w); first += win) {
        size_t n = p.rows - first < win ? p.rows - first : win;
        double *x = buf, *y = buf + (size_t)p.k * n, *f = y + n, *res = f + n, *sig = p.sc >= 0 ? res + n : NULL;
        nlsq_error e;
        if (read_window(w, &p, first, n, x, y, sig) != 0) break;
        if (nlsq_model_eval(model, r->popt, x, n, f, NULL, &e) != NLSQ_OK) {
            h5w_fail(w, e.code, "predictions: %s", e.message);
            break;
        }
        for (size_t i = 0; i < n; i++) res[i] = y[i] - f[i];
        for (int v = 0; v < p.k; v++) h5w_column_write(w, p.slots[v], first, n, x + (size_t)v * n);
        const double *cols[4] = {y, f, res, sig};
        for (int s = 0; s < 3 + (sig != NULL); s++) h5w_column_write(w, p.slots[p.k + s], first, n, cols[s]);
    }
    free(buf);
}

/* ---- the public calls -------------------------------------------------------------- */

/* The arguments, and the refusal of a file the source reads. */
static nlsq_status check_args(const char *path, const void *model, const void *result, const nlsq_hdf5_write_options *o,
                              nlsq_error *err)
{
    if (!path || !model || !result) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "writing HDF5: path, model or result is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if ((int)o->mode < NLSQ_HDF5_REPLACE || o->mode > NLSQ_HDF5_APPEND) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: unknown mode %d", path, (int)o->mode);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (!(o->level == 0 || (o->level > 0 && o->level < 1))) { /* NaN too: not silently no intervals */
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: level %g is not in (0, 1) (0: no intervals)", path,
                  o->level);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    struct stat st;
    if (o->source && stat(path, &st) == 0 && source_reads_file(o->source, &st)) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s: is a file of the fit's data; refusing to overwrite it", path);
        return NLSQ_ERR_IO;
    }
    return NLSQ_OK;
}

nlsq_status nlsq_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                   const nlsq_result *result, const nlsq_hdf5_write_options *opt, nlsq_error *err)
{
    nlsq_error local;
    if (!err) err = &local;
    nlsq_hdf5_write_options o = opt ? *opt : nlsq_hdf5_write_options_default();
    nlsq_status st = check_args(path, model, result, &o, err);
    if (st != NLSQ_OK) return st;
    if (o.predictions && !o.data && !o.source) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "%s: predictions need the fit's data (options source and columns, or data)", path);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    h5w *w;
    if ((st = h5w_open(path, group, o.mode, o.inputs, o.n_inputs, &w, err)) != NLSQ_OK) return st;
    put_result(w, model, result, &o);
    if (o.predictions) put_predictions(w, model, result, &o);
    return h5w_close(w);
}

/* ---- a batch's table --------------------------------------------------------------- */

/* The columns after the parameters', in the CSV's order, then the rest. */
static const char *const batch_columns[] = {"status",   "chi2", "redchi", "points",     "nfev",       "trusted",
                                            "findings", "cost", "nit",    "pcov_valid", "diag_flags", "pcov"};
enum { CSV_TAIL = 7 };

/* A parameter named as a column, or as another's error column. */
static int name_clash(const nlsq_model *model, int n, char *why, size_t size)
{
    for (int j = 0; j < n; j++) {
        const char *a = nlsq_model_param_name(model, j);
        int clash = strcmp(a, "id") == 0;
        for (size_t c = 0; c < sizeof batch_columns / sizeof batch_columns[0]; c++)
            clash |= strcmp(a, batch_columns[c]) == 0;
        if (clash) {
            snprintf(why, size, "the parameter %s has the name of a column of the table", a);
            return 1;
        }
        for (int k = 0; k < n; k++) {
            const char *b = nlsq_model_param_name(model, k);
            size_t lb = strlen(b);
            if (strncmp(a, b, lb) == 0 && strcmp(a + lb, "_err") == 0) {
                snprintf(why, size, "the parameter %s has the name of %s's error column", a, b);
                return 1;
            }
        }
    }
    return 0;
}

/* Fit i's free parameters. */
static int free_params(const nlsq_batch_result *r, const nlsq_batch *b, const nlsq_hdf5_write_options *o, size_t i)
{
    const unsigned char *fixed = b && b->fixed ? b->fixed + i * (size_t)r->n : o->fit ? o->fit->fixed : NULL;
    int count = r->n;
    for (int j = 0; fixed && j < r->n; j++) count -= fixed[j] != 0;
    return count;
}

/* The findings' keys joined by '+', as the CSV writes them. */
enum { FINDINGS_ROOM = 160 };
static char *findings_text(const nlsq_batch_result *r, const char **out)
{
    char *text = malloc(r->nfits * FINDINGS_ROOM + 1);
    for (size_t i = 0; text && i < r->nfits; i++) {
        char *s = text + i * FINDINGS_ROOM;
        size_t used = 0;
        s[0] = '\0';
        for (unsigned b = 0; r->diag_flags && b < NFINDINGS; b++)
            if (r->diag_flags[i] & (1u << b))
                used += (size_t)snprintf(s + used, FINDINGS_ROOM - used, "%s%s", used ? "+" : "", finding_keys[b]);
        out[i] = s;
    }
    return text;
}

typedef struct batch_scratch {
    double *col;
    long long *ints;
    signed char *flags;
    const char **strs, **cols;
    char *errnames, *text;
} batch_scratch;

static void scratch_free(batch_scratch *s)
{
    free(s->col);
    free(s->ints);
    free(s->flags);
    free(s->strs);
    free(s->cols);
    free(s->errnames);
    free(s->text);
}

static int scratch_make(batch_scratch *s, const nlsq_batch_result *r)
{
    size_t room = r->nfits ? r->nfits : 1, n = r->n > 0 ? (size_t)r->n : 0;
    memset(s, 0, sizeof *s);
    s->col = malloc(room * sizeof *s->col);
    s->ints = malloc(room * sizeof *s->ints);
    s->flags = malloc(room);
    s->strs = malloc(room * sizeof *s->strs);
    s->cols = malloc((2 * n + CSV_TAIL + 1) * sizeof *s->cols);
    s->errnames = malloc((n ? n : 1) * 300);
    s->text = s->strs ? findings_text(r, s->strs) : NULL;
    return s->col && s->ints && s->flags && s->strs && s->cols && s->errnames && s->text ? 0 : -1;
}

/* id: ids, names, or the fit's index. */
static void put_ids(h5w *w, size_t nf, const double *ids, const char *const *names, long long *scratch)
{
    size_t dims[1] = {nf};
    if (ids) {
        h5w_doubles(w, "id", ids, 1, dims);
    } else if (names) {
        h5w_strings(w, "id", names, nf);
    } else {
        for (size_t i = 0; i < nf; i++) scratch[i] = (long long)i;
        h5w_ints(w, "id", H5W_I64, scratch, 1, dims);
    }
}

/* NAME and NAME_err per parameter; their names appended to s->cols. */
static size_t put_param_columns(h5w *w, const nlsq_model *model, const nlsq_batch_result *r, batch_scratch *s,
                                size_t nc)
{
    size_t nf = r->nfits, dims[1] = {nf};
    int n = r->n;
    for (int j = 0; j < n; j++) {
        char *en = s->errnames + (size_t)j * 300;
        snprintf(en, 300, "%s_err", nlsq_model_param_name(model, j));
        s->cols[nc++] = nlsq_model_param_name(model, j);
        s->cols[nc++] = en;
        for (size_t i = 0; i < nf; i++) s->col[i] = r->popt[i * (size_t)n + (size_t)j];
        h5w_doubles(w, s->cols[nc - 2], s->col, 1, dims);
        for (size_t i = 0; i < nf; i++) s->col[i] = r->perr ? r->perr[i * (size_t)n + (size_t)j] : NAN;
        h5w_doubles(w, en, s->col, 1, dims);
    }
    return nc;
}

static void put_batch(h5w *w, const nlsq_model *model, const nlsq_batch_result *r, const nlsq_batch *b,
                      const double *ids, const char *const *names, const nlsq_hdf5_write_options *o)
{
    batch_scratch s;
    if (scratch_make(&s, r) != 0) {
        scratch_free(&s);
        h5w_fail(w, NLSQ_ERR_NOMEM, "out of memory");
        return;
    }
    size_t nf = r->nfits, dims[3] = {nf, (size_t)r->n, (size_t)r->n}, nc = 0;
    attrs_common(w, model, r->method, o->fit ? o->fit->absolute_sigma : 0, o, "nlsq_batch_result");
    put_ids(w, nf, ids, names, s.ints);
    s.cols[nc++] = "id";
    nc = put_param_columns(w, model, r, &s, nc);
    for (size_t c = 0; c < CSV_TAIL; c++) s.cols[nc++] = batch_columns[c];
    for (size_t i = 0; i < nf; i++) s.ints[i] = r->status[i];
    h5w_ints(w, "status", H5W_I64, s.ints, 1, dims);
    h5w_doubles(w, "chi2", r->chi2, 1, dims);
    for (size_t i = 0; i < nf; i++) {
        int k = free_params(r, b, o, i);
        s.col[i] = r->m[i] > (size_t)k ? r->chi2[i] / (double)(r->m[i] - (size_t)k) : NAN;
    }
    h5w_doubles(w, "redchi", s.col, 1, dims);
    for (size_t i = 0; i < nf; i++) s.ints[i] = (long long)r->m[i];
    h5w_ints(w, "points", H5W_I64, s.ints, 1, dims);
    h5w_ints(w, "nfev", H5W_I32, r->nfev, 1, dims);
    for (size_t i = 0; i < nf; i++) s.flags[i] = r->diag_flags ? !(r->diag_flags[i] & NLSQ_DIAG_UNTRUSTED) : -1;
    h5w_ints(w, "trusted", H5W_I8, s.flags, 1, dims);
    h5w_strings(w, "findings", s.strs, nf);
    h5w_doubles(w, "cost", r->cost, 1, dims);
    h5w_ints(w, "nit", H5W_I32, r->nit, 1, dims);
    h5w_ints(w, "pcov_valid", H5W_U8, r->pcov_valid, 1, dims);
    if (r->diag_flags) h5w_ints(w, "diag_flags", H5W_U32, r->diag_flags, 1, dims);
    if (r->pcov) h5w_doubles(w, "pcov", r->pcov, 3, dims);
    h5w_attr_strings(w, NULL, "columns", s.cols, nc);
    scratch_free(&s);
}

nlsq_status nlsq_batch_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                         const nlsq_batch_result *result, const nlsq_batch *batch, const double *ids,
                                         const char *const *names, const nlsq_hdf5_write_options *opt, nlsq_error *err)
{
    nlsq_error local;
    if (!err) err = &local;
    nlsq_hdf5_write_options o = opt ? *opt : nlsq_hdf5_write_options_default();
    nlsq_status st = check_args(path, model, result, &o, err);
    if (st != NLSQ_OK) return st;
    char why[200];
    if (name_clash(model, result->n, why, sizeof why)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", path, why);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    h5w *w;
    if ((st = h5w_open(path, group, o.mode, o.inputs, o.n_inputs, &w, err)) != NLSQ_OK) return st;
    put_batch(w, model, result, batch, ids, names, &o);
    return h5w_close(w);
}
