/*
 * The nlsq command. This first version has `nlsq fit`: read a table, fit a
 * model, print the parameters with standard errors and the verdict.
 *
 * Exit status: 0 converged; 1 the fit ran but did not converge (status
 * <= 0; outputs are still written); 2 bad usage or input; 3 an error in the
 * model text (with its line and column).
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r, clock_gettime, fmemopen, sysconf */
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "demo_data.h"
#include "exec/exec.h"
#include "exec/jit.h"
#include "fit/source.h"
#include "gpu/gpu.h"
#include "io/io.h"
#include "nlsq.h"
#include "cli.h"

static const char *USAGE =
    "usage: nlsq fit DATA [DATA...] --model EXPR [options]\n"
    "       nlsq batch DATA --model EXPR [--id COL] [--out FILE] [fit's options]\n"
    "           one fit per curve: every column after x (wide layout), or the\n"
    "           rows grouped by --id COL (long layout); a result row per fit as\n"
    "           CSV or JSON lines (--format csv|jsonl) and a summary on stderr\n"
    "       nlsq eval DATA --model EXPR [--p0 a=1,...] [--jacobian] [--vars ...] [--params ...] [--x COL,...]\n"
    "           the model (and with --jacobian its derivative columns) at the data's\n"
    "           points, as CSV on stdout; parameters not in --p0 are 1\n"
    "       nlsq diff EXPR [--vars x,y] [--params a,b,...]\n"
    "           the parameters, variables and every partial derivative dF/dp, as\n"
    "           the model language (what the automatic differentiation computed)\n"
    "       nlsq demo [--plot FILE.svg]\n"
    "           a real fit of the bundled example data, with report and plot\n"
    "           (default plot file: nlsq-demo.svg in the current directory)\n"
    "       nlsq devices\n"
    "           the compute devices nlsq can use\n"
    "       nlsq cache [clear]\n"
    "           the caches of compiled kernels and of text tables' columns: where,\n"
    "           how many; clear removes them\n"
    "       nlsq --version | nlsq help | nlsq COMMAND --help\n"
    "\n"
    "Fit a model to the columns of a data file (comma, semicolon, tab or\n"
    "whitespace separated; '#' comments; optional header row; '-' = stdin).\n"
    "\n"
    "  --model EXPR        the model, e.g. 'a*exp(-b*x) + c' (required)\n"
    "  --vars x[,y...]     independent variable names (default x)\n"
    "  --params a,b,...    parameter order (default: order of appearance)\n"
    "  --delimiter D       force the separator: ',', ';', tab or space (default:\n"
    "                      found on the first data line); .npy files are read too\n"
    "  --x COL[,COL...]    x column(s) by header name or 1-based number\n"
    "                      (default: the first columns, one per variable)\n"
    "  --y COL             y column (default: the column after the x columns)\n"
    "  --sigma COL         per-point standard deviations of y\n"
    "  --p0 a=1,b=0.5      start values (default: SciPy's rule: 1, or from bounds)\n"
    "  --bounds b=0:inf    bounds lo:hi per parameter (inf, -inf allowed)\n"
    "  --fix c=0           hold parameters at the given values\n"
    "  --method trf|lm     solver (default trf)\n"
    "  --loss NAME         linear, soft_l1, huber, cauchy or arctan\n"
    "  --f-scale S         scale of the robust loss (default 1)\n"
    "  --ftol T, --xtol T, --gtol T   tolerances (default 1e-15)\n"
    "  --max-nfev N        evaluation limit\n"
    "  --absolute-sigma    sigma is absolute: pcov is not rescaled\n"
    "  --nan-policy P      raise (default: NaN/Inf in the data is an error) or omit\n"
    "                      (rows with NaN/Inf are left out; empty, NA and nan\n"
    "                      fields read as NaN)\n"
    "  --json              the result as JSON on stdout (keys: docs/cli.md)\n"
    "  --predict FILE.csv  write x, y, fit and residual for every row\n"
    "  --plot FILE.svg     data, fitted curve and residuals as an SVG picture\n"
    "  --plot-logx, --plot-logy   logarithmic axes in the plot\n"
    "  --correlation full  list every correlation (default: |c| > 0.1)\n"
    "  --verbose           one line per iteration on stderr: cost, reduction,\n"
    "                      step norm, optimality; and the memory the fit will use\n"
    "  --progress, --no-progress   a progress bar on stderr (default: when stderr\n"
    "                      is a terminal and the fit takes over a second)\n"
    "  --checkpoint FILE   save the fit's state after every pass (atomically)\n"
    "  --resume FILE       continue a killed fit from its checkpoint (and keep\n"
    "                      checkpointing to FILE); the answer is the same\n"
    "\n"
    "Data of any size: .npy files are memory-mapped, text files over 64 MB are\n"
    "converted once into a column cache, and neither is held in memory. Several\n"
    "data files (x.npy y.npy sigma.npy) are joined: their columns side by side,\n"
    "numbered on from one file to the next.\n"
    "  --raw DTYPE:NCOLS[:ORDER[:OFFSET]]   DATA is raw binary: f8 or f4 (add\n"
    "                      '>' for big-endian, e.g. >f8), NCOLS columns, ORDER\n"
    "                      rows (x0 y0 x1 y1 ..., default) or columns (planar),\n"
    "                      OFFSET bytes skipped at the start\n"
    "  --column-cache FILE where the text file's column cache goes ('auto': the\n"
    "                      cache directory, the default); the cache for any size\n"
    "  --in-memory         read a text file into memory whatever its size\n"
    "  --quiet             no report; the exit status tells the outcome\n"
    "  --threads N         threads for the passes (default: $NLSQ_THREADS, else all\n"
    "                      cores); results are the same for any count\n"
    "  --device D          auto (default: $NLSQ_DEVICE, else a CUDA GPU for 10^7\n"
    "                      points or more when there is one), cpu, cuda, cuda:N,\n"
    "                      cuda:all (every GPU, a share of the points each)\n"
    "  --gpu-float32       on a GPU, data and Jacobian in float32 (half the GPU\n"
    "                      memory); residuals and sums stay float64\n"
    "  --backend B         auto (default: $NLSQ_BACKEND, else a compiled kernel when\n"
    "                      one is cached or the data are large), interp, or jit\n"
    "                      (compile now); results are the same on each\n"
    "\n"
    "Exit status: 0 converged, 1 did not converge (outputs still written),\n"
    "2 bad usage or input, 3 error in the model text.\n";


