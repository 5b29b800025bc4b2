/*
 * nlsq batch: many curves from one table, one fit each, through
 * nlsq_fit_batch. Two layouts:
 *   wide  the x column(s), then one column per curve (every other column;
 *         a curve's id is its header);
 *   long  --id COL: rows grouped into fits by the id column's value (any
 *         order of rows; fits in increasing id), x, y and sigma columns
 *         chosen as for `nlsq fit`.
 * One result row per fit goes to --out (or stdout) as CSV or JSON lines,
 * written whole or not at all; a summary goes to stderr.
 *
 * Exit status: 0 every fit converged; 1 some did not (the rows say which);
 * 2 bad usage or input; 3 an error in the model text.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct batch_data {
    nlsq_batch b;
    double *y, *x, *sigma;   /* owned copies in the batch's layout          */
    size_t *offsets;
    double *ids;             /* long layout: each fit's id                  */
    const int *curve_cols;   /* wide layout: each fit's column              */
    int *cols_owned;
} batch_data;

static void batch_data_free(batch_data *d)
{
    free(d->y);
    free(d->x);
    free(d->sigma);
    free(d->offsets);
    free(d->ids);
    free(d->cols_owned);
}

/* Wide: every column that is not an x column is a curve over the shared x. */
static int make_wide(const cli *c, const loaded *L, batch_data *d)
{
    if (c->sigcol || c->ycol)
        return die("--%s is for the long layout (--id COL); in the wide layout every column after x is a curve",
                   c->sigcol ? "sigma" : "y", NULL);
    const table *t = &L->t;
    int *cols = malloc((size_t)t->ncols * sizeof *cols), nc = 0;
    if (!cols) return die("out of memory%s%s", NULL, NULL);
    for (int j = 0; j < t->ncols; j++) {
        int is_x = 0;
        for (int v = 0; v < L->k; v++) is_x |= L->xc[v] == j;
        if (!is_x) cols[nc++] = j;
    }
    d->cols_owned = cols;
    d->curve_cols = cols;
    if (nc == 0) return die("no curve columns: every column of the data is an x column%s%s", NULL, NULL);
    size_t m = t->nrows;
    d->y = malloc((size_t)nc * (m ? m : 1) * sizeof *d->y);
    if (!d->y) return die("out of memory for %s curves%s", t->names[0], NULL);
    for (int f = 0; f < nc; f++) memcpy(d->y + (size_t)f * m, t->cols[cols[f]], m * sizeof *d->y);
    d->b.nfits = (size_t)nc;
    d->b.m = m;
    d->b.y = d->y;
    d->b.x = L->x;
    d->b.x_shared = 1;
    return 0;
}

typedef struct row_key {
    double id;
    size_t row;
} row_key;

