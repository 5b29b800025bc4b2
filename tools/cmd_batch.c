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
 * With --shared NAME,... the curves are one global fit instead, through
 * nlsq_fit_shared: the named parameters common to all, covariates
 * (--covariate) constant within each curve; the same rows, one per curve,
 * and a summary of the shared parameters (docs/global-fits.md).
 *
 * Reading, grouping and writing take a small part of the fits' time
 * (docs/benchmarks.md, bench/batch_io.sh): the columns are read together
 * in windows on every core, the long layout grouped in linear time, and
 * the rows' numbers spelt by dtoa_shortest on every core.
 *
 * Exit status: 0 every fit converged; 1 some did not (the rows say which);
 * 2 bad usage or input; 3 an error in the model text; 4 converged but not
 * to be trusted (--accept-untrusted: 0).
 */
#define _DEFAULT_SOURCE /* clock_gettime, madvise */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dtoa.h"
#include "present.h"

/* --covariate once: a second one would silently replace the first (the
   covariates are listed in one, joined by ',' or ';'). */
static int take_covariate(const option *o, const char *value, void *args)
{
    cli *c = args;
    if (c->covariate)
        return die("%s given twice ('%s', then '%s'): give every covariate in one, --covariate T,P in the long layout "
                   "or 'T=...;P=...' in the wide one",
                   o->name, c->covariate, value);
    c->covariate = value;
    return 0;
}

static const choice formats[] = {{"csv", 0}, {"jsonl", 1}, {"hdf5", 2}, {NULL, 0}};

static const option batch_options[] = {
    {"--id", "COL", ARG_TEXT, offsetof(cli, id),
     .help =
         "long layout: the column whose value names each row's fit\n(default: the wide layout, a curve per column after x)"},
    {"--out", "FILE", ARG_TEXT, offsetof(cli, out), .help = "the result rows go to FILE, atomically (default: stdout)"},
    {"--format", "csv|jsonl|hdf5", ARG_CHOICE, offsetof(cli, format_jsonl),
     .help =
         "CSV (default), JSON lines (default for an --out\nending in .jsonl or .json) or HDF5, a dataset per column\n"
         "(default for .h5, .hdf5, .nxs; docs/data-formats.md)",
     .choices = formats},
    {"--shared", "NAME[,NAME...]", ARG_TEXT, offsetof(cli, shared),
     .help = "one global fit: these parameters take one value for\nevery curve, the others each curve's own "
             "(docs/global-fits.md)"},
    {"--covariate", "VAR[,...] | VAR=V1,V2,... | VAR=header",
     ARG_CUSTOM, 0, .parse = take_covariate,
     .help = "with --shared: model variables constant within each curve;\nlong layout: VAR's column (as --x gives it) "
             "must be\nconstant per id; wide layout: VAR=V1,V2,... one value per\ncurve column, or VAR=header (each "
             "curve column's name\nas a number); several joined by ';'"},
    {"--verbose", NULL, ARG_FLAG, offsetof(cli, verbose),
     .help = "the time of each phase on stderr: open, read and\ngroup, fit, write", .set = 1},
    {NULL},
};
static const option_group group_batch = {"the curves and the results", batch_options};

const option_group *const batch_groups[] = {&group_model, &group_names,  &group_x,       &group_y,
                                            &group_p0,    &group_bounds, &group_solver,  &group_exec,
                                            &group_batch, &group_quiet,  &group_verdict, NULL};

typedef struct batch_data {
    nlsq_batch b;
    double *y, *x, *sigma; /* owned, in the batch's layout                */
    size_t *offsets;
    double *ids;     /* long layout: each fit's id                  */
    int *curve_cols; /* wide layout: each fit's column              */
} batch_data;

static void batch_data_free(batch_data *d)
{
    free(d->y);
    free(d->x);
    free(d->sigma);
    free(d->offsets);
    free(d->ids);
    free(d->curve_cols);
}

/* ---- work on every core ------------------------------------------------------
   Reading the columns and formatting the rows are split over threads
   (plain pthreads: the library's pool is its own); the fits themselves run
   on the library's threads. */

enum { MAX_PARTS = 16 };

typedef void part_fn(void *arg, int part, int parts);

typedef struct part_call {
    part_fn *fn;
    void *arg;
    int part, parts;
} part_call;

static void *part_main(void *p)
{
    part_call *pc = p;
    pc->fn(pc->arg, pc->part, pc->parts);
    return NULL;
}

/* fn(arg, part, parts) for every part at once; a part whose thread does
   not start runs here. */
static void run_parts(part_fn *fn, void *arg, int parts)
{
    pthread_t tid[MAX_PARTS];
    part_call call[MAX_PARTS];
    int started[MAX_PARTS] = {0};
    for (int p = 1; p < parts; p++) {
        call[p] = (part_call){fn, arg, p, parts};
        started[p] = pthread_create(&tid[p], NULL, part_main, &call[p]) == 0;
    }
    fn(arg, 0, parts);
    for (int p = 1; p < parts; p++)
        if (started[p])
            pthread_join(tid[p], NULL);
        else
            fn(arg, p, parts);
}

/* Parts for `work` items, at least `grain` each, on as many threads as
   the fits (--threads; 0: $NLSQ_THREADS, else the cores online), at most
   MAX_PARTS. */
static int parts_for(int threads, size_t work, size_t grain)
{
    const char *env = getenv("NLSQ_THREADS");
    long t = threads > 0 ? threads : env && atol(env) > 0 ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN);
    size_t most = work / grain ? work / grain : 1;
    t = t < 1 ? 1 : t > MAX_PARTS ? MAX_PARTS : t;
    return (size_t)t < most ? (int)t : (int)most;
}

/* An array of n doubles (at least one), NULL after printing why. A whole
   column's array is asked for on 2 MiB pages: first touching a hundred
   megabytes of 4 KiB pages took longer here than reading the file. */
static double *big_array(size_t n)
{
    enum { HUGE_PAGE = 2 << 20 };
    size_t bytes = (n ? n : 1) * sizeof(double);
    void *p;
    if (n > SIZE_MAX / (2 * sizeof(double)))
        p = NULL;
    else if (bytes < HUGE_PAGE)
        p = malloc(bytes);
    else {
        bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        p = aligned_alloc(HUGE_PAGE, bytes);
#ifdef MADV_HUGEPAGE
        if (p) madvise(p, bytes, MADV_HUGEPAGE); /* a hint: 4 KiB pages work too */
#endif
    }
    if (!p) die("out of memory for %zu values", n);
    return p;
}

/* Columns read into arrays in windows of rows, the rows split over
   threads: each window of a row-major file is read once for all the
   columns (nlsq_source_read is safe from many threads). */
typedef struct column_read_job {
    nlsq_source *src;
    size_t m;
    int ncols;
    const int *cols;
    double *const *dest;
    int failed[MAX_PARTS];
    nlsq_error err[MAX_PARTS];
} column_read_job;

