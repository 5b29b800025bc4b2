/*
 * The fit pipeline of `nlsq fit` and `nlsq demo`: one path for every kind
 * of data, because every table is a source (load.c). The fit runs on the
 * source; --predict streams it window by window; --plot samples at most
 * PLOT_POINTS rows of it; the report comes last.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "present.h"
#include "progress.h"

/* --plot draws at most this many rows, evenly spaced. */
#define PLOT_POINTS 20000
/* ... and the first components of a model of library shapes, each as a
   curve of its own (with one variable) */
#define PLOT_COMPONENTS 8

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The components shown on their own (--predict's columns, --plot's
   curves): those of a model of two or more library shapes, else none. */
static int shown_components(const nlsq_model *m)
{
    int n = nlsq_model_num_components(m);
    return n >= 2 ? n : 0;
}

/* Component c's values at n points into f (0, or -1 with err set). */
static int eval_component(const nlsq_model *m, int c, const double *p, const double *x, size_t n, double *f,
                          nlsq_error *err)
{
    nlsq_component comp;
    if (nlsq_model_component(m, c, &comp, err) != NLSQ_OK) return -1;
    return nlsq_model_eval(comp.value, p, x, n, f, NULL, err) == NLSQ_OK ? 0 : -1;
}

/* --predict: the x columns, y, fit and residual of every row (and each
   component's value, for a model of two or more library shapes), window
   by window, never all rows at once. The header's names are CSV fields (a
   column named "t, s" stays one column). 0, or 2 after printing why;
   write errors are found when the file is committed. */
static int write_predictions(FILE *out, const cli *c, const dataset *d, const nlsq_result *r)
{
    enum { WIN = 65536 };
    int k = d->k, rc = 0, ncomp = shown_components(d->m);
    size_t rows = nlsq_source_num_rows(d->src);
    double *x = malloc((size_t)WIN * (size_t)(k ? k : 1) * sizeof *x), *y = malloc(WIN * sizeof *y),
           *f = malloc(WIN * (size_t)(1 + ncomp) * sizeof *f), *band = malloc(4 * WIN * sizeof *band),
           *sig = d->sc >= 0 ? malloc(WIN * sizeof *sig) : NULL;
    if (!x || !y || !f || !band || (d->sc >= 0 && !sig)) {
        rc = die("out of memory for --predict");
        goto done;
    }
    for (int v = 0; v < k; v++) {
        csv_field(out, nlsq_source_column_name(d->src, d->xc[v]));
        fputc(',', out);
    }
    csv_field(out, nlsq_source_column_name(d->src, d->yc));
    fputs(",fit,residual", out);
    for (int ci = 0; ci < ncomp; ci++) {
        char label[96];
        component_label(d->m, ci, label, sizeof label);
        fputc(',', out);
        csv_field(out, label);
    }
    fputs(",conf_lower,conf_upper,pred_lower,pred_upper", out);
    fputc('\n', out);
    nlsq_error err;
    for (size_t first = 0; first < rows && !rc; first += WIN) {
        size_t n = rows - first < WIN ? rows - first : WIN;
        int failed = nlsq_source_read(d->src, d->yc, first, n, y, &err) != NLSQ_OK;
        for (int v = 0; v < k && !failed; v++)
            failed = nlsq_source_read(d->src, d->xc[v], first, n, x + (size_t)v * n, &err) != NLSQ_OK;
        if (!failed && sig) failed = nlsq_source_read(d->src, d->sc, first, n, sig, &err) != NLSQ_OK;
        if (!failed) failed = nlsq_model_eval(d->m, r->popt, x, n, f, NULL, &err) != NLSQ_OK;
        for (int ci = 0; ci < ncomp && !failed; ci++)
            failed = eval_component(d->m, ci, r->popt, x, n, f + (size_t)(ci + 1) * n, &err) != 0;
        if (!failed)
            failed = bands_limits(d->m, r, bands_level(c), x, sig, n, band, band + n, band + 2 * n, band + 3 * n,
                                  &err) != 0;
        if (failed) {
            rc = die("--predict: %s", err.message);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            for (int v = 0; v < k; v++) fprintf(out, "%.17g,", x[(size_t)v * n + i]);
            fprintf(out, "%.17g,%.17g,%.17g", y[i], f[i], y[i] - f[i]);
            for (int ci = 0; ci < ncomp; ci++) fprintf(out, ",%.17g", f[(size_t)(ci + 1) * n + i]);
            for (int b = 0; b < 4; b++) fprintf(out, ",%.17g", band[(size_t)b * n + i]);
            fputc('\n', out);
        }
    }
done:
    free(x);
    free(y);
    free(f);
    free(band);
    free(sig);
    return rc;
}