int die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "nlsq: ");
    fprintf(stderr, fmt, a ? a : "", b ? b : "");
    fprintf(stderr, "\n");
    return 2;
}

int parse_args(int argc, char **argv, cli *c)
{
    memset(c, 0, sizeof *c);
    c->opt = nlsq_options_default();
    c->vars = "x";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--jacobian") == 0 || strcmp(a, "--plot-logx") == 0 || strcmp(a, "--plot-logy") == 0) {
            if (a[2] == 'j') c->jacobian = 1;
            else if (a[7] == 'x') c->logx = 1;
            else c->logy = 1;
            continue;
        }
        if (strcmp(a, "--progress") == 0 || strcmp(a, "--no-progress") == 0) {
            c->progress = a[2] == 'p' ? 1 : -1;
            continue;
        }
        if (strcmp(a, "--in-memory") == 0) {
            c->in_memory = 1;
            continue;
        }
        if (strcmp(a, "--gpu-float32") == 0) {
            c->opt.gpu_float32 = 1;
            continue;
        }
        if (strcmp(a, "--absolute-sigma") == 0 || strcmp(a, "--json") == 0 || strcmp(a, "--quiet") == 0 ||
            strcmp(a, "--verbose") == 0) {
            if (a[2] == 'a') c->opt.absolute_sigma = 1;
            if (a[2] == 'j') c->json = 1;
            if (a[2] == 'q') c->quiet = 1;
            if (a[2] == 'v') c->verbose = 1;
            continue;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (c->data && c->nmore == 15) return die("more than 16 data files%s%s", NULL, NULL);
            if (c->data) c->more[c->nmore++] = a;
            else c->data = a;
            continue;
        }
        if (i + 1 >= argc) return die("option %s needs a value%s", a, NULL);
        const char *v = argv[++i];
        if (strcmp(a, "--model") == 0) slot = &c->model;
        else if (strcmp(a, "--vars") == 0) slot = &c->vars;
        else if (strcmp(a, "--params") == 0) slot = &c->params;
        else if (strcmp(a, "--x") == 0) slot = &c->xcols;
        else if (strcmp(a, "--y") == 0) slot = &c->ycol;
        else if (strcmp(a, "--sigma") == 0) slot = &c->sigcol;
        else if (strcmp(a, "--p0") == 0) slot = &c->p0;
        else if (strcmp(a, "--bounds") == 0) slot = &c->bounds;
        else if (strcmp(a, "--fix") == 0) slot = &c->fix;
        else if (strcmp(a, "--predict") == 0) slot = &c->predict;
        else if (strcmp(a, "--plot") == 0) slot = &c->plot;
        else if (strcmp(a, "--raw") == 0) slot = &c->raw;
        else if (strcmp(a, "--column-cache") == 0) slot = &c->column_cache;
        else if (strcmp(a, "--checkpoint") == 0) slot = &c->checkpoint;
        else if (strcmp(a, "--id") == 0) slot = &c->id;
        else if (strcmp(a, "--out") == 0) slot = &c->out;
        else if (strcmp(a, "--format") == 0) slot = &c->format;
        else if (strcmp(a, "--device") == 0) c->opt.device = v;
        else if (strcmp(a, "--resume") == 0) {
            slot = &c->checkpoint;
            c->opt.resume = 1;
        }
        else if (strcmp(a, "--delimiter") == 0) {
            c->delim = !strcmp(v, ",") ? ',' : !strcmp(v, ";") ? ';' : !strcmp(v, "tab") ? '\t'
                     : !strcmp(v, "space") ? ' ' : 0;
            if (!c->delim) return die("--delimiter takes ',', ';', tab or space, got '%s'%s", v, NULL);
        }
        else if (strcmp(a, "--backend") == 0) {
            if (strcmp(v, "auto") == 0) c->opt.backend = NLSQ_BACKEND_AUTO;
            else if (strcmp(v, "interp") == 0) c->opt.backend = NLSQ_BACKEND_INTERP;
            else if (strcmp(v, "jit") == 0) c->opt.backend = NLSQ_BACKEND_JIT;
            else return die("--backend takes auto, interp or jit, got '%s'%s", v, NULL);
        }
        else if (strcmp(a, "--threads") == 0) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 1024) return die("--threads needs a count from 1 to 1024, got '%s'%s", v, NULL);
            c->opt.threads = (int)t;
        }
        else if (strcmp(a, "--correlation") == 0) {
            if (strcmp(v, "full") != 0) return die("--correlation takes 'full', got '%s'%s", v, NULL);
            c->full_correlation = 1;
        } else if (strcmp(a, "--nan-policy") == 0) {
            if (strcmp(v, "raise") == 0) c->opt.nan_policy = NLSQ_NAN_RAISE;
            else if (strcmp(v, "omit") == 0) c->opt.nan_policy = NLSQ_NAN_OMIT;
            else return die("--nan-policy takes raise or omit, got '%s'%s", v, NULL);
        } else if (strcmp(a, "--ftol") == 0 || strcmp(a, "--xtol") == 0 || strcmp(a, "--gtol") == 0) {
            char *end;
            double d = strtod(v, &end);
            if (*end || !(d >= 0)) return die("%s needs a number >= 0, got '%s'", a, v);
            if (a[2] == 'f') c->opt.ftol = d;
            else if (a[2] == 'x') c->opt.xtol = d;
            else c->opt.gtol = d;
        }
        else if (strcmp(a, "--method") == 0) {
            if (strcmp(v, "trf") == 0) c->opt.method = NLSQ_TRF;
            else if (strcmp(v, "lm") == 0) c->opt.method = NLSQ_LM;
            else if (strcmp(v, "dogbox") == 0) c->opt.method = NLSQ_DOGBOX;
            else return die("unknown --method '%s' (trf, lm or dogbox)%s", v, NULL);
        } else if (strcmp(a, "--loss") == 0) {
            static const char *names[] = {"linear", "soft_l1", "huber", "cauchy", "arctan"};
            int k = 0;
            while (k < 5 && strcmp(v, names[k]) != 0) k++;
            if (k == 5) return die("unknown --loss '%s' (linear, soft_l1, huber, cauchy or arctan)%s", v, NULL);
            c->opt.loss = (nlsq_loss)k;
        } else if (strcmp(a, "--f-scale") == 0 || strcmp(a, "--max-nfev") == 0) {
            char *end;
            double d = strtod(v, &end);
            if (*end || !(d > 0)) return die("%s needs a positive number, got '%s'", a, v);
            if (a[2] == 'f') c->opt.f_scale = d;
            else c->opt.max_nfev = (int)d;
        } else {
            return die("unknown option '%s' (see nlsq help)%s", a, NULL);
        }
        if (slot) *slot = v;
    }
    if (!c->data) return die("no data file given (see nlsq help)%s%s", NULL, NULL);
    if (c->nmore && strcmp(argv[1], "fit") != 0)
        return die("more than one data file: '%s' and '%s' (only fit joins files)", c->data, c->more[0]);
    for (int k = 0; k < c->nmore; k++)
        if (strcmp(c->more[k], "-") == 0 || strcmp(c->data, "-") == 0)
            return die("standard input cannot be joined with other data files%s%s", NULL, NULL);
    if (!c->model) return die("no --model given (see nlsq help)%s%s", NULL, NULL);
    return 0;
}