static void read_part(void *arg, int part, int parts)
{
    enum { WINDOW = 16384 };
    column_read_job *j = arg;
    size_t first = j->m * (size_t)part / (size_t)parts, last = j->m * (size_t)(part + 1) / (size_t)parts;
    j->failed[part] = 0;
    for (size_t w = first; w < last; w += WINDOW) {
        size_t count = last - w < WINDOW ? last - w : WINDOW;
        for (int k = 0; k < j->ncols; k++)
            if (nlsq_source_read(j->src, j->cols[k], w, count, j->dest[k] + w, &j->err[part]) != NLSQ_OK) {
                j->failed[part] = 1;
                return;
            }
    }
}

/* Rows [0, m) of columns cols[0..ncols) into dest[0..ncols); 0, or 2
   after printing why. */
static int read_columns(const cli *c, const dataset *D, size_t m, int ncols, const int *cols, double *const *dest)
{
    column_read_job j = {.src = D->src, .m = m, .ncols = ncols, .cols = cols, .dest = dest};
    int parts = parts_for(c->opt.threads, m, 65536);
    run_parts(read_part, &j, parts);
    for (int p = 0; p < parts; p++)
        if (j.failed[p]) return die("%s", j.err[p].message);
    return 0;
}

/* The x columns as the batch's x: k rows of m, read with `more` columns
   into their arrays; NULL after printing why. */
static double *x_rows(const cli *c, const dataset *D, size_t m, int nmore, const int *more, double *const *more_dest)
{
    int cols[MAX_VARS + 4];
    double *dest[MAX_VARS + 4];
    double *x = big_array(m * (size_t)(D->k ? D->k : 1));
    if (!x) return NULL;
    int ncols = 0;
    /* a variable without a column (xc -1: a wide layout's covariate,
       given per curve) is filled in later */
    for (int v = 0; v < D->k; v++)
        if (D->xc[v] >= 0) {
            cols[ncols] = D->xc[v];
            dest[ncols++] = x + (size_t)v * m;
        }
    for (int k = 0; k < nmore; k++) {
        cols[ncols] = more[k];
        dest[ncols++] = more_dest[k];
    }
    if (read_columns(c, D, m, ncols, cols, dest)) {
        free(x);
        return NULL;
    }
    return x;
}

/* Wide: every column that is not an x column is a curve over the shared x. */
static int make_wide(const cli *c, const dataset *D, batch_data *d)
{
    if (c->sigcol || c->ycol)
        return die("--%s is for the long layout (--id COL); in the wide layout every column after x is a curve",
                   c->sigcol ? "sigma" : "y");
    int ncols = nlsq_source_num_columns(D->src), nc = 0;
    d->curve_cols = malloc((size_t)ncols * sizeof *d->curve_cols);
    if (!d->curve_cols) return die("out of memory");
    /* a NeXus default plot's errors (dataset_load found them: D->sc) are
       its signal's sigma, not a curve of their own */
    for (int j = 0; j < ncols; j++) {
        int is_x = j == D->sc;
        for (int v = 0; v < D->k; v++) is_x |= D->xc[v] == j;
        if (!is_x) d->curve_cols[nc++] = j;
    }
    if (nc == 0) return die("no curve columns: every column of the data is an x column");
    size_t m = nlsq_source_num_rows(D->src);
    if (!(d->y = big_array((size_t)nc * m))) return 2;
    nlsq_error err;
    for (int f = 0; f < nc; f++)
        if (nlsq_source_read(D->src, d->curve_cols[f], 0, m, d->y + (size_t)f * m, &err) != NLSQ_OK)
            return die("%s", err.message);
    if (D->sc >= 0 && nc == 1) {
        if (!(d->sigma = big_array(m))) return 2;
        if (nlsq_source_read(D->src, D->sc, 0, m, d->sigma, &err) != NLSQ_OK) return die("%s", err.message);
        d->b.sigma = d->sigma;
    }
    if (!(d->x = x_rows(c, D, m, 0, NULL, NULL))) return 2;
    d->b.nfits = (size_t)nc;
    d->b.m = m;
    d->b.y = d->y;
    d->b.x = d->x;
    d->b.x_shared = 1;
    return 0;
}

/* ---- long layout: rows grouped by id ----------------------------------------
   Linear in the rows: a file already in id order (the usual) is taken as it
   is; whole ids in a range no wider than the rows are counted into place;
   any other ids go through a radix sort of their bits. Every way keeps the
   rows of a fit in the file's order. */

/* An id's bits as an unsigned number in the ids' order (finite ids; -0 is 0). */
static uint64_t id_key(double v)
{
    uint64_t b;
    v = v == 0 ? 0.0 : v;
    memcpy(&b, &v, sizeof b);
    return b >> 63 ? ~b : b | (uint64_t)1 << 63;
}

/* Whole ids in [lo, lo + m): the rows counted into place by id. */
static int order_by_counting(const double *ids, size_t m, double lo, size_t *order)
{
    size_t *start = calloc(m + 1, sizeof *start);
    if (!start) return die("out of memory");
    for (size_t i = 0; i < m; i++) start[(size_t)(ids[i] - lo) + 1]++;
    for (size_t j = 1; j <= m; j++) start[j] += start[j - 1];
    for (size_t i = 0; i < m; i++) order[start[(size_t)(ids[i] - lo)]++] = i;
    free(start);
    return 0;
}

typedef struct keyed_row {
    uint64_t key;
    size_t row;
} keyed_row;

/* Any ids: a stable radix sort of (key, row), a byte at a time from the
   lowest, the bytes every key shares skipped. */
static int order_by_radix(const double *ids, size_t m, size_t *order)
{
    keyed_row *a = malloc(m * sizeof *a), *b = malloc(m * sizeof *b);
    size_t(*count)[256] = calloc(8, sizeof *count);
    if (!a || !b || !count) {
        free(a);
        free(b);
        free(count);
        return die("out of memory");
    }
    for (size_t i = 0; i < m; i++) {
        a[i] = (keyed_row){id_key(ids[i]), i};
        for (int byte = 0; byte < 8; byte++) count[byte][a[i].key >> (8 * byte) & 0xff]++;
    }
    for (int byte = 0; byte < 8; byte++) {
        if (count[byte][a[0].key >> (8 * byte) & 0xff] == m) continue;
        size_t at = 0;
        for (int v = 0; v < 256; v++) {
            size_t c = count[byte][v];
            count[byte][v] = at;
            at += c;
        }
        for (size_t i = 0; i < m; i++) b[count[byte][a[i].key >> (8 * byte) & 0xff]++] = a[i];
        keyed_row *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < m; i++) order[i] = a[i].row;
    free(a);
    free(b);
    free(count);
    return 0;
}

/* The rows in fit order: *order NULL when the file is in id order already;
   0, or 2 after printing why. */