/* n rows of column col, every step-th from the first, into out. */
static int read_sampled(nlsq_source *src, int col, size_t step, size_t n, double *out, const char *what)
{
    nlsq_error err;
    nlsq_status st = NLSQ_OK;
    if (step == 1) st = nlsq_source_read(src, col, 0, n, out, &err);
    for (size_t i = 0; step > 1 && i < n && st == NLSQ_OK; i++)
        st = nlsq_source_read(src, col, i * step, 1, &out[i], &err);
    return st == NLSQ_OK ? 0 : die("%s: %s", what, err.message);
}

/* The rows the plot shows: x (k rows), y, sigma (or NULL), the fit and the
   residuals. */
typedef struct sample {
    size_t n;
    double *x, *y, *sigma, *fit, *res;
} sample;

static void sample_free(sample *s)
{
    free(s->x);
    free(s->y);
    free(s->sigma);
    free(s->fit);
    free(s->res);
}

static int sample_read(const dataset *d, const nlsq_result *r, sample *s)
{
    size_t rows = nlsq_source_num_rows(d->src), step = rows > PLOT_POINTS ? (rows + PLOT_POINTS - 1) / PLOT_POINTS : 1;
    size_t n = (rows + step - 1) / step, room = n ? n : 1;
    int k = d->k;
    memset(s, 0, sizeof *s);
    s->n = n;
    s->x = malloc(room * (size_t)(k ? k : 1) * sizeof *s->x);
    s->y = malloc(room * sizeof *s->y);
    s->sigma = d->sc >= 0 ? malloc(room * sizeof *s->sigma) : NULL;
    s->fit = malloc(room * sizeof *s->fit);
    s->res = malloc(room * sizeof *s->res);
    if (!s->x || !s->y || (d->sc >= 0 && !s->sigma) || !s->fit || !s->res) return die("out of memory for --plot");
    int rc = read_sampled(d->src, d->yc, step, n, s->y, "--plot");
    for (int v = 0; v < k && !rc; v++) rc = read_sampled(d->src, d->xc[v], step, n, s->x + (size_t)v * n, "--plot");
    if (!rc && s->sigma) rc = read_sampled(d->src, d->sc, step, n, s->sigma, "--plot");
    if (rc) return rc;
    nlsq_error err;
    if (nlsq_model_eval(d->m, r->popt, s->x, n, s->fit, NULL, &err) != NLSQ_OK) return die("--plot: %s", err.message);
    for (size_t i = 0; i < n; i++) s->res[i] = s->y[i] - s->fit[i];
    return 0;
}

/* The plot's shaded bands on the grid: the confidence band, the
   prediction band where no sigma column is given (the variance of a new
   measurement needs its sigma at each grid x, which a sigma column gives
   only at the data: --predict has it row by row), and each component's
   confidence band. 0: none drawn (no covariance), 1: confidence only,
   2: both. */