/* "a=1,b=2:3" -> per-parameter values; `two` parses lo:hi pairs. */
int parse_assignments(const char *spec, const char *option, const nlsq_model *m, double *v1, double *v2,
                             unsigned char *seen)
{
    char *copy = strdup(spec), *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            rc = die("%s: '%s' is not name=value", option, item);
            break;
        }
        *eq = '\0';
        int j = -1;
        for (int k = 0; k < nlsq_model_num_params(m); k++)
            if (strcmp(nlsq_model_param_name(m, k), item) == 0) j = k;
        if (j < 0) {
            rc = die("%s: the model has no parameter '%s'", option, item);
            break;
        }
        char *end, *val = eq + 1;
        double a = strtod(val, &end);
        if (v2) {
            if (*end != ':') {
                rc = die("%s: '%s' is not lo:hi", option, val);
                break;
            }
            double b = strtod(end + 1, &end);
            v2[j] = b;
        }
        if (*end || end == val) {
            rc = die("%s: '%s' is not a number", option, val);
            break;
        }
        v1[j] = a;
        if (seen) seen[j] = 1;
    }
    free(copy);
    return rc;
}

/* A column by name or number; prints the error itself. */
int column(const table *t, const char *key, const char *what)
{
    int c = table_find(t, key);
    if (c >= 0) return c;
    char names[512] = "";
    for (int k = 0; k < t->ncols && strlen(names) < sizeof names - 80; k++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", t->names[k]);
    fprintf(stderr, "nlsq: no column '%s' for %s in the data (columns: %s; or a number 1-%d)\n", key, what, names,
            t->ncols);
    return -1;
}

/* The x, y (when need_y) and sigma columns; 0, or 2 after printing why not. */
static int pick_columns(const cli *c, const table *t, int k, int need_y, int *xc, int *yc, int *sc)
{
    if (c->xcols) {
        char *copy = strdup(c->xcols), *save = NULL;
        int i = 0, bad = 0;
        for (char *s = strtok_r(copy, ",", &save); s && !bad; s = strtok_r(NULL, ",", &save)) {
            if (i == k) {
                bad = die("--x names more columns than the model's variables (%s)%s", c->vars, NULL);
                break;
            }
            if ((xc[i++] = column(t, s, "--x")) < 0) bad = 2;
        }
        free(copy);
        if (bad) return 2;
        if (i != k) return die("--x names fewer columns than the model's variables (%s)%s", c->vars, NULL);
    } else {
        for (int i = 0; i < k; i++) xc[i] = i;
    }
    if (!c->xcols && k > t->ncols)
        return die("the data has too few columns for the variables (%s)%s", c->vars, NULL);
    *yc = -1;
    if (need_y) {
        *yc = c->ycol ? column(t, c->ycol, "--y") : k;
        if (*yc < 0) return 2;
        if (*yc >= t->ncols) return die("the data has too few columns for the variables (%s) and y%s", c->vars, NULL);
    }
    *sc = -1;
    if (c->sigcol && (*sc = column(t, c->sigcol, "--sigma")) < 0) return 2;
    return 0;
}

typedef struct progress {
    double last_cost;
    int started;
} progress;

/* --verbose: one line per iteration on stderr (stdout may carry JSON). */
static int verbose_callback(void *user, int it, double cost, const double *p, double gnorm, double step)
{
    progress *pr = user;
    (void)p;
    fprintf(stderr, "iteration %4d  cost %.12g  ", it, cost);
    if (pr->started)
        fprintf(stderr, "reduction %.3g  ", pr->last_cost - cost);
    else
        fprintf(stderr, "reduction -  ");
    fprintf(stderr, "step %.3g  optimality %.3g\n", step, gnorm);
    pr->last_cost = cost;
    pr->started = 1;
    return 0;
}

/* --predict: x columns, y, fit and residual for every row, atomically. */
static int write_predictions(const cli *c, const nlsq_model *m, const table *t, const int *xc, int yc,
                             const double *x, const nlsq_result *r)
{
    size_t n = t->nrows;
    int k = nlsq_model_num_vars(m);
    double *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) return die("out of memory for --predict%s%s", NULL, NULL);
    nlsq_model_eval(m, r->popt, x, n, f, NULL, NULL);
    outfile o;
    if (outfile_open(&o, c->predict) != 0) {
        free(f);
        return die("--predict %s: %s", c->predict, strerror(errno));
    }
    for (int v = 0; v < k; v++) fprintf(o.f, "%s,", t->names[xc[v]]);
    fprintf(o.f, "%s,fit,residual\n", t->names[yc]);
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < k; v++) fprintf(o.f, "%.17g,", x[(size_t)v * n + i]);
        double y = t->cols[yc][i];
        fprintf(o.f, "%.17g,%.17g,%.17g\n", y, f[i], y - f[i]);
    }
    free(f);
    if (ferror(o.f)) {
        outfile_abort(&o);
        return die("--predict %s: write error%s", c->predict, NULL);
    }
    if (outfile_commit(&o) != 0) return die("--predict %s: %s", c->predict, strerror(errno));
    return 0;
}

/* --plot: data, the fitted curve on a fine grid (one variable) or at the
   points (several), and residuals, atomically. */