static int by_id_then_row(const void *pa, const void *pb)
{
    const row_key *a = pa, *b = pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Long: the rows sorted by id (stable), each run of one id a fit. */
static int make_long(const cli *c, const loaded *L, batch_data *d)
{
    const table *t = &L->t;
    int idc = column(t, c->id, "--id");
    if (idc < 0) return 2;
    for (int v = 0; v < L->k; v++)
        if (L->xc[v] == idc) return die("--id %s is also an x column%s", c->id, NULL);
    if (L->yc == idc || L->sc == idc) return die("--id %s is also the %s column", c->id, L->yc == idc ? "y" : "sigma");
    size_t m = t->nrows;
    row_key *keys = malloc((m ? m : 1) * sizeof *keys);
    if (!keys) return die("out of memory%s%s", NULL, NULL);
    for (size_t i = 0; i < m; i++) {
        keys[i] = (row_key){t->cols[idc][i], i};
        if (!isfinite(keys[i].id)) {
            char where[64];
            snprintf(where, sizeof where, "%zu", i + 1);
            free(keys);
            return die("the id column has no number in data row %s (%s)", where, c->id);
        }
    }
    qsort(keys, m, sizeof *keys, by_id_then_row);
    size_t nfits = 0;
    for (size_t i = 0; i < m; i++) nfits += i == 0 || keys[i].id != keys[i - 1].id;
    d->offsets = malloc((nfits + 1) * sizeof *d->offsets);
    d->ids = malloc((nfits ? nfits : 1) * sizeof *d->ids);
    d->y = malloc((m ? m : 1) * sizeof *d->y);
    d->x = malloc((m ? m : 1) * (size_t)(L->k ? L->k : 1) * sizeof *d->x);
    d->sigma = L->sc >= 0 ? malloc((m ? m : 1) * sizeof *d->sigma) : NULL;
    if (!d->offsets || !d->ids || !d->y || !d->x || (L->sc >= 0 && !d->sigma)) {
        free(keys);
        return die("out of memory%s%s", NULL, NULL);
    }
    size_t f = 0;
    for (size_t i = 0; i < m; i++) {
        if (i == 0 || keys[i].id != keys[i - 1].id) {
            d->offsets[f] = i;
            d->ids[f++] = keys[i].id;
        }
        size_t r = keys[i].row;
        d->y[i] = t->cols[L->yc][r];
        for (int v = 0; v < L->k; v++) d->x[(size_t)v * m + i] = t->cols[L->xc[v]][r];
        if (d->sigma) d->sigma[i] = t->cols[L->sc][r];
    }
    d->offsets[nfits] = m;
    free(keys);
    d->b.nfits = nfits;
    d->b.offsets = d->offsets;
    d->b.y = d->y;
    d->b.x = d->x;
    d->b.sigma = d->sigma;
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* A CSV field: quoted when it holds a delimiter, a quote or a line end. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void fit_id(const batch_data *d, const loaded *L, size_t i, char *buf, size_t size)
{
    if (d->ids)
        snprintf(buf, size, "%.17g", d->ids[i]);
    else
        snprintf(buf, size, "%s", L->t.names[d->curve_cols[i]]);
}

static void write_rows(FILE *f, int jsonl, const batch_data *d, const loaded *L, const nlsq_batch_result *r)
{
    int n = r->n;
    char id[64];
    if (!jsonl) {
        fputs("id", f);
        for (int j = 0; j < n; j++) {
            const char *name = nlsq_model_param_name(L->m, j);
            fprintf(f, ",%s,%s_err", name, name);
        }
        fputs(",status,chi2,redchi,points,nfev\n", f);
    }
    for (size_t i = 0; i < r->nfits; i++) {
        fit_id(d, L, i, id, sizeof id);
        int free_params = n;
        const unsigned char *fixed = d->b.fixed ? d->b.fixed + i * (size_t)n : NULL;
        for (int j = 0; fixed && j < n; j++) free_params -= fixed[j] != 0;
        double redchi = r->m[i] > (size_t)free_params ? r->chi2[i] / (double)(r->m[i] - (size_t)free_params) : NAN;
        if (jsonl) {
            fputs("{\"id\": ", f);
            if (d->ids) json_number(f, d->ids[i]);
            else json_string(f, id);
            fputs(", \"popt\": {", f);
            for (int j = 0; j < n; j++) {
                fprintf(f, "%s", j ? ", " : "");
                json_string(f, nlsq_model_param_name(L->m, j));
                fputs(": ", f);
                json_number(f, r->popt[i * n + j]);
            }
            fputs("}, \"perr\": {", f);
            for (int j = 0; j < n; j++) {
                fprintf(f, "%s", j ? ", " : "");
                json_string(f, nlsq_model_param_name(L->m, j));
                fputs(": ", f);
                json_number(f, r->perr[i * n + j]);
            }
            fprintf(f, "}, \"status\": %d, \"success\": %s, \"message\": ", r->status[i], r->status[i] > 0 ? "true" : "false");
            json_string(f, nlsq_fit_status_str(r->status[i]));
            fputs(", \"chi2\": ", f);
            json_number(f, r->chi2[i]);
            fputs(", \"redchi\": ", f);
            json_number(f, redchi);
            fprintf(f, ", \"points\": %zu, \"nfev\": %d}\n", r->m[i], r->nfev[i]);
        } else {
            csv_field(f, id);
            for (int j = 0; j < n; j++) fprintf(f, ",%.17g,%.17g", r->popt[i * n + j], r->perr[i * n + j]);
            fprintf(f, ",%d,%.17g,%.17g,%zu,%d\n", r->status[i], r->chi2[i], redchi, r->m[i], r->nfev[i]);
        }
    }
}

/* How many fits ended with each status, and the covariances missing. */
static void summary(const cli *c, const batch_data *d, const loaded *L, const nlsq_batch_result *r)
{
    size_t lo = SIZE_MAX, hi = 0, no_cov = 0;
    for (size_t i = 0; i < r->nfits; i++) {
        size_t len = d->b.offsets ? d->b.offsets[i + 1] - d->b.offsets[i] : d->b.m;
        lo = len < lo ? len : lo;
        hi = len > hi ? len : hi;
        no_cov += r->status[i] > 0 && !r->pcov_valid[i];
    }
    fprintf(stderr, "nlsq batch: %zu fits of %s", r->nfits, c->model);
    if (lo == hi) fprintf(stderr, " (%zu points each)\n", lo);
    else fprintf(stderr, " (%zu to %zu points)\n", r->nfits ? lo : 0, hi);
    fprintf(stderr, "  %.3g s, %.3g fits/s, %d thread%s, %s on %s\n", r->seconds,
            r->seconds > 0 ? (double)r->nfits / r->seconds : 0.0, r->threads, r->threads == 1 ? "" : "s", r->backend,
            r->device);
    if (strcmp(r->device, "cpu") != 0 || strstr(r->device_note, "asked for"))
        fprintf(stderr, "  device: %s\n", r->device_note);
    static const int order[] = {4, 3, 2, 1, 0, -2, NLSQ_FIT_BAD_INPUT, NLSQ_FIT_BAD_DATA, NLSQ_FIT_NONFINITE};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t count = 0, first = SIZE_MAX;
        for (size_t i = 0; i < r->nfits; i++)
            if (r->status[i] == order[k]) {
                count++;
                if (first == SIZE_MAX) first = i;
            }
        if (!count) continue;
        char id[64];
        fit_id(d, L, first, id, sizeof id);
        fprintf(stderr, "  %8zu  status %3d  %s%s%s\n", count, order[k], nlsq_fit_status_str(order[k]),
                order[k] <= 0 ? "  first: " : "", order[k] <= 0 ? id : "");
    }
    fprintf(stderr, "  converged %zu of %zu", r->converged, r->nfits);
    if (no_cov) fprintf(stderr, "; %zu without a covariance (singular Jacobian or no degrees of freedom)", no_cov);
    fprintf(stderr, "\n");
}

int run_batch(int argc, char **argv)
{
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc;
    if (c.predict || c.plot || c.checkpoint || c.raw || c.json)
        return die("%s is not an option of nlsq batch", c.predict ? "--predict" : c.plot ? "--plot"
                   : c.checkpoint ? "--checkpoint/--resume" : c.raw ? "--raw" : "--json (use --format jsonl)", NULL);
    int jsonl = 0;
    if (c.format) {
        if (strcmp(c.format, "jsonl") == 0) jsonl = 1;
        else if (strcmp(c.format, "csv") != 0) return die("--format takes csv or jsonl, got '%s'%s", c.format, NULL);
    } else if (c.out) {
        size_t len = strlen(c.out);
        jsonl = (len > 6 && strcmp(c.out + len - 6, ".jsonl") == 0) || (len > 5 && strcmp(c.out + len - 5, ".json") == 0);
    }
    loaded L;
    batch_data d;
    memset(&d, 0, sizeof d);
    param_opts po;
    memset(&po, 0, sizeof po);
    nlsq_batch_result *r = NULL;
    if ((rc = load(&c, c.id != NULL, &L))) goto done;
    d.b = nlsq_batch_default();
    if ((rc = c.id ? make_long(&c, &L, &d) : make_wide(&c, &L, &d))) goto done;
    if ((rc = parse_param_options(&c, L.m, &po))) goto done;
    nlsq_error err;
    if (nlsq_fit_batch(L.m, &d.b, &c.opt, NLSQ_BATCH_PERR, &r, &err) != NLSQ_OK) {
        rc = die("%s%s", err.message, NULL);
        goto done;
    }
    outfile o;
    FILE *f = stdout;
    if (c.out) {
        if (outfile_open(&o, c.out) != 0) {
            rc = die("--out %s: %s", c.out, strerror(errno));
            goto done;
        }
        f = o.f;
    }
    write_rows(f, jsonl, &d, &L, r);
    if (c.out) {
        if (ferror(f)) {
            outfile_abort(&o);
            rc = die("--out %s: write error%s", c.out, NULL);
            goto done;
        }
        if (outfile_commit(&o) != 0) {
            rc = die("--out %s: %s", c.out, strerror(errno));
            goto done;
        }
    } else {
        fflush(stdout);
    }
    if (!c.quiet) summary(&c, &d, &L, r);
    rc = r->converged == r->nfits ? 0 : 1;
done:
    nlsq_batch_result_free(r);
    param_opts_free(&po);
    batch_data_free(&d);
    unload(&L);
    return rc;
}