static int plot_bands(const cli *c, const dataset *d, const nlsq_result *r, const double *gx, size_t ngrid, int ncomp,
                      double *gb, double *gcb)
{
    if (!r->pcov_valid) return 0;
    int pred = d->sc < 0;
    if (bands_limits(d->m, r, bands_level(c), gx, NULL, ngrid, gb, gb + ngrid, pred ? gb + 2 * ngrid : NULL,
                     pred ? gb + 3 * ngrid : NULL, NULL) != 0)
        return 0;
    for (int ci = 0; ci < ncomp; ci++) {
        nlsq_component comp;
        double *lo = gcb + (size_t)ci * ngrid, *hi = gcb + (size_t)(ncomp + ci) * ngrid;
        if (nlsq_model_component(d->m, ci, &comp, NULL) != NLSQ_OK ||
            bands_limits(comp.value, r, bands_level(c), gx, NULL, ngrid, lo, hi, NULL, NULL, NULL) != 0)
            for (size_t i = 0; i < ngrid; i++) lo[i] = hi[i] = NAN;
    }
    return 1 + pred;
}

/* --plot: data, the fitted curve on a fine grid (one variable) or at the
   points (several, against the point index), and residuals. 0, or 2
   (after printing why, or to be named when the file is committed). */
static int write_plot(FILE *out, const cli *c, const dataset *d, const nlsq_result *r)
{
    enum { GRID = 400 };
    sample s;
    double gx[GRID], gf[GRID], gc[PLOT_COMPONENTS * GRID], *idx = NULL;
    /* the bands: confidence and prediction of the fit, confidence of each
       component (lower then upper) */
    double gb[4 * GRID], gcb[2 * PLOT_COMPONENTS * GRID];
    int bands = 0;
    int ncomp = shown_components(d->m) < PLOT_COMPONENTS ? shown_components(d->m) : PLOT_COMPONENTS;
    char comp_names[PLOT_COMPONENTS][96];
    size_t ngrid = 0;
    int rc = sample_read(d, r, &s);
    if (rc) goto done;
    if (d->k == 1) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < s.n; i++)
            if (isfinite(s.x[i]) && (!c->logx || s.x[i] > 0)) {
                lo = fmin(lo, s.x[i]);
                hi = fmax(hi, s.x[i]);
            }
        if (lo <= hi) {
            for (int g = 0; g < GRID; g++) {
                double t = (double)g / (GRID - 1);
                gx[g] = c->logx ? lo * pow(hi / lo, t) : lo + t * (hi - lo);
            }
            nlsq_model_eval(d->m, r->popt, gx, GRID, gf, NULL, NULL);
            for (int ci = 0; ci < ncomp; ci++) {
                eval_component(d->m, ci, r->popt, gx, GRID, gc + (size_t)ci * GRID, NULL);
                component_label(d->m, ci, comp_names[ci], sizeof comp_names[ci]);
            }
            ngrid = GRID;
            bands = plot_bands(c, d, r, gx, GRID, ncomp, gb, gcb);
        }
    } else {
        if (!(idx = malloc((s.n ? s.n : 1) * sizeof *idx))) {
            rc = die("out of memory for --plot");
            goto done;
        }
        for (size_t i = 0; i < s.n; i++) idx[i] = (double)i;
    }
    int np = d->n;
    char lines[16][96];
    plot_data pd = {c->model,
                    d->k == 1 ? nlsq_source_column_name(d->src, d->xc[0]) : "point index",
                    nlsq_source_column_name(d->src, d->yc),
                    d->k == 1 ? s.x : idx,
                    s.y,
                    s.sigma,
                    s.fit,
                    s.res,
                    s.n,
                    gx,
                    gf,
                    ngrid,
                    c->logx,
                    c->logy,
                    {0},
                    0,
                    gc,
                    ngrid ? ncomp : 0,
                    {0},
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    0};
    for (int ci = 0; ci < pd.ncomp; ci++) pd.comp_names[ci] = comp_names[ci];
    if (bands) {
        pd.level = bands_level(c);
        pd.conf_lo = gb, pd.conf_hi = gb + GRID;
        if (bands > 1) pd.pred_lo = gb + 2 * GRID, pd.pred_hi = gb + 3 * GRID;
        if (pd.ncomp) pd.comp_lo = gcb, pd.comp_hi = gcb + (size_t)ncomp * GRID;
    }
    for (int j = 0; j < np && pd.nlegend < 14; j++) {
        snprintf(lines[pd.nlegend], sizeof lines[0], "%s = %.6g \xc2\xb1 %.3g", nlsq_model_param_name(d->m, j),
                 r->popt[j], r->perr[j]);
        pd.legend[pd.nlegend] = lines[pd.nlegend];
        pd.nlegend++;
    }
    if (np > 14) pd.legend[pd.nlegend++] = "...";
    snprintf(lines[15], sizeof lines[15], "reduced chi-square %.4g, R\xc2\xb2 %.5f", r->redchi, r->r2);
    pd.legend[pd.nlegend++] = lines[15];
    if (svg_write(out, &pd) != 0) rc = 2; /* the commit names the error */