static int write_plot(const cli *c, const nlsq_model *m, const table *t, const int *xc, int yc, int sc,
                      const double *x, const nlsq_result *r)
{
    size_t n = t->nrows, ngrid = 0;
    int k = nlsq_model_num_vars(m), np = nlsq_model_num_params(m), rc = 0;
    enum { GRID = 400 };
    double *fit = malloc((n ? n : 1) * sizeof *fit), *res = malloc((n ? n : 1) * sizeof *res);
    double *idx = k == 1 ? NULL : malloc((n ? n : 1) * sizeof *idx), gx[GRID], gf[GRID];
    if (!fit || !res || (k != 1 && !idx)) {
        rc = die("out of memory for --plot%s%s", NULL, NULL);
        goto done;
    }
    nlsq_model_eval(m, r->popt, x, n, fit, NULL, NULL);
    for (size_t i = 0; i < n; i++) res[i] = t->cols[yc][i] - fit[i];
    if (k == 1) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (isfinite(x[i]) && (!c->logx || x[i] > 0)) {
                lo = fmin(lo, x[i]);
                hi = fmax(hi, x[i]);
            }
        if (lo <= hi) {
            for (int g = 0; g < GRID; g++) {
                double s = (double)g / (GRID - 1);
                gx[g] = c->logx ? lo * pow(hi / lo, s) : lo + s * (hi - lo);
            }
            nlsq_model_eval(m, r->popt, gx, GRID, gf, NULL, NULL);
            ngrid = GRID;
        }
    } else {
        for (size_t i = 0; i < n; i++) idx[i] = (double)i;
    }
    char lines[16][96];
    plot_data pd = {c->model, k == 1 ? t->names[xc[0]] : "point index", t->names[yc], k == 1 ? x : idx,
                    t->cols[yc], sc >= 0 ? t->cols[sc] : NULL, fit, res, n, gx, gf, ngrid, c->logx, c->logy, {0}, 0};
    for (int j = 0; j < np && pd.nlegend < 14; j++) {
        snprintf(lines[pd.nlegend], sizeof lines[0], "%s = %.6g \xc2\xb1 %.3g", nlsq_model_param_name(m, j), r->popt[j],
                 r->perr[j]);
        pd.legend[pd.nlegend] = lines[pd.nlegend];
        pd.nlegend++;
    }
    if (np > 14) pd.legend[pd.nlegend++] = "...";
    snprintf(lines[15], sizeof lines[15], "reduced chi-square %.4g, R\xc2\xb2 %.5f", r->redchi, r->r2);
    pd.legend[pd.nlegend++] = lines[15];
    outfile o;
    if (outfile_open(&o, c->plot) != 0) {
        rc = die("--plot %s: %s", c->plot, strerror(errno));
        goto done;
    }
    if (svg_write(o.f, &pd) != 0) {
        outfile_abort(&o);
        rc = die("--plot %s: write error%s", c->plot, NULL);
    } else if (outfile_commit(&o) != 0) {
        rc = die("--plot %s: %s", c->plot, strerror(errno));
    }
done:
    free(fit);
    free(res);
    free(idx);
    (void)xc;
    return rc;
}

/* The data file, or for `nlsq demo` the example data compiled in. */
static nlsq_status read_data(const cli *c, table *t, nlsq_error *err)
{
    if (!c->embedded) return table_read(c->data, c->delim, t, err);
    FILE *f = fmemopen((void *)DEMO_CSV, sizeof DEMO_CSV - 1, "r");
    if (!f) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "cannot open the bundled example data");
        return NLSQ_ERR_NOMEM;
    }
    nlsq_status st = table_read_stream(f, c->data, 0, t, err);
    fclose(f);
    return st;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}


void unload(loaded *L)
{
    nlsq_model_free(L->m);
    table_free(&L->t);
    free(L->x);
    memset(L, 0, sizeof *L);
}

/* 0, or the exit status after printing why (2 input, 3 model text). */
int load(const cli *c, int need_y, loaded *L)
{
    memset(L, 0, sizeof *L);
    L->yc = L->sc = -1;
    nlsq_error err;
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = c->vars;
    mo.params = c->params;
    if (nlsq_model_parse(c->model, &mo, &L->m, &err) != NLSQ_OK) {
        die("--model: %s%s", err.message, NULL);
        return err.code == NLSQ_ERR_NAME_CONFLICT || err.code == NLSQ_ERR_INVALID_ARGUMENT ? 2 : 3;
    }
    if (read_data(c, &L->t, &err) != NLSQ_OK) return die("%s%s", err.message, NULL);
    L->k = nlsq_model_num_vars(L->m);
    L->n = nlsq_model_num_params(L->m);
    if (L->k > 16) return die("more than 16 variables%s%s", NULL, NULL);
    int rc = pick_columns(c, &L->t, L->k, need_y, L->xc, &L->yc, &L->sc);
    if (rc) return rc;
    L->x = malloc(L->t.nrows * (size_t)(L->k ? L->k : 1) * sizeof *L->x);
    if (!L->x) return die("out of memory%s%s", NULL, NULL);
    for (int i = 0; i < L->k; i++) memcpy(L->x + (size_t)i * L->t.nrows, L->t.cols[L->xc[i]], L->t.nrows * sizeof *L->x);
    return 0;
}

static int fit_with(cli c);

/* nlsq demo: the bundled example, as `nlsq fit decay.csv --model ... --plot`. */
static int run_demo(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    c.opt = nlsq_options_default();
    c.vars = "x";
    c.model = "a*exp(-b*x) + c";
    c.p0 = "a=2,b=1,c=0";
    c.data = "examples/data/decay.csv (bundled)";
    c.embedded = 1;
    c.plot = "nlsq-demo.svg";
    for (int i = 2; i < argc; i += 2) {
        if (strcmp(argv[i], "--plot") == 0 && i + 1 < argc) c.plot = argv[i + 1];
        else return die("unknown option '%s' for demo (--plot FILE.svg)%s", argv[i], NULL);
    }
    printf("nlsq demo: fitting %s to %s\n\n", c.model, c.data);
    int rc = fit_with(c);
    if (rc <= 1) printf("\nplot written to %s\n", c.plot);
    return rc;
}

/* nlsq cache [clear]: where compiled kernels are kept, how many, and
   removing them. */