static int group_rows(const cli *c, const double *ids, size_t m, size_t **order)
{
    *order = NULL;
    int sorted = 1, whole = 1, inexact = 0;
    double lo = m ? ids[0] : 0, hi = lo;
    for (size_t i = 0; i < m; i++) {
        double v = ids[i];
        if (!isfinite(v)) return die("the id column has no number in data row %zu (%s)", i + 1, c->id);
        sorted &= i == 0 || v >= ids[i - 1];
        whole &= v == floor(v);
        /* a 64-bit integer id past 2^53 was rounded to its double: two
           such ids can have become one, and their rows one fit */
        inexact |= fabs(v) >= 0x1p53 && fabs(v) <= 0x1p64;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (inexact)
        fprintf(stderr, "nlsq batch: warning: ids beyond 2^53 (9007199254740992) are read as the nearest doubles, so "
                        "distinct whole ids there may have been merged into one fit; number the curves below 2^53\n");
    if (sorted) return 0;
    if (!(*order = malloc(m * sizeof **order))) return die("out of memory");
    int rc = whole && hi - lo < (double)m ? order_by_counting(ids, m, lo, *order) : order_by_radix(ids, m, *order);
    if (rc) {
        free(*order);
        *order = NULL;
    }
    return rc;
}

/* v's rows in `order` (NULL: as they are), in place. */
static int gather(double **v, const size_t *order, size_t m)
{
    if (!order || !*v) return 0;
    double *g = big_array(m);
    if (!g) return 2;
    for (size_t i = 0; i < m; i++) g[i] = (*v)[order[i]];
    free(*v);
    *v = g;
    return 0;
}

/* Long: the rows grouped by id (stable), each run of one id a fit. */
static int make_long(const cli *c, const dataset *D, batch_data *d)
{
    int idc = column_find(D->src, c->id, "--id");
    if (idc < 0) return 2;
    for (int v = 0; v < D->k; v++)
        if (D->xc[v] == idc) return die("--id %s is also an x column", c->id);
    if (D->yc == idc || D->sc == idc) return die("--id %s is also the %s column", c->id, D->yc == idc ? "y" : "sigma");
    size_t m = nlsq_source_num_rows(D->src), *order = NULL;
    /* every column in one pass over the file, then grouped */
    double *ids = big_array(m);
    d->y = ids ? big_array(m) : NULL;
    d->sigma = d->y && D->sc >= 0 ? big_array(m) : NULL;
    int more[3] = {idc, D->yc, D->sc}, rc = 0;
    double *more_dest[3] = {ids, d->y, d->sigma};
    if (!d->y || (D->sc >= 0 && !d->sigma) || !(d->x = x_rows(c, D, m, D->sc >= 0 ? 3 : 2, more, more_dest)) ||
        group_rows(c, ids, m, &order) || gather(&ids, order, m)) {
        free(ids);
        free(order);
        return 2;
    }
    for (int v = 0; !rc && v < D->k && order; v++) {
        double *xv = big_array(m);
        if (!xv) rc = 2;
        for (size_t i = 0; xv && i < m; i++) xv[i] = d->x[(size_t)v * m + order[i]];
        if (xv) memcpy(d->x + (size_t)v * m, xv, m * sizeof *xv);
        free(xv);
    }
    if (!rc) rc = gather(&d->y, order, m) || gather(&d->sigma, order, m) ? 2 : 0;
    free(order);
    size_t nfits = 0;
    for (size_t i = 0; !rc && i < m; i++) nfits += i == 0 || ids[i] != ids[i - 1];
    if (!rc) {
        d->offsets = malloc((nfits + 1) * sizeof *d->offsets);
        d->ids = malloc((nfits ? nfits : 1) * sizeof *d->ids);
        if (!d->offsets || !d->ids) rc = die("out of memory");
    }
    for (size_t i = 0, f = 0; !rc && i < m; i++)
        if (i == 0 || ids[i] != ids[i - 1]) {
            d->offsets[f] = i;
            d->ids[f++] = ids[i] == 0 ? 0.0 : ids[i];
        }
    free(ids);
    if (rc) return rc;
    d->offsets[nfits] = m;
    d->b.nfits = nfits;
    d->b.offsets = d->offsets;
    d->b.y = d->y;
    d->b.x = d->x;
    d->b.sigma = d->sigma;
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

/* A fit's id as the table spells it (buf: at least DTOA_SIZE bytes). */
static void fit_id(const batch_data *d, const dataset *D, size_t i, char *buf, size_t size)
{
    if (d->ids)
        dtoa_shortest(d->ids[i], buf);
    else
        snprintf(buf, size, "%s", nlsq_source_column_name(D->src, d->curve_cols[i]));
}

/* A fit's verdict: trusted when no finding of NLSQ_DIAG_UNTRUSTED; unknown
   (-1: diag_flags NULL) for a batch on a GPU. */
static int fit_trusted(const nlsq_batch_result *r, size_t i)
{
    return r->diag_flags ? !(r->diag_flags[i] & NLSQ_DIAG_UNTRUSTED) : -1;
}

/* Converged fits that cannot be trusted (0 when unknown). */
static size_t untrusted_converged(const nlsq_batch_result *r)
{
    size_t count = 0;
    for (size_t i = 0; r->diag_flags && i < r->nfits; i++) count += r->status[i] > 0 && !fit_trusted(r, i);
    return count;
}

/* The rows are built in memory, the numbers by dtoa_shortest (printf's
   "%.17g" of a million numbers cost more than the fits), and written a
   row at a time. */

static char *put_text(char *p, const char *s)
{
    size_t len = strlen(s);
    memcpy(p, s, len);
    return p + len;
}

static char *put_number(char *p, double v)
{
    return p + dtoa_shortest(v, p);
}

/* JSON has no NaN or infinity: null */
static char *put_json_number(char *p, double v)
{
    return isfinite(v) ? put_number(p, v) : put_text(p, "null");
}

static char *put_int(char *p, long long v)
{
    char digits[24];
    int n = 0;
    unsigned long long a = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[n++] = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    if (v < 0) *p++ = '-';
    while (n) *p++ = digits[--n];
    return p;
}

/* The findings' keys joined by `sep` (each in `quote`), nothing for none. */
static char *put_findings(char *p, unsigned flags, const char *sep, const char *quote)
{
    int first = 1;
    for (unsigned b = 0; b < 32; b++)
        if (flags & (1u << b)) {
            if (!first) p = put_text(p, sep);
            p = put_text(put_text(put_text(p, quote), finding_key(1u << b)), quote);
            first = 0;
        }
    return p;
}

/* The text between the numbers, made once: for JSON lines each
   parameter's escaped key, else the CSV header. */
enum { STATUS_MIN = -32, STATUS_COUNT = 64, MESSAGE_ROOM = 1024 };

typedef struct row_format {
    char **keys;                  /* jsonl: "\"a\": " per parameter */
    char *messages[STATUS_COUNT]; /* jsonl: each status's message, escaped, when met */
    char *row;                    /* room for a row */
    size_t room;
} row_format;

static void row_format_free(row_format *rf, int n)
{
    for (int j = 0; rf->keys && j < n; j++) free(rf->keys[j]);
    free(rf->keys);
    for (int k = 0; k < STATUS_COUNT; k++) free(rf->messages[k]);
    free(rf->row);
}

/* s as a JSON string followed by `after`, in a new string (NULL: no memory) */
static char *json_text(const char *s, const char *after)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    json_string(f, s);
    fputs(after, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* 0, or -1 for want of memory (nothing printed: workers call it too) */
static int row_format_init(row_format *rf, int jsonl, const nlsq_model *m)
{
    int n = nlsq_model_num_params(m);
    memset(rf, 0, sizeof *rf);
    /* the fixed fields, a message (longer ones are written apart) and
       every finding's key */
    size_t room = 512 + MESSAGE_ROOM + 32 * 24;
    rf->keys = jsonl ? calloc((size_t)n + 1, sizeof *rf->keys) : NULL;
    if (jsonl && !rf->keys) return -1;
    for (int j = 0; j < n; j++) {
        room += 2 * (DTOA_SIZE + 4);
        if (!jsonl) continue;
        if (!(rf->keys[j] = json_text(nlsq_model_param_name(m, j), ": "))) return -1;
        room += 2 * (strlen(rf->keys[j]) + 4);
    }
    rf->room = room;
    return (rf->row = malloc(room)) ? 0 : -1;
}

/* A status's message as a JSON string, made when first met; NULL when it
   is to be written apart (a status out of the table's range, a message
   longer than its room, no memory for it). */
static const char *json_message(row_format *rf, int status)
{
    int k = status - STATUS_MIN;
    if (k < 0 || k >= STATUS_COUNT) return NULL;
    if (!rf->messages[k]) rf->messages[k] = json_text(nlsq_fit_status_str(status), "");
    return rf->messages[k] && strlen(rf->messages[k]) < MESSAGE_ROOM ? rf->messages[k] : NULL;
}

/* {"a": v[0], "b": v[1], ...}: one value per parameter, by name. */
static char *put_json_params(char *p, const row_format *rf, int n, const double *v)
{
    *p++ = '{';
    for (int j = 0; j < n; j++) {
        if (j) p = put_text(p, ", ");
        p = put_json_number(put_text(p, rf->keys[j]), v[j]);
    }
    *p++ = '}';
    return p;
}

/* One fit's JSON line after its id, up to its message. */
static char *put_json_head(char *p, const row_format *rf, const nlsq_batch_result *r, size_t i)
{
    int n = r->n;
    p = put_json_params(put_text(p, ", \"popt\": "), rf, n, r->popt + i * (size_t)n);
    p = put_json_params(put_text(p, ", \"perr\": "), rf, n, r->perr + i * (size_t)n);
    p = put_int(put_text(p, ", \"status\": "), r->status[i]);
    return put_text(p, r->status[i] > 0 ? ", \"success\": true, \"message\": " : ", \"success\": false, \"message\": ");
}

/* After the message: chi2 to the end of the line. */
static char *put_json_tail(char *p, const nlsq_batch_result *r, size_t i, double redchi)
{
    int t = fit_trusted(r, i);
    p = put_json_number(put_text(p, ", \"chi2\": "), r->chi2[i]);
    p = put_json_number(put_text(p, ", \"redchi\": "), redchi);
    p = put_int(put_text(p, ", \"points\": "), (long long)r->m[i]);
    p = put_int(put_text(p, ", \"nfev\": "), r->nfev[i]);
    p = put_text(p, t < 0 ? ", \"trusted\": null, \"findings\": null}\n"
                    : t   ? ", \"trusted\": true, \"findings\": ["
                          : ", \"trusted\": false, \"findings\": [");
    if (t >= 0) p = put_text(put_findings(p, r->diag_flags[i], ", ", "\""), "]}\n");
    return p;
}

/* One fit's CSV fields after its id, to the line's end. */
static char *put_csv_row(char *p, const nlsq_batch_result *r, size_t i, double redchi)
{
    int n = r->n, t = fit_trusted(r, i);
    for (int j = 0; j < n; j++) {
        *p++ = ',';
        p = put_number(p, r->popt[i * (size_t)n + (size_t)j]);
        *p++ = ',';
        p = put_number(p, r->perr[i * (size_t)n + (size_t)j]);
    }
    p = put_int(put_text(p, ","), r->status[i]);
    p = put_number(put_text(p, ","), r->chi2[i]);
    p = put_number(put_text(p, ","), redchi);
    p = put_int(put_text(p, ","), (long long)r->m[i]);
    p = put_int(put_text(p, ","), r->nfev[i]);
    *p++ = ',';
    /* trusted (1, 0, or empty when unknown) and findings joined by '+' (no
       CSV quoting needed) */
    if (t >= 0) p = put_int(p, t);
    *p++ = ',';
    if (r->diag_flags) p = put_findings(p, r->diag_flags[i], "+", "");
    *p++ = '\n';
    return p;
}

/* chi2 over the degrees of freedom left by the fit's free parameters */
static double fit_redchi(const batch_data *d, const nlsq_batch_result *r, size_t i)
{
    int n = r->n, free_params = n;
    const unsigned char *fixed = d->b.fixed ? d->b.fixed + i * (size_t)n : NULL;
    for (int j = 0; fixed && j < n; j++) free_params -= fixed[j] != 0;
    return r->m[i] > (size_t)free_params ? r->chi2[i] / (double)(r->m[i] - (size_t)free_params) : NAN;
}

/* Rows [first, last) of the table into f. */
static void write_row_range(FILE *f, row_format *rf, int jsonl, const batch_data *d, const dataset *D,
                            const nlsq_batch_result *r, size_t first, size_t last)
{
    for (size_t i = first; i < last; i++) {
        double redchi = fit_redchi(d, r, i);
        char *p = rf->row;
        /* a numeric id is a number; a column's name is text of any length */
        if (jsonl) {
            p = put_text(p, "{\"id\": ");
            if (d->ids)
                p = put_json_number(p, d->ids[i]);
            else {
                fwrite(rf->row, 1, (size_t)(p - rf->row), f);
                json_string(f, nlsq_source_column_name(D->src, d->curve_cols[i]));
                p = rf->row;
            }
            p = put_json_head(p, rf, r, i);
            const char *message = json_message(rf, r->status[i]);
            if (message)
                p = put_text(p, message);
            else {
                fwrite(rf->row, 1, (size_t)(p - rf->row), f);
                json_string(f, nlsq_fit_status_str(r->status[i]));
                p = rf->row;
            }
            p = put_json_tail(p, r, i, redchi);
        } else {
            if (d->ids)
                p = put_number(p, d->ids[i]);
            else
                csv_field(f, nlsq_source_column_name(D->src, d->curve_cols[i]));
            p = put_csv_row(p, r, i, redchi);
        }
        fwrite(rf->row, 1, (size_t)(p - rf->row), f);
    }
}

/* A block of rows formatted in parts at once, each part into memory. */
typedef struct row_block {
    int jsonl;
    const batch_data *d;
    const dataset *D;
    const nlsq_batch_result *r;
    size_t first, count;
    char *text[MAX_PARTS];
    size_t len[MAX_PARTS];
    int failed[MAX_PARTS];
} row_block;

static void format_part(void *arg, int part, int parts)
{
    row_block *b = arg;
    size_t first = b->first + b->count * (size_t)part / (size_t)parts;
    size_t last = b->first + b->count * (size_t)(part + 1) / (size_t)parts;
    b->text[part] = NULL;
    b->len[part] = 0;
    FILE *mem = open_memstream(&b->text[part], &b->len[part]);
    row_format rf;
    int failed = !mem || row_format_init(&rf, b->jsonl, b->D->m) != 0;
    if (mem && !failed) write_row_range(mem, &rf, b->jsonl, b->d, b->D, b->r, first, last);
    if (mem) row_format_free(&rf, b->r->n);
    /* a memory stream fails only for want of memory, the last time when
       fclose gives back no text */
    failed |= mem && ferror(mem);
    failed |= mem && fclose(mem) != 0;
    b->failed[part] = failed || !b->text[part];
}

/* The result table: a header (CSV) and a row per fit; 0, or 2 after
   printing why. Blocks of rows are formatted on every core (the shortest
   spelling of a million numbers is most of the work) and written in order. */
static int write_rows(FILE *f, int jsonl, const batch_data *d, const dataset *D, const nlsq_batch_result *r,
                      int threads)
{
    enum { PART_ROWS = 8192 };
    int n = r->n;
    if (!jsonl) {
        fputs("id", f);
        for (int j = 0; j < n; j++) {
            const char *name = nlsq_model_param_name(D->m, j);
            fprintf(f, ",%s,%s_err", name, name);
        }
        fputs(",status,chi2,redchi,points,nfev,trusted,findings\n", f);
    }
    row_block b = {.jsonl = jsonl, .d = d, .D = D, .r = r};
    int rc = 0;
    for (size_t first = 0; !rc && first < r->nfits; first += b.count) {
        size_t left = r->nfits - first;
        int parts = parts_for(threads, left, PART_ROWS);
        b.first = first;
        b.count = left < (size_t)parts * PART_ROWS ? left : (size_t)parts * PART_ROWS;
        run_parts(format_part, &b, parts);
        for (int p = 0; p < parts; p++) {
            if (b.failed[p] && !rc) rc = die("writing the result rows: out of memory");
            if (!rc) fwrite(b.text[p], 1, b.len[p], f);
            free(b.text[p]);
        }
    }
    return rc;
}

/* Of the converged fits, how many can be trusted, and for those that
   cannot, each finding's count and its first fit. */
static void verdict_summary(const batch_data *d, const dataset *D, const nlsq_batch_result *r)
{
    if (!r->diag_flags) {
        fputs("  trusted: not checked (the GPU's fits leave no Jacobian to diagnose)\n", stderr);
        return;
    }
    size_t bad = untrusted_converged(r);
    fprintf(stderr, "  trusted %zu of %zu converged\n", r->converged - bad, r->converged);
    for (unsigned b = 1; bad && b < 32; b++) {
        unsigned bit = 1u << b;
        if (!(bit & NLSQ_DIAG_UNTRUSTED)) continue;
        size_t count = 0, first = SIZE_MAX;
        for (size_t i = 0; i < r->nfits; i++)
            if (r->status[i] > 0 && (r->diag_flags[i] & bit)) {
                count++;
                if (first == SIZE_MAX) first = i;
            }
        if (!count) continue;
        char id[64];
        fit_id(d, D, first, id, sizeof id);
        fprintf(stderr, "  %8zu  %-16s first: %s\n", count, finding_key(bit), id);
    }
}

/* How many fits ended with each status, and the covariances missing. */
static void summary(const cli *c, const batch_data *d, const dataset *D, const nlsq_batch_result *r)
{
    size_t lo = SIZE_MAX, hi = 0, no_cov = 0;
    for (size_t i = 0; i < r->nfits; i++) {
        size_t len = d->b.offsets ? d->b.offsets[i + 1] - d->b.offsets[i] : d->b.m;
        lo = len < lo ? len : lo;
        hi = len > hi ? len : hi;
        no_cov += r->status[i] > 0 && !r->pcov_valid[i];
    }
    fprintf(stderr, "nlsq batch: %zu fits of %s", r->nfits, c->model);
    if (lo == hi)
        fprintf(stderr, " (%zu points each)\n", lo);
    else
        fprintf(stderr, " (%zu to %zu points)\n", r->nfits ? lo : 0, hi);
    fprintf(stderr, "  %.3g s, %.3g fits/s, %d thread%s, %s on %s\n", r->seconds,
            r->seconds > 0 ? (double)r->nfits / r->seconds : 0.0, r->threads, r->threads == 1 ? "" : "s", r->backend,
            r->device);
    if (strcmp(r->device, "cpu") != 0 || strstr(r->device_note, "asked for"))
        fprintf(stderr, "  device: %s\n", r->device_note);
    static const int order[] = {
        4, 3, 2, 1, 0, -2, NLSQ_FIT_SVD_FAILED, NLSQ_FIT_BAD_INPUT, NLSQ_FIT_BAD_DATA, NLSQ_FIT_NONFINITE};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t count = 0, first = SIZE_MAX;
        for (size_t i = 0; i < r->nfits; i++)
            if (r->status[i] == order[k]) {
                count++;
                if (first == SIZE_MAX) first = i;
            }
        if (!count) continue;
        char id[64];
        fit_id(d, D, first, id, sizeof id);
        fprintf(stderr, "  %8zu  status %3d  %s%s%s\n", count, order[k], nlsq_fit_status_str(order[k]),
                order[k] <= 0 ? "  first: " : "", order[k] <= 0 ? id : "");
    }
    fprintf(stderr, "  converged %zu of %zu", r->converged, r->nfits);
    if (no_cov) fprintf(stderr, "; %zu without a covariance (singular Jacobian or no degrees of freedom)", no_cov);
    fprintf(stderr, "\n");
    verdict_summary(d, D, r);
}

/* The result rows to --out (whole or not at all) or stdout; 0, or 2 after
   printing why. A write error on stdout is found when the command ends
   (nlsq.c). */
static int write_results(const cli *c, int jsonl, const batch_data *d, const dataset *D, const nlsq_batch_result *r)
{
    if (!cli_writes(c)) return 0; /* process 0 of a group writes them */
    if (batch_hdf5_wanted(c)) return batch_hdf5_write(c, D, &d->b, r, d->ids, d->curve_cols);
    int threads = c->opt.threads;
    if (!c->out) return write_rows(stdout, jsonl, d, D, r, threads);
    nlsq_output *o = output_open("--out", c->out);
    if (!o) return 2;
    if (write_rows(nlsq_output_stream(o), jsonl, d, D, r, threads)) {
        nlsq_output_discard(o);
        return 2;
    }
    return output_commit("--out", o);
}

/* --format, else by --out's name: .jsonl or .json is JSON lines. */
static int wants_jsonl(const cli *c)
{
    if (c->format_jsonl >= 0) return c->format_jsonl;
    size_t len = c->out ? strlen(c->out) : 0;
    return (len > 6 && strcmp(c->out + len - 6, ".jsonl") == 0) || (len > 5 && strcmp(c->out + len - 5, ".json") == 0);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- --shared: one global fit over the curves (nlsq_fit_shared) -------------
   The same layouts, the same rows: each curve's full parameter vector, the
   shared ones repeated in every row, written by the rows' code above
   through a batch result that views the global fit's arrays. */

/* --covariate: which variables are constant within each curve, and in the
   wide layout each one's values (the text after '='). */
typedef struct covariates {
    unsigned char flag[MAX_VARS];
    const char *values[MAX_VARS];
    int count;
    char *buf; /* the option's text, cut into items */
} covariates;

static int model_var_index(const nlsq_model *m, const char *name)
{
    for (int v = 0; v < nlsq_model_num_vars(m); v++)
        if (strcmp(nlsq_model_var_name(m, v), name) == 0) return v;
    return -1;
}

/* One variable named by --covariate; 0, or 2 after printing why. */
static int covariate_flag(const cli *c, const dataset *D, const char *name, covariates *cv)
{
    int v = model_var_index(D->m, name);
    if (v < 0) return die("--covariate: the model has no variable '%s' (its variables: %s)", name, c->vars);
    if (cv->flag[v]) return die("--covariate names '%s' twice", name);
    cv->flag[v] = 1;
    cv->count++;
    return 0;
}

/* --covariate's text: "T,P" in the long layout (columns), "T=280,290;P=header"
   in the wide one (values per curve). 0, or 2 after printing why. */
static int covariates_parse(const cli *c, const dataset *D, int wide, covariates *cv)
{
    memset(cv, 0, sizeof *cv);
    if (!c->covariate) return 0;
    if (!(cv->buf = strdup(c->covariate))) return die("out of memory");
    char *save = NULL;
    for (char *item = strtok_r(cv->buf, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        if (eq && !wide)
            return die("--covariate %s: in the long layout (--id) a covariate is a column, constant within each id: "
                       "name the variable (--covariate T) and give its column with --x as for any variable",
                       item);
        if (!eq && wide)
            return die("--covariate %s: in the wide layout each curve's value is given: --covariate %s=V1,V2,... "
                       "(one per curve column) or %s=header (each curve column's name read as a number)",
                       item, item, item);
        if (eq) {
            *eq = '\0';
            int rc = covariate_flag(c, D, item, cv);
            if (rc) return rc;
            cv->values[model_var_index(D->m, item)] = eq + 1;
            continue;
        }
        char *save2 = NULL;
        for (char *name = strtok_r(item, ",", &save2); name; name = strtok_r(NULL, ",", &save2)) {
            int rc = covariate_flag(c, D, name, cv);
            if (rc) return rc;
        }
    }
    if (!cv->count) return die("--covariate '%s' names no variable", c->covariate);
    return 0;
}

/* The wide layout with covariates: the other variables take the x columns
   (--x, else the first columns), a covariate none (xc -1). 0, or 2 after
   printing why. */
static int wide_x_columns(const cli *c, dataset *D, const covariates *cv)
{
    int kx = D->k - cv->count, i = 0, rc = 0;
    int picked[MAX_VARS];
    if (c->xcols) {
        char *copy = strdup(c->xcols), *save = NULL;
        if (!copy) return die("out of memory");
        for (char *s = strtok_r(copy, ",", &save); s && !rc; s = strtok_r(NULL, ",", &save)) {
            if (i == kx)
                rc = die("--x names more columns than the model's variables that are not covariates (%d)", kx);
            else if ((picked[i++] = column_find(D->src, s, "--x")) < 0)
                rc = 2;
        }
        free(copy);
        if (!rc && i != kx)
            rc = die("--x names %d columns; the model has %d variables that are not covariates", i, kx);
    } else {
        for (i = 0; i < kx; i++) picked[i] = i;
    }
    for (int v = 0, j = 0; !rc && v < D->k; v++) D->xc[v] = cv->flag[v] ? -1 : picked[j++];
    D->sc = -1; /* every other column is a curve */
    return rc;
}

/* One covariate's value for each of the wide layout's curves: listed, or
   read from each curve column's name. 0, or 2 after printing why. */
static int wide_covariate_values(const dataset *D, const batch_data *d, const char *var, const char *text,
                                 double *out)
{
    size_t nfits = d->b.nfits, count = 0;
    if (strcmp(text, "header") == 0) {
        for (size_t f = 0; f < nfits; f++) {
            const char *name = nlsq_source_column_name(D->src, d->curve_cols[f]);
            char *end;
            out[f] = strtod(name, &end);
            if (end == name || *end || !isfinite(out[f]))
                return die("--covariate %s=header: the curve column '%s' is not named by a number", var, name);
        }
        return 0;
    }
    const char *s = text;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || (*end && *end != ',') || !isfinite(v))
            return die("--covariate %s=%s: '%.*s' is not a number", var, text, (int)strcspn(s, ","), s);
        if (count < nfits) out[count] = v;
        count++;
        s = *end ? end + 1 : end;
    }
    if (count != nfits)
        return die("--covariate %s: %zu value%s for %zu curve columns (one per curve, in the columns' order)", var,
                   count, count == 1 ? "" : "s", nfits);
    return 0;
}

/* The wide layout's shared x made per curve, the covariates filled in with
   each curve's value. 0, or 2 after printing why. */
static int wide_covariates(const dataset *D, batch_data *d, const covariates *cv)
{
    size_t nfits = d->b.nfits, m = d->b.m;
    double *values = big_array(nfits), *x = values ? big_array(nfits * m * (size_t)D->k) : NULL;
    int rc = x ? 0 : 2;
    for (int v = 0; !rc && v < D->k; v++) {
        double *row = x + (size_t)v * nfits * m;
        if (cv->flag[v] && (rc = wide_covariate_values(D, d, nlsq_model_var_name(D->m, v), cv->values[v], values)))
            break;
        for (size_t f = 0; f < nfits; f++)
            for (size_t p = 0; p < m; p++) row[f * m + p] = cv->flag[v] ? values[f] : d->x[(size_t)v * m + p];
    }
    free(values);
    if (rc) {
        free(x);
        return rc;
    }
    free(d->x);
    d->x = x;
    d->b.x = x;
    d->b.x_shared = 0;
    return 0;
}

/* The long layout: a covariate's column constant within each id (the
   library checks too; here the message names the id and the column). */
static int long_covariates_check(const dataset *D, const batch_data *d, const covariates *cv)
{
    size_t total = d->b.nfits ? d->offsets[d->b.nfits] : 0;
    for (int v = 0; v < D->k; v++) {
        if (!cv->flag[v]) continue;
        const double *col = d->x + (size_t)v * total;
        for (size_t f = 0; f < d->b.nfits; f++) {
            /* a value that is not finite is nan_policy's (the library
               refuses it, or omits its row) */
            size_t first = d->offsets[f];
            while (first < d->offsets[f + 1] && !isfinite(col[first])) first++;
            for (size_t i = first + 1; i < d->offsets[f + 1]; i++)
                if (isfinite(col[i]) && col[i] != col[first]) {
                    char id[DTOA_SIZE + 8], a[DTOA_SIZE + 8], b[DTOA_SIZE + 8];
                    dtoa_shortest(d->ids[f], id);
                    dtoa_shortest(col[first], a);
                    dtoa_shortest(col[i], b);
                    return die("--covariate %s: its column '%s' is not constant within id %s (%s, then %s)",
                               nlsq_model_var_name(D->m, v), nlsq_source_column_name(D->src, D->xc[v]), id, a, b);
                }
        }
    }
    return 0;
}

/* --shared's names as n flags; 0, or 2 after printing why. */
static int shared_parse(const cli *c, const dataset *D, unsigned char **flags)
{
    int n = D->n;
    unsigned char *fl = calloc((size_t)(n ? n : 1), 1);
    char *copy = strdup(c->shared), *save = NULL;
    int rc = !fl || !copy ? die("out of memory") : 0, count = 0;
    for (char *s = copy ? strtok_r(copy, ",", &save) : NULL; s && !rc; s = strtok_r(NULL, ",", &save)) {
        int j = 0;
        while (j < n && strcmp(nlsq_model_param_name(D->m, j), s) != 0) j++;
        if (j == n) {
            char names[400] = "";
            for (int k = 0; k < n && strlen(names) < sizeof names - 80; k++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "",
                         nlsq_model_param_name(D->m, k));
            rc = die("--shared: the model has no parameter '%s' (its parameters: %s)", s, names);
        } else if (fl[j]) {
            rc = die("--shared names '%s' twice", s);
        } else {
            fl[j] = 1;
            count++;
        }
    }
    if (!rc && !count) rc = die("--shared '%s' names no parameter", c->shared);
    free(copy);
    if (rc) {
        free(fl);
        return rc;
    }
    *flags = fl;
    return 0;
}

/* What a global fit does not take, refused before any work; 0, or 2. */
static int shared_refused(const cli *c)
{
    if (!c->shared) return c->covariate ? die("--covariate goes with --shared (a covariate is a per-curve value that "
                                              "shared parameters depend on; docs/global-fits.md)")
                                        : 0;
    if (c->opt.method == NLSQ_DOGBOX)
        return die("--method dogbox: a fit with --shared runs trf (the default; bounds) or lm");
    if (c->opt.device && strcmp(c->opt.device, "cpu") != 0 && strcmp(c->opt.device, "auto") != 0)
        return die("--device %s: a fit with --shared runs on the CPU's threads (drop --device)", c->opt.device);
    if (c->opt.gpu_float32) return die("--gpu-float32: a fit with --shared runs on the CPU (drop --gpu-float32)");
    return 0;
}

/* The global fit's rows as a batch's: its arrays viewed, the fit's status,
   iterations and evaluations in every row; each row's chi2 its data set's
   share (and so its redchi that share over its points less the model's
   free parameters, as any batch row's, the same in every format). A row
   is trusted unless an error of its set is Inf or NaN (the data do not
   determine one of its parameters: NLSQ_DIAG_RANK_DEFICIENT, as a batch
   row says) or the fit did not converge; the whole fit's other
   diagnostics are not per set, so a row says no more. The view's own
   arrays are freed by shared_view_free. */
static int shared_view(const nlsq_shared_result *s, nlsq_batch_result *v)
{
    size_t D = s->nsets;
    memset(v, 0, sizeof *v);
    v->nfits = D;
    v->n = s->n;
    v->popt = s->popt;
    v->perr = s->perr;
    v->cost = s->cost_set;
    v->chi2 = s->chi2_set;
    v->m = s->m;
    v->status = malloc((D ? D : 1) * sizeof *v->status);
    v->nit = malloc((D ? D : 1) * sizeof *v->nit);
    v->nfev = malloc((D ? D : 1) * sizeof *v->nfev);
    v->pcov_valid = malloc(D ? D : 1);
    v->diag_flags = malloc((D ? D : 1) * sizeof *v->diag_flags);
    if (!v->status || !v->nit || !v->nfev || !v->pcov_valid || !v->diag_flags) return die("out of memory");
    for (size_t d = 0; d < D; d++) {
        v->status[d] = s->status;
        v->nit[d] = s->nit;
        v->nfev[d] = s->nfev;
        v->pcov_valid[d] = (unsigned char)(s->pcov_valid != 0);
        v->diag_flags[d] = s->status > 0 ? 0 : NLSQ_DIAG_NOT_CONVERGED;
        for (int j = 0; s->perr && j < s->n; j++)
            if (!isfinite(s->perr[d * (size_t)s->n + j])) v->diag_flags[d] |= NLSQ_DIAG_RANK_DEFICIENT;
    }
    v->converged = s->status > 0 ? D : 0;
    v->failed = s->status < 0 ? D : 0;
    v->method = s->method;
    v->threads = s->threads;
    v->seconds = s->seconds;
    snprintf(v->device, sizeof v->device, "%s", "cpu");
    return 0;
}

static void shared_view_free(nlsq_batch_result *v)
{
    free(v->status);
    free(v->nit);
    free(v->nfev);
    free(v->pcov_valid);
    free(v->diag_flags);
}

/* The global fit on stderr: its outcome, the shared parameters with their
   errors and correlations, the cost and the degrees of freedom. */
static void shared_summary(const cli *c, const dataset *D, const unsigned char *sh, const nlsq_shared_result *s)
{
    int n = s->n;
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t d = 0; d < s->nsets; d++) {
        lo = s->m[d] < lo ? s->m[d] : lo;
        hi = s->m[d] > hi ? s->m[d] : hi;
    }
    fprintf(stderr, "nlsq batch: a global fit of %zu curve%s of %s", s->nsets, s->nsets == 1 ? "" : "s", c->model);
    if (lo == hi)
        fprintf(stderr, " (%zu points each)\n", lo);
    else
        fprintf(stderr, " (%zu to %zu points)\n", s->nsets ? lo : 0, hi);
    fprintf(stderr, "  status %d: %s\n", s->status, s->message[0] ? s->message : nlsq_fit_status_str(s->status));
    fprintf(stderr, "  %s, %d iteration%s, %d evaluation%s, %.3g s, %d thread%s\n", s->method == NLSQ_LM ? "lm" : "trf",
            s->nit, s->nit == 1 ? "" : "s", s->nfev, s->nfev == 1 ? "" : "s", s->seconds, s->threads,
            s->threads == 1 ? "" : "s");
    fprintf(stderr, "  cost %.10g  chi2 %.10g  dof %d  redchi %.6g  (%zu points, %d unknowns)\n", s->cost, s->chi2,
            s->dof, s->redchi, s->m_total, s->n_free);
    /* the curves with an undetermined parameter (an Inf error): all of
       them, or those few whose rows say rank_deficient */
    size_t undetermined = 0;
    for (size_t d = 0; s->perr && d < s->nsets; d++)
        for (int j = 0; j < n; j++)
            if (!isfinite(s->perr[d * (size_t)n + j])) {
                undetermined++;
                break;
            }
    if (!s->pcov_valid && (undetermined == s->nsets || !s->perr))
        fputs("  no covariance: the Jacobian is singular (the data do not determine every parameter) or there are "
              "no degrees of freedom; the errors are inf\n",
              stderr);
    else if (undetermined)
        fprintf(stderr, "  the data do not determine every parameter of %zu curve%s (an error inf): %s trusted 0, "
                "rank_deficient\n",
                undetermined, undetermined == 1 ? "" : "s", undetermined == 1 ? "its row says" : "their rows say");
    fprintf(stderr, "  %-14s %22s %22s\n", "shared", "value", "error");
    for (int j = 0; j < n; j++)
        if (sh[j])
            fprintf(stderr, "  %-14s %22.15g %22.6g\n", nlsq_model_param_name(D->m, j), s->popt[j],
                    s->perr ? s->perr[j] : NAN);
    if (s->n_shared < 2 || !s->shared_pcov) return;
    fprintf(stderr, "  correlation of the shared parameters:\n  %-14s", "");
    for (int j = 0; j < n; j++)
        if (sh[j]) fprintf(stderr, " %9.9s", nlsq_model_param_name(D->m, j));
    fputc('\n', stderr);
    for (int i = 0; i < n; i++) {
        if (!sh[i]) continue;
        fprintf(stderr, "  %-14s", nlsq_model_param_name(D->m, i));
        for (int j = 0; j < n; j++) {
            if (!sh[j]) continue;
            double cij = s->shared_pcov[i * n + j], cii = s->shared_pcov[i * n + i], cjj = s->shared_pcov[j * n + j];
            double r = cij / sqrt(cii * cjj);
            /* none when an error is 0 (fixed) or not finite (not determined) */
            if (cii > 0 && cjj > 0 && isfinite(r))
                fprintf(stderr, " %9.4f", r);
            else
                fprintf(stderr, " %9s", "-");
        }
        fputc('\n', stderr);
    }
}

/* The library's message for the command line: its function's name (which
   a CLI user never called) said as "--shared", a "data set N" in it
   (counted from 0) named as the table names it, its id or its column, and
   a NaN refused under the default policy pointed to --nan-policy omit.
   Returns 2. */
static int shared_failed(const cli *c, const batch_data *d, const dataset *D, const char *message)
{
    static const char who[] = "nlsq_fit_shared: ";
    if (!strncmp(message, who, sizeof who - 1)) message += sizeof who - 1;
    const char *hint = c->opt.nan_policy == NLSQ_NAN_RAISE && strstr(message, "nan_policy raise")
                           ? "; --nan-policy omit drops those points"
                           : "";
    const char *at = strstr(message, "data set ");
    char *end;
    unsigned long long k = at ? strtoull(at + 9, &end, 10) : 0;
    if (!at || end == at + 9 || k >= d->b.nfits) return die("--shared: %s%s", message, hint);
    char id[DTOA_SIZE + 8];
    fit_id(d, D, (size_t)k, id, sizeof id);
    return die("--shared: %s (data set %llu is the %s %s)%s", message, k, d->ids ? "id" : "column", id, hint);
}

/* The global fit of the curves in d, its rows written and its summary
   printed; the command's exit status. */
static int run_shared(const cli *c, const dataset *D, batch_data *d, const covariates *cv, const unsigned char *sh)
{
    nlsq_shared p = nlsq_shared_default();
    p.data = d->b;
    p.shared = sh;
    p.covariate = cv->count ? cv->flag : NULL;
    nlsq_shared_result *s = NULL;
    nlsq_batch_result view;
    nlsq_error err;
    double t0 = now();
    if (nlsq_fit_shared(D->m, &p, &c->opt, NLSQ_BATCH_PERR, &s, &err) != NLSQ_OK)
        return shared_failed(c, d, D, err.message);
    double t1 = now();
    int rc = shared_view(s, &view);
    if (!rc) rc = write_results(c, wants_jsonl(c), d, D, &view);
    if (c->verbose) fprintf(stderr, "nlsq batch: fit %.3f s, write %.3f s\n", t1 - t0, now() - t1);
    if (!c->quiet && cli_writes(c)) shared_summary(c, D, sh, s);
    /* converged without a covariance (a singular Jacobian), or a set whose
       parameters the data do not determine: not to be trusted, as a single
       fit or batch row would say (exit 4) */
    if (!rc)
        rc = s->status <= 0                                                           ? 1
           : (!s->pcov_valid || untrusted_converged(&view)) && !c->accept_untrusted ? EXIT_UNTRUSTED
                                                                                     : 0;
    shared_view_free(&view);
    nlsq_shared_result_free(s);
    return rc;
}

int cmd_batch(const cli_env *env, int argc, char **argv)
{
    cli c;
    cli_init(&c, env);
    const char *pos[2];
    int npos, rc = options_parse(command_find("batch"), argc, argv, &c, pos, 2, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if ((rc = cli_take_data(&c, pos, npos, 0))) return rc;
    if ((rc = shared_refused(&c))) return rc;
    const output_file out = {"--out", c.out};
    /* the output is process 0's to write, and so to check */
    if (cli_writes(&c)) {
        rc = outputs_check(&out, 1, &c.data, 1);
        if (!rc) rc = batch_hdf5_check(&c);
    }
    if ((rc = cli_lead(&c, rc))) return rc;
    cli_pick_device(&c);
    dataset D;
    batch_data d;
    memset(&d, 0, sizeof d);
    param_opts po = {0};
    nlsq_batch_result *r = NULL;
    nlsq_error err;
    covariates cv = {0};
    unsigned char *sh = NULL;
    /* the wide layout's covariates have no column: --x names the others */
    int wide_cov = c.shared && c.covariate && !c.id;
    cli all_x = c;
    all_x.xcols = NULL;
    double t0 = now();
    if ((rc = dataset_load(wide_cov ? &all_x : &c, c.id != NULL, &D))) goto done;
    double t1 = now();
    d.b = nlsq_batch_default();
    if (c.shared) {
        rc = shared_parse(&c, &D, &sh);
        if (!rc) rc = covariates_parse(&c, &D, !c.id, &cv);
        if (!rc && wide_cov) rc = wide_x_columns(&c, &D, &cv);
    }
    if (!rc) rc = c.id ? make_long(&c, &D, &d) : make_wide(&c, &D, &d);
    if (!rc && wide_cov) rc = wide_covariates(&D, &d, &cv);
    if (!rc && c.id && cv.count) rc = long_covariates_check(&D, &d, &cv);
    if (!rc) rc = param_opts_parse(&c, D.m, &po);
    /* (reading the curves may fail on one process: no memory) */
    if ((rc = cli_agree(&c, rc))) goto done;
    if (c.shared) {
        rc = run_shared(&c, &D, &d, &cv, sh);
        goto done;
    }
    double t2 = now();
    if (nlsq_fit_batch(D.m, &d.b, &c.opt, NLSQ_BATCH_PERR, &r, &err) != NLSQ_OK) {
        rc = die("%s", err.message);
        goto done;
    }
    double t3 = now();
    /* the fits are not thrown away when --out fails (a full disk): the
       summary still says how they went, and the message names the file */
    int written = write_results(&c, wants_jsonl(&c), &d, &D, r);
    double t4 = now();
    if (c.verbose)
        fprintf(stderr, "nlsq batch: open %.3f s, read and group %.3f s, fit %.3f s, write %.3f s\n", t1 - t0, t2 - t1,
                t3 - t2, t4 - t3);
    if (!c.quiet && cli_writes(&c)) summary(&c, &d, &D, r);
    rc = written                                       ? written
       : r->converged != r->nfits                      ? 1
       : untrusted_converged(r) && !c.accept_untrusted ? EXIT_UNTRUSTED
                                                       : 0;
done:
    free(sh);
    free(cv.buf);
    nlsq_batch_result_free(r);
    param_opts_free(&po);
    batch_data_free(&d);
    dataset_free(&D);
    return rc;
}