done:
    sample_free(&s);
    free(idx);
    return rc;
}

static void note_backend(const nlsq_result *r)
{
    if (strcmp(r->backend, "interp") == 0 && r->backend_note[0])
        fprintf(stderr, "nlsq: note: no compiled kernel (%s); the interpreter ran the fit\n", r->backend_note);
}

/* Every file the fit will write, checked before any work (reading a large
   text file converts it, a fit may take hours): writable, not a directory,
   not one of the data files, no two the same. The checkpoint and the
   column cache are the library's to write, but only the command knows the
   inputs. */
static int check_outputs(const cli *c)
{
    const char *inputs[MAX_DATA_FILES];
    size_t n = 0;
    if (!c->text) { /* the demo's data is no file */
        inputs[n++] = c->data;
        for (int k = 0; k < c->nmore; k++) inputs[n++] = c->more[k];
    }
    const char *cache = c->column_cache && strcmp(c->column_cache, "auto") != 0 ? c->column_cache : NULL;
    char names[4096] = "";
    if (cache) snprintf(names, sizeof names, "%s.names", cache);
    const output_file outs[] = {{"--predict", c->predict},
                                {"--plot", c->plot},
                                {c->opt.resume ? "--resume" : "--checkpoint", c->checkpoint},
                                {"--column-cache", cache},
                                {"--column-cache", cache ? names : NULL},
                                {"--profile2d-plot", c->prof.plot},
                                {"--chain", c->mcmc.chain},
                                {"--corner", c->mcmc.corner},
                                {"--bootstrap-out", c->bootstrap_out},
                                {"--output", c->h5.path}};
    int rc = output_must_be_file(outs[2].option, c->checkpoint);
    if (!rc) rc = output_must_be_file("--column-cache", cache);
    return rc ? rc : outputs_check(outs, sizeof outs / sizeof outs[0], inputs, n);
}

/* --predict and --plot after the fit: both opened first (a FIFO waits for
   its reader there), then written, then committed, so that one failing
   leaves the other. 0, or 2 after naming each output that failed. */
static int write_outputs(const cli *c, const dataset *d, const nlsq_result *r)
{
    if (!cli_writes(c)) return 0; /* process 0 of a group writes them */
    nlsq_output *pred = c->predict ? output_open("--predict", c->predict) : NULL;
    nlsq_output *plot = c->plot ? output_open("--plot", c->plot) : NULL;
    int rc = (c->predict && !pred) || (c->plot && !plot) ? 2 : 0;
    int pred_rc = pred ? write_predictions(nlsq_output_stream(pred), c, d, r) : 0;
    int plot_rc = plot ? write_plot(nlsq_output_stream(plot), c, d, r) : 0;
    /* a failed write is named by the commit; a failure of our own (out of
       memory, the model not finite at a row) was named already */
    if (pred && pred_rc && !ferror(nlsq_output_stream(pred))) {
        nlsq_output_discard(pred);
        pred = NULL;
        rc = 2;
    }
    if (plot && plot_rc && !ferror(nlsq_output_stream(plot))) {
        nlsq_output_discard(plot);
        plot = NULL;
        rc = 2;
    }
    if (pred && output_commit("--predict", pred)) rc = 2;
    if (plot && output_commit("--plot", plot)) rc = 2;
    if (c->h5.path && hdf5_output_write(c, d, r)) rc = 2;
    return rc;
}