static int run_cache(int argc, char **argv)
{
    int clear = argc > 2 && strcmp(argv[2], "clear") == 0;
    if (argc > 3 || (argc == 3 && !clear)) return die("usage: nlsq cache [clear]%s%s", NULL, NULL);
    char dir[4096], why[600];
    int count;
    long long bytes;
    if (jit_cache_scan(clear, dir, sizeof dir, &count, &bytes, why, sizeof why) != 0) return die("%s%s", why, NULL);
    if (clear)
        printf("removed %d compiled kernel%s (%.1f kB) from %s\n", count, count == 1 ? "" : "s", bytes / 1e3, dir);
    else
        printf("%s: %d compiled kernel%s, %.1f kB\n", dir, count, count == 1 ? "" : "s", bytes / 1e3);
    if (colcache_scan(clear, dir, sizeof dir, &count, &bytes, why, sizeof why) != 0) return die("%s%s", why, NULL);
    if (clear)
        printf("removed %d column cache%s of text tables (%.1f MB) from %s\n", count, count == 1 ? "" : "s",
               bytes / 1e6, dir);
    else
        printf("%s: %d column cache%s of text tables, %.1f MB\n", dir, count, count == 1 ? "" : "s", bytes / 1e6);
    return 0;
}

/* nlsq devices: what this machine offers nlsq. */
static int run_devices(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("cpu    %ld core%s online; vector math: %s\n", cores, cores == 1 ? "" : "s", vmath_select()->name);
    printf("       passes use all of them by default (--threads, NLSQ_THREADS)\n");
    char jit[600];
    jit_describe(jit, sizeof jit);
    printf("jit    %s\n", jit);
    cuda_device_info dev[16];
    char why[300];
    int n = cuda_devices(dev, 16, why, sizeof why);
    if (n < 0) printf("gpu    none: %s\n", why);
    for (int k = 0; k < n; k++)
        printf("cuda:%d %s, %.1f GB, compute capability %d.%d, %d multiprocessors\n", dev[k].ordinal, dev[k].name,
               dev[k].memory / 1e9, dev[k].major, dev[k].minor, dev[k].multiprocessors);
    const cuda_nvrtc *nv = cuda_nvrtc_get(why, sizeof why);
    if (nv) printf("nvrtc  %s, version %d.%d: CUDA kernels are compiled at run time\n", nv->path, nv->major, nv->minor);
    else printf("nvrtc  none: %s\n", why);
    printf("       --device auto (default: a GPU for 10^7 points or more), cpu, cuda, cuda:N\n");
    return 0;
}

/* --p0, --bounds, --fix into the options (arrays owned by the caller). */

void param_opts_free(param_opts *po)
{
    free(po->p0);
    free(po->lo);
    free(po->hi);
    free(po->fixed);
}

int parse_param_options(cli *c, const nlsq_model *m, param_opts *po)
{
    int n = nlsq_model_num_params(m);
    po->p0 = malloc((size_t)n * sizeof *po->p0);
    po->lo = malloc((size_t)n * sizeof *po->lo);
    po->hi = malloc((size_t)n * sizeof *po->hi);
    po->fixed = calloc((size_t)n, 1);
    if (!po->p0 || !po->lo || !po->hi || !po->fixed) return die("out of memory%s%s", NULL, NULL);
    for (int j = 0; j < n; j++) {
        po->lo[j] = -INFINITY;
        po->hi[j] = INFINITY;
        po->p0[j] = NAN;
    }
    int rc;
    if (c->bounds && (rc = parse_assignments(c->bounds, "--bounds", m, po->lo, po->hi, NULL))) return rc;
    if (c->p0 && (rc = parse_assignments(c->p0, "--p0", m, po->p0, NULL, NULL))) return rc;
    if (c->fix && (rc = parse_assignments(c->fix, "--fix", m, po->p0, NULL, po->fixed))) return rc;
    /* parameters without a given start take SciPy's rule, as the library would */
    for (int j = 0; j < n; j++)
        if (isnan(po->p0[j]))
            po->p0[j] = isfinite(po->lo[j]) && isfinite(po->hi[j]) ? 0.5 * (po->lo[j] + po->hi[j])
                      : isfinite(po->lo[j])                        ? po->lo[j] + 1
                      : isfinite(po->hi[j])                        ? po->hi[j] - 1
                                                                   : 1;
    c->opt.p0 = po->p0;
    c->opt.lower = po->lo;
    c->opt.upper = po->hi;
    c->opt.fixed = po->fixed;
    return 0;
}

/* The progress bar on stderr: after a second (or at once with --progress),
   redrawn in place; and the --verbose iteration lines. */
typedef struct watcher {
    progress iter;
    int verbose, mode, shown;
} watcher;

static void bar_clear(watcher *w)
{
    if (w->shown) fprintf(stderr, "\r\033[K");
    w->shown = 0;
}

static int bar_progress(void *user, const nlsq_progress *p)
{
    watcher *w = user;
    if (w->mode == 0 && p->elapsed < 1.0) return 0;
    enum { WIDTH = 24 };
    int filled = (int)(p->pass_fraction * WIDTH + 0.5);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '-';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %3.0f%% of pass %d, iteration %d, cost %.6g, %.1f s", bar, 100 * p->pass_fraction,
            p->pass, p->iteration, p->cost, p->elapsed);
    if (p->pass_fraction < 1 && isfinite(p->pass_remaining)) fprintf(stderr, ", pass ends in %.1f s", p->pass_remaining);
    fprintf(stderr, "\033[K");
    fflush(stderr);
    w->shown = 1;
    return 0;
}

static int watch_iteration(void *user, int it, double cost, const double *p, double gnorm, double step)
{
    watcher *w = user;
    bar_clear(w);
    return verbose_callback(&w->iter, it, cost, p, gnorm, step);
}

static void watch_fit(const cli *c, watcher *w, nlsq_options *o)
{
    memset(w, 0, sizeof *w);
    w->mode = c->progress;
    if (c->verbose) {
        o->callback = watch_iteration;
        o->callback_data = w;
    }
    if (c->progress > 0 || (c->progress == 0 && isatty(2) && !c->quiet)) {
        o->progress = bar_progress;
        o->progress_data = w;
        o->progress_interval = 0.2;
    }
    o->checkpoint = c->checkpoint;
}

static void note_backend(const nlsq_result *r)
{
    if (strcmp(r->backend, "cuda") == 0) return;
    if (strcmp(r->backend, "interp") == 0 && r->backend_note[0])
        fprintf(stderr, "nlsq: note: no compiled kernel (%s); the interpreter ran the fit\n", r->backend_note);
}

static int fit_with(cli c)
{
    loaded L;
    nlsq_error err;
    nlsq_result *r = NULL;
    param_opts po = {0};
    int rc = load(&c, 1, &L);
    if (rc) goto done;
    nlsq_model *m = L.m;
    table *t = &L.t;
    double *x = L.x;
    int *xc = L.xc, yc = L.yc, sc = L.sc;
    if ((rc = parse_param_options(&c, m, &po))) goto done;
    nlsq_data d = {x, t->cols[yc], t->nrows, sc >= 0 ? t->cols[sc] : NULL,
                   sc >= 0 ? NLSQ_SIGMA_PER_POINT : NLSQ_SIGMA_NONE};
    watcher w;
    watch_fit(&c, &w, &c.opt);
    double t0 = now();
    nlsq_status st = nlsq_curve_fit(m, &d, &c.opt, &r, &err);
    bar_clear(&w);
    if (st != NLSQ_OK) {
        rc = die("%s%s", err.message, NULL);
        goto done;
    }
    note_backend(r);
    report_info info = {c.model, c.data, t->nrows, now() - t0, po.fixed, c.full_correlation};
    if (c.predict && (rc = write_predictions(&c, m, t, xc, yc, x, r))) goto done;
    if (c.plot && (rc = write_plot(&c, m, t, xc, yc, sc, x, r))) goto done;
    if (c.json)
        report_json(stdout, &info, m, r);
    else if (!c.quiet)
        report_text(stdout, &info, m, r);
    rc = r->success ? 0 : 1;
done:
    nlsq_result_free(r);
    unload(&L);
    param_opts_free(&po);
    return rc;
}

/* ---- data that are not read into memory ---------------------------------- */

/* Text files above this size go through the column cache. */
#define TEXT_IN_MEMORY_LIMIT ((long long)64 << 20)

static int is_npy_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[6];
    int yes = f && fread(magic, 1, 6, f) == 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
    if (f) fclose(f);
    return yes;
}

/* "f8:3", ">f4:2:columns:128" */
static int parse_raw(const char *spec, nlsq_raw_layout *l)
{
    *l = nlsq_raw_layout_default();
    char copy[128], *save = NULL;
    snprintf(copy, sizeof copy, "%s", spec);
    char *dtype = strtok_r(copy, ":", &save), *ncols = strtok_r(NULL, ":", &save);
    char *order = strtok_r(NULL, ":", &save), *offset = strtok_r(NULL, ":", &save);
    if (!dtype || !ncols) return -1;
    if (*dtype == '>' || *dtype == '<') l->big_endian = *dtype++ == '>';
    if (strcmp(dtype, "f8") == 0 || strcmp(dtype, "float64") == 0) l->dtype = NLSQ_FLOAT64;
    else if (strcmp(dtype, "f4") == 0 || strcmp(dtype, "float32") == 0) l->dtype = NLSQ_FLOAT32;
    else return -1;
    char *end;
    long n = strtol(ncols, &end, 10);
    if (*end || n < 1 || n > 256) return -1;
    l->ncols = (int)n;
    if (order && strcmp(order, "columns") == 0) l->column_major = 1;
    else if (order && strcmp(order, "rows") != 0) return -1;
    if (offset) {
        unsigned long long off = strtoull(offset, &end, 10);
        if (*end || *offset == '-') return -1;
        l->offset = (size_t)off;
    }
    return 0;
}

/* One data file as a source: 1 with *src set, 0 when it should be read
   into memory (a small text table, unless `must`), or an exit status >= 2. */
static int open_one(const cli *c, const char *path, int must, nlsq_source **src)
{
    nlsq_error err;
    nlsq_status st;
    *src = NULL;
    if (c->raw) {
        nlsq_raw_layout l;
        if (parse_raw(c->raw, &l) != 0)
            return die("--raw takes DTYPE:NCOLS[:rows|columns[:OFFSET]] with DTYPE f8 or f4, got '%s'%s", c->raw, NULL);
        st = nlsq_source_open_raw(path, &l, src, &err);
    } else if (is_npy_file(path)) {
        st = nlsq_source_open_npy(path, src, &err);
    } else {
        struct stat sb;
        long long size = stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
        if (!must && (c->in_memory || (!c->column_cache && size <= TEXT_IN_MEMORY_LIMIT))) {
            /* a table in memory takes about 8/3 of the text's bytes */
            long pages = sysconf(_SC_AVPHYS_PAGES), pagesize = sysconf(_SC_PAGESIZE);
            double avail = pages > 0 && pagesize > 0 ? (double)pages * (double)pagesize : INFINITY;
            if (c->in_memory && (double)size * 8 / 3 > avail / 2) {
                fprintf(stderr,
                        "nlsq: %s: too large to read into memory (%.3g GB of text, %.3g GB available); drop "
                        "--in-memory and it is read through a column cache in constant memory\n",
                        path, (double)size * 1e-9, avail * 1e-9);
                return 2;
            }
            return 0;
        }
        nlsq_text_options to = nlsq_text_options_default();
        to.delimiter = c->delim;
        to.cache_path = c->column_cache && strcmp(c->column_cache, "auto") != 0 ? c->column_cache : NULL;
        if (c->verbose) fprintf(stderr, "nlsq: %s: reading through a column cache\n", path);
        st = nlsq_source_open_text(path, &to, src, &err);
    }
    if (st != NLSQ_OK) return die("%s%s", err.message, NULL);
    return 1;
}

/* The source for DATA (and the files after it, joined column after
   column) when it is not read into memory: 1 with *src set, 0 when it
   should be (one small text table), or an exit status >= 2. */
static int open_large(const cli *c, nlsq_source **src)
{
    *src = NULL;
    if (c->embedded || strcmp(c->data, "-") == 0) {
        if (c->raw) return die("--raw needs a file, not standard input%s%s", NULL, NULL);
        return 0;
    }
    if (!c->nmore) return open_one(c, c->data, 0, src);
    if (c->column_cache && strcmp(c->column_cache, "auto") != 0 && !c->raw)
        return die("--column-cache FILE names one cache; with several data files use --column-cache auto%s%s", NULL,
                   NULL);
    nlsq_source *parts[16];
    int n = 0, rc = 1;
    for (int k = 0; k <= c->nmore && rc == 1; k++)
        if ((rc = open_one(c, k ? c->more[k - 1] : c->data, 1, &parts[n])) == 1) n++;
    nlsq_error err;
    if (rc == 1 && nlsq_source_join(parts, n, src, &err) != NLSQ_OK) rc = die("%s%s", err.message, NULL);
    if (rc != 1)
        for (int k = 0; k < n; k++) nlsq_source_free(parts[k]);
    return rc;
}