/* Most rows the start-value estimators read (evenly strided): they thin
   curves to a few thousand points anyway, and a file of 10^9 rows should
   not be read twice for a start. */
#define GUESS_POINTS 200000

/* po->p0 estimated from the data where not given (po->estimate), for a
   sum of library components; po->search set where that cannot be done
   (other model text, or an estimate that failed): the start is then
   searched for (start_search). 0, or the exit status. */
static int estimate_p0(const cli *c, const dataset *d, param_opts *po)
{
    if (nlsq_model_num_components(d->m) == 0) {
        po->search = 1;
        snprintf(po->why, sizeof po->why, "the model is not a sum of library shapes");
        return 0;
    }
    size_t rows = nlsq_source_num_rows(d->src), step = rows > GUESS_POINTS ? (rows + GUESS_POINTS - 1) / GUESS_POINTS : 1;
    size_t n = (rows + step - 1) / step;
    double *x = malloc((n * (size_t)d->k + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
    int rc = !x || !y ? die("out of memory") : 0;
    for (int v = 0; !rc && v < d->k; v++) rc = read_sampled(d->src, d->xc[v], step, n, x + (size_t)v * n, "--p0 auto");
    if (!rc) rc = read_sampled(d->src, d->yc, step, n, y, "--p0 auto");
    if (!rc) {
        nlsq_data data = {x, y, n, NULL, NLSQ_SIGMA_NONE};
        nlsq_error err;
        if (nlsq_guess_p0(d->m, &data, po->p0, po->p0, &err) != NLSQ_OK) {
            po->search = 1;
            snprintf(po->why, sizeof po->why, "no start values could be estimated (%.250s)", err.message);
        } else if (c->verbose) {
            fprintf(stderr, "nlsq: start values estimated from %zu of %zu rows\n", n, rows);
        }
    }
    free(x);
    free(y);
    return rc;
}

/* Most bytes of data the automatic search holds in memory: beyond it a
   start without values falls back to SciPy's rule (a fit of any size
   streams its data; the search does not). */
#define SEARCH_MAX_BYTES ((size_t)4 << 30)

/* Why the automatic search cannot run here (NULL: it can). */
static const char *search_refused(const cli *c, const dataset *d)
{
    size_t rows = nlsq_source_num_rows(d->src), bytes = rows * (size_t)(d->k + 2) * sizeof(double);
    return c->checkpoint              ? "--checkpoint and --resume do not go with a search"
           : bytes > SEARCH_MAX_BYTES ? "the data are too large to hold for a search"
                                      : NULL;
}

/* The automatic search: --global's defaults, with a design that has room
   for the free parameters (Sobol has 21 dimensions, Halton 64). */
static void auto_search(cli *c, const nlsq_model *m, const param_opts *po)
{
    int n = nlsq_model_num_params(m), nfree = 0;
    for (int j = 0; j < n; j++) nfree += !po->fixed[j];
    c->gopt.starts = nlsq_global_options_default().starts;
    c->gopt.design = nfree <= NLSQ_SOBOL_MAX_DIMS    ? NLSQ_DESIGN_SOBOL
                     : nfree <= NLSQ_HALTON_MAX_DIMS ? NLSQ_DESIGN_HALTON
                                                     : NLSQ_DESIGN_LHS;
}

/* --p0 auto asked for start values the estimators cannot make (po->why): a
   global search instead, or an error (2) where none can run. */
static int start_search(cli *c, const dataset *d, const param_opts *po)
{
    const char *why = search_refused(c, d);
    if (why) return die("--p0 auto: %s, and %s", po->why, why);
    auto_search(c, d->m, po);
    if (!c->quiet)
        fprintf(stderr, "nlsq: --p0 auto: %s: a global search of %d starts (as --global %d --design %s)\n", po->why,
                c->gopt.starts, c->gopt.starts, nlsq_design_name(c->gopt.design));
    return 0;
}

/* The search that replaces a fit from all ones (no --p0, none estimated),
   `what` saying why; *r (NULL or that fit) is replaced where the search
   finds a cost no higher. 0, or the exit status. */
static int search_instead(cli *c, const dataset *d, const param_opts *po, const char *what, nlsq_result **r)
{
    auto_search(c, d->m, po);
    if (!c->quiet)
        fprintf(stderr,
                "nlsq: the fit from all ones (no --p0) %s: a global search of %d starts instead (as --global %d; "
                "give --p0 to start from your values)\n",
                what, c->gopt.starts, c->gopt.starts);
    nlsq_result *searched = NULL;
    int rc = fit_global_run(c, d, &searched);
    if (rc == 0 && (!*r || searched->cost <= (*r)->cost)) {
        nlsq_result_free(*r);
        *r = searched;
    } else {
        nlsq_result_free(searched);
    }
    return rc;
}

/* No start values given and none estimated: the fit from SciPy's rule (all
   ones) stands when it converged, can be trusted and leaves no structure in
   its residuals; otherwise the search runs (search_instead). */
static int search_if_untrusted(cli *c, const dataset *d, const param_opts *po, nlsq_result **r)
{
    const nlsq_result *first = *r;
    /* a fit stopped by a budget the user set was stopped as asked; one
       whose residuals show structure may sit in a wrong local minimum (a
       sine's frequency): searched too, and kept where nothing is lower */
    int structure = (first->diag.flags & NLSQ_DIAG_RESIDUAL_STRUCTURE) != 0;
    int asked_budget = first->status == NLSQ_FIT_MAX_NFEV && c->opt.max_nfev > 0;
    if ((first->success && first->diag.trusted && !structure) || asked_budget) return 0;
    const char *why = search_refused(c, d);
    if (why) {
        if (!c->quiet) fprintf(stderr, "nlsq: the fit from all ones (no --p0) is in doubt; no search, as %s\n", why);
        return 0;
    }
    return search_instead(c, d, po,
                          !first->success        ? "did not converge"
                          : !first->diag.trusted ? "cannot be trusted"
                                                 : "leaves structure in the residuals",
                          r);
}

int fit_run(cli *c)
{
    dataset d;
    param_opts po = {0};
    nlsq_result *r = NULL;
    nlsq_derived *derived = NULL;
    derive_list dl = {0};
    nlsq_mcmc_result *mc = NULL;
    nlsq_bootstrap_result *boot = NULL;
    nlsq_error err;
    profile_out prof = {0};
    /* the outputs are process 0's to write, and so to check */
    int rc = cli_writes(c) ? check_outputs(c) : 0;
    if (!rc) rc = profile_check(c);
    if (!rc) rc = hdf5_output_check(c);
    if ((rc = cli_lead(c, rc))) return rc;
    rc = dataset_load(c, 1, &d);
    if (rc || (rc = param_opts_parse(c, d.m, &po)) || (rc = derive_list_make(c, d.m, &dl))) goto done;
    if (c->per_rank && (po.estimate || po.search || c->gopt.starts || c->bootstrap || c->mcmc.steps || c->predict ||
                        c->plot || c->h5.predictions)) {
        rc = die("--per-rank fits from the pieces alone, where no rank holds every row: give --p0 for every "
                 "parameter, and leave out --global, --bootstrap, --mcmc, --predict, --plot and "
                 "--output-predictions");
        goto done;
    }
    if (po.estimate && c->gopt.starts == 0 && (rc = estimate_p0(c, &d, &po))) goto done;
    if (po.search && po.estimate == 2 && (rc = start_search(c, &d, &po))) goto done;
    nlsq_columns cols = nlsq_columns_default();
    cols.x = d.xc;
    cols.y = d.yc;
    cols.sigma = d.sc;
    c->opt.checkpoint = c->checkpoint;
    watcher w;
    if (!cli_writes(c)) c->progress = -1; /* its stderr goes nowhere */
    watcher_start(&w, c, &c->opt);
    size_t bytes = 0;
    if (c->verbose && nlsq_fit_memory(d.m, d.src, &cols, &c->opt, &bytes, &err) == NLSQ_OK)
        fprintf(stderr, "nlsq: %s\nnlsq: the fit needs %.1f MB of working memory (the data are not held)\n",
                nlsq_source_describe(d.src), (double)bytes / 1e6);
    double t0 = now();
    if (c->gopt.starts > 0) {
        rc = fit_global_run(c, &d, &r);
        watcher_clear(&w);
        if (rc) goto done;
    } else {
        nlsq_status st = nlsq_fit_source(d.m, d.src, &cols, &c->opt, &r, &err);
        watcher_clear(&w);
        /* all ones that cannot be evaluated (log(x - 1) at x < 1) are no
           start at all: where none was given, it is searched for */
        if (st == NLSQ_ERR_MODEL_NONFINITE && po.search && !search_refused(c, &d)) {
            rc = search_instead(c, &d, &po, "cannot be evaluated (NaN or Inf there)", &r);
            if (rc) goto done;
        } else if (st != NLSQ_OK) {
            rc = die("%s", err.message);
            goto done;
        } else if (po.search && (rc = search_if_untrusted(c, &d, &po, &r))) {
            goto done;
        }
    }
    note_backend(r);
    if (c->verbose && r->resumed_evaluations)
        fprintf(stderr, "nlsq: resumed from %s: %d evaluations taken from it\n", c->checkpoint, r->resumed_evaluations);
    double fit_seconds = now() - t0;
    if (dl.count && nlsq_derive(d.m, r, (const char *const *)dl.exprs, dl.count, &derived, &err) != NLSQ_OK) {
        rc = die("--derive: %s", err.message);
        goto done;
    }
    /* the profiles' plot and the chain's files are process 0's: its
       status goes to all before the next collective step */
    if ((rc = cli_agree(c, profile_run(c, &d, &cols, r, &prof)))) goto done;
    if (c->mcmc.steps) { /* the bar (--progress) shows the sampler's steps */
        rc = cli_agree(c, fit_mcmc_run(c, &d, r, &mc));
        watcher_clear(&w);
        if (rc) goto done;
    }
    if (c->bootstrap && (rc = fit_bootstrap_run(c, &d, r, &boot))) goto done;
    report_info info = {.model_text = c->model,
                        .data_name = c->data,
                        .points_total = nlsq_source_num_rows(d.src),
                        .fit_seconds = fit_seconds,
                        .fixed = po.fixed,
                        .full_correlation = c->full_correlation,
                        .level = bands_level(c),
                        .derived = derived,
                        .profile = &prof,
                        .mcmc = mc,
                        .bootstrap = boot};
    /* an output that fails now (a full disk) does not take the result with
       it: the report is printed all the same, and the status says 2 */
    int outputs_rc = write_outputs(c, &d, r);
    int prints = cli_writes(c); /* (a rank's stdout but 0's goes nowhere) */
    if (prints && c->json)
        report_json(stdout, &info, d.m, r);
    else if (prints && !c->quiet)
        report_text(stdout, &info, d.m, r);
    rc = outputs_rc ? outputs_rc : !r->success ? 1 : !r->diag.trusted && !c->accept_untrusted ? EXIT_UNTRUSTED : 0;
done:
    nlsq_derived_free(derived);
    derive_list_free(&dl);
    profile_out_free(&prof);
    nlsq_mcmc_result_free(mc);
    nlsq_bootstrap_result_free(boot);
    nlsq_result_free(r);
    dataset_free(&d);
    param_opts_free(&po);
    return rc;
}