/* The source's column names as a table (no values), for the column
   choosers. */
static int name_table(const nlsq_source *src, table *t)
{
    memset(t, 0, sizeof *t);
    t->ncols = nlsq_source_num_columns(src);
    t->nrows = nlsq_source_num_rows(src);
    t->names = calloc((size_t)t->ncols, sizeof *t->names);
    if (!t->names) return -1;
    for (int k = 0; k < t->ncols; k++) t->names[k] = (char *)nlsq_source_column_name(src, k);
    return 0;
}

/* --predict from a source: window by window, never all rows at once. */
static int stream_predictions(const cli *c, const nlsq_model *m, nlsq_source *src, const table *names, const int *xc,
                              int yc, const nlsq_result *r)
{
    enum { WIN = 65536 };
    int k = nlsq_model_num_vars(m);
    size_t rows = nlsq_source_num_rows(src);
    double *x = malloc((size_t)WIN * (size_t)(k ? k : 1) * sizeof *x), *y = malloc(WIN * sizeof *y), *f = malloc(WIN * sizeof *f);
    outfile o;
    int rc = 0;
    if (!x || !y || !f) rc = die("out of memory for --predict%s%s", NULL, NULL);
    else if (outfile_open(&o, c->predict) != 0) rc = die("--predict %s: %s", c->predict, strerror(errno));
    if (rc) goto done;
    for (int v = 0; v < k; v++) fprintf(o.f, "%s,", names->names[xc[v]]);
    fprintf(o.f, "%s,fit,residual\n", names->names[yc]);
    nlsq_error err;
    for (size_t first = 0; first < rows && !rc; first += WIN) {
        size_t n = rows - first < WIN ? rows - first : WIN;
        int bad = nlsq_source_read(src, yc, first, n, y, &err) != NLSQ_OK;
        for (int v = 0; v < k && !bad; v++) bad = nlsq_source_read(src, xc[v], first, n, x + (size_t)v * n, &err) != NLSQ_OK;
        if (bad || nlsq_model_eval(m, r->popt, x, n, f, NULL, &err) != NLSQ_OK) {
            rc = die("--predict: %s%s", err.message, NULL);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            for (int v = 0; v < k; v++) fprintf(o.f, "%.17g,", x[(size_t)v * n + i]);
            fprintf(o.f, "%.17g,%.17g,%.17g\n", y[i], f[i], y[i] - f[i]);
        }
    }
    if (rc) outfile_abort(&o);
    else if (ferror(o.f)) {
        outfile_abort(&o);
        rc = die("--predict %s: write error%s", c->predict, NULL);
    } else if (outfile_commit(&o) != 0) {
        rc = die("--predict %s: %s", c->predict, strerror(errno));
    }
done:
    free(x);
    free(y);
    free(f);
    return rc;
}

/* --plot from a source: at most PLOT_POINTS rows, evenly spaced. */
#define PLOT_POINTS 20000

static int plot_sample(const cli *c, const nlsq_model *m, nlsq_source *src, const table *names, const int *xc,
                       int yc, int sc, const nlsq_result *r)
{
    int k = nlsq_model_num_vars(m), ncols = k + 1 + (sc >= 0);
    size_t rows = nlsq_source_num_rows(src), step = (rows + PLOT_POINTS - 1) / PLOT_POINTS, n = (rows + step - 1) / step;
    table t = {ncols, n, calloc((size_t)ncols, sizeof(char *)), calloc((size_t)ncols, sizeof(double *))};
    int from[18], sxc[16], rc = 0;
    double *x = malloc(n * (size_t)(k ? k : 1) * sizeof *x);
    for (int v = 0; v < k; v++) from[v] = xc[v], sxc[v] = v;
    from[k] = yc;
    if (sc >= 0) from[k + 1] = sc;
    for (int j = 0; t.cols && t.names && j < ncols; j++) {
        t.names[j] = names->names[from[j]];
        t.cols[j] = malloc(n * sizeof(double));
    }
    nlsq_error err;
    for (int j = 0; !rc && j < ncols; j++) {
        if (!x || !t.cols || !t.names || !t.cols[j]) {
            rc = die("out of memory for --plot%s%s", NULL, NULL);
            break;
        }
        for (size_t i = 0; i < n && !rc; i++)
            if (nlsq_source_read(src, from[j], i * step, 1, &t.cols[j][i], &err) != NLSQ_OK) rc = die("--plot: %s%s", err.message, NULL);
        if (j < k) memcpy(x + (size_t)j * n, t.cols[j], n * sizeof *x);
    }
    if (!rc) rc = write_plot(c, m, &t, sxc, k, sc >= 0 ? k + 1 : -1, x, r);
    for (int j = 0; t.cols && j < ncols; j++) free(t.cols[j]);
    free(t.cols);
    free(t.names);
    free(x);
    return rc;
}

static int fit_large(cli c, nlsq_source *src)
{
    nlsq_model *m = NULL;
    nlsq_error err;
    nlsq_result *r = NULL;
    param_opts po = {0};
    table names;
    int rc = 0, xc[16], yc, sc;
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = c.vars;
    mo.params = c.params;
    if (name_table(src, &names) != 0) {
        rc = die("out of memory%s%s", NULL, NULL);
        goto done;
    }
    if (nlsq_model_parse(c.model, &mo, &m, &err) != NLSQ_OK) {
        die("--model: %s%s", err.message, NULL);
        rc = err.code == NLSQ_ERR_NAME_CONFLICT || err.code == NLSQ_ERR_INVALID_ARGUMENT ? 2 : 3;
        goto done;
    }
    int k = nlsq_model_num_vars(m);
    if (k > 16) {
        rc = die("more than 16 variables%s%s", NULL, NULL);
        goto done;
    }
    if ((rc = pick_columns(&c, &names, k, 1, xc, &yc, &sc))) goto done;
    if ((rc = parse_param_options(&c, m, &po))) goto done;
    nlsq_columns cols = nlsq_columns_default();
    cols.x = xc;
    cols.y = yc;
    cols.sigma = sc;
    watcher w;
    watch_fit(&c, &w, &c.opt);
    if (c.verbose) {
        size_t bytes = 0;
        if (nlsq_fit_memory(m, src, &cols, &c.opt, &bytes, &err) == NLSQ_OK)
            fprintf(stderr, "nlsq: %s\nnlsq: the fit needs %.1f MB of working memory (the data are not held)\n",
                    nlsq_source_describe(src), (double)bytes / 1e6);
    }
    double t0 = now();
    nlsq_status st = nlsq_fit_source(m, src, &cols, &c.opt, &r, &err);
    bar_clear(&w);
    if (st != NLSQ_OK) {
        rc = die("%s%s", err.message, NULL);
        goto done;
    }
    note_backend(r);
    if (c.verbose && r->resumed_evaluations)
        fprintf(stderr, "nlsq: resumed from %s: %d evaluations taken from it\n", c.checkpoint, r->resumed_evaluations);
    report_info info = {c.model, c.data, nlsq_source_num_rows(src), now() - t0, po.fixed, c.full_correlation};
    if (c.predict && (rc = stream_predictions(&c, m, src, &names, xc, yc, r))) goto done;
    if (c.plot && (rc = plot_sample(&c, m, src, &names, xc, yc, sc, r))) goto done;
    if (c.json)
        report_json(stdout, &info, m, r);
    else if (!c.quiet)
        report_text(stdout, &info, m, r);
    rc = r->success ? 0 : 1;
done:
    nlsq_result_free(r);
    nlsq_model_free(m);
    free(names.names);
    param_opts_free(&po);
    return rc;
}

static int run_fit(int argc, char **argv)
{
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc;
    if (c.id || c.out || c.format) return die("--id, --out and --format are options of nlsq batch%s%s", NULL, NULL);
    nlsq_source *src = NULL;
    rc = open_large(&c, &src);
    if (rc == 0) return fit_with(c);
    if (rc >= 2) return rc;
    rc = fit_large(c, src);
    nlsq_source_free(src);
    return rc;
}

/* nlsq eval: f (and the Jacobian) at the data's x as CSV on stdout. */
static int run_eval(int argc, char **argv)
{
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc;
    loaded L;
    nlsq_error err;
    double *p = NULL, *f = NULL, *J = NULL;
    if ((rc = load(&c, 0, &L))) goto done;
    nlsq_model *m = L.m;
    size_t rows = L.t.nrows;
    int k = L.k, n = L.n;
    double *x = L.x;
    p = malloc((size_t)(n ? n : 1) * sizeof *p);
    f = malloc((rows ? rows : 1) * sizeof *f);
    J = c.jacobian ? malloc((rows ? rows : 1) * (size_t)(n ? n : 1) * sizeof *J) : NULL;
    if (!p || !f || (c.jacobian && !J)) {
        rc = die("out of memory%s%s", NULL, NULL);
        goto done;
    }
    for (int j = 0; j < n; j++) p[j] = 1;
    if (c.p0 && (rc = parse_assignments(c.p0, "--p0", m, p, NULL, NULL))) goto done;
    if (nlsq_model_eval(m, p, x, rows, f, J, &err) != NLSQ_OK) {
        rc = die("%s%s", err.message, NULL);
        goto done;
    }
    for (int i = 0; i < k; i++) printf("%s,", L.t.names[L.xc[i]]);
    printf("f");
    for (int j = 0; c.jacobian && j < n; j++) printf(",d/d%s", nlsq_model_param_name(m, j));
    printf("\n");
    for (size_t r = 0; r < rows; r++) {
        for (int i = 0; i < k; i++) printf("%.17g,", x[(size_t)i * rows + r]);
        printf("%.17g", f[r]);
        for (int j = 0; c.jacobian && j < n; j++) printf(",%.17g", J[r * (size_t)n + (size_t)j]);
        printf("\n");
    }
    rc = 0;
done:
    unload(&L);
    free(p);
    free(f);
    free(J);
    return rc;
}

/* nlsq diff: the model and its partial derivatives as text. */
static int run_diff(int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-') return die("usage: nlsq diff EXPR [--vars x,y] [--params a,b]%s%s", NULL, NULL);
    nlsq_model_options mo = nlsq_model_options_default();
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc) return die("option %s needs a value%s", argv[i], NULL);
        if (strcmp(argv[i], "--vars") == 0) mo.vars = argv[i + 1];
        else if (strcmp(argv[i], "--params") == 0) mo.params = argv[i + 1];
        else return die("unknown option '%s' for diff (--vars, --params)%s", argv[i], NULL);
    }
    nlsq_model *m = NULL;
    nlsq_error err;
    if (nlsq_model_parse(argv[2], &mo, &m, &err) != NLSQ_OK) {
        die("%s%s", err.message, NULL);
        return err.code == NLSQ_ERR_NAME_CONFLICT ? 2 : 3;
    }
    printf("model       %s\nvariables  ", argv[2]);
    for (int k = 0; k < nlsq_model_num_vars(m); k++) printf(" %s", nlsq_model_var_name(m, k));
    printf("\nparameters ");
    for (int j = 0; j < nlsq_model_num_params(m); j++) printf(" %s", nlsq_model_param_name(m, j));
    printf("\n\n");
    for (int j = -1; j < nlsq_model_num_params(m); j++) {
        size_t need = nlsq_model_format(m, j, NULL, 0);
        char *buf = malloc(need + 1);
        if (!buf) {
            nlsq_model_free(m);
            return die("out of memory%s%s", NULL, NULL);
        }
        nlsq_model_format(m, j, buf, need + 1);
        if (j < 0) printf("f = %s\n", buf);
        else printf("df/d%s = %s\n", nlsq_model_param_name(m, j), buf);
        free(buf);
    }
    nlsq_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("nlsq %s\n", nlsq_version());
        return 0;
    }
    static const char *const commands[] = {"fit", "batch", "eval", "diff", "demo", "devices", "cache"};
    int known = 0;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) known |= strcmp(argv[1], commands[k]) == 0;
    if (known && argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(argv[1], "diff") == 0) return run_diff(argc, argv);
    if (strcmp(argv[1], "eval") == 0) return run_eval(argc, argv);
    if (strcmp(argv[1], "demo") == 0) return run_demo(argc, argv);
    if (strcmp(argv[1], "devices") == 0) return run_devices();
    if (strcmp(argv[1], "cache") == 0) return run_cache(argc, argv);
    if (strcmp(argv[1], "fit") == 0) return run_fit(argc, argv);
    if (strcmp(argv[1], "batch") == 0) return run_batch(argc, argv);
    fprintf(stderr, "nlsq: unknown command '%s' (see nlsq help)\n", argv[1]);
    return 2;
}
