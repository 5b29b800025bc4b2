/*
 * The data and the model of fit, batch and eval. Every data file becomes a
 * source: a .npy file is mapped, a raw binary file read in place, a large
 * text file converted once into a column cache, a small text table (or
 * the demo's bundled table) read into memory, and what is not a regular
 * file (standard input, a pipe, a FIFO) read into memory exactly once — so
 * what follows (the fit, predictions, the plot, a batch's columns) has
 * one path whatever the data.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r, sysconf */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Text files above this size go through the column cache. */
#define TEXT_IN_MEMORY_LIMIT ((long long)64 << 20)

/* Whether path can be opened again and read from the start: a regular
   file. What cannot (a pipe, a FIFO, /dev/stdin, <(...), a terminal, a
   device) is read once, whole, by nlsq_source_load, which tells a .npy
   from text by the bytes it keeps. A path that does not exist or is a
   directory goes there too, for its message. */
static int is_regular_file(const char *path)
{
    struct stat sb;
    return strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Only for a regular file: reading its start does not consume it. */
static int is_npy_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[6];
    int yes = f && fread(magic, 1, 6, f) == 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
    if (f) fclose(f);
    return yes;
}

/* HDF5's signature, at 0 or after a user block (512, 1024, ... bytes). */
static int is_hdf5_file(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "rb");
    unsigned char head[8];
    int yes = 0;
    for (long at = 0; f && !yes && at <= (1L << 20); at = at ? 2 * at : 512)
        yes = fseek(f, at, SEEK_SET) == 0 && fread(head, 1, 8, f) == 8 && memcmp(head, sig, 8) == 0;
    if (f) fclose(f);
    return yes;
}

static int is_npz_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[4];
    int yes = f && fread(magic, 1, 4, f) == 4 &&
              (memcmp(magic, "PK\x03\x04", 4) == 0 || memcmp(magic, "PK\x05\x06", 4) == 0);
    if (f) fclose(f);
    return yes;
}

/* "FILE:NAME,..." naming datasets or members of an existing file (the
   last ':' with a regular file on its left, as nlsq_source_open_file
   splits it). */
static int is_named_spec(const char *spec)
{
    if (is_regular_file(spec)) return 0;
    size_t len = strlen(spec);
    char *copy = malloc(len + 1);
    int yes = 0;
    if (!copy) return 0;
    memcpy(copy, spec, len + 1);
    for (char *c = copy + len; !yes && c-- > copy + 1;)
        if (*c == ':') {
            *c = '\0';
            yes = is_regular_file(copy);
        }
    free(copy);
    return yes;
}

/* An HDF5 file named without datasets, with --x/--y/--sigma giving
   dataset paths ('/...'): "FILE:X,...,Y,SIGMA" opens just those (each
   once); column_find then finds them by name. NULL: open the file as it
   is (its NeXus default plot). */
static char *hdf5_spec_from_options(const cli *c, const char *path)
{
    const char *opts[3] = {c->xcols, c->ycol, c->sigcol};
    size_t len = strlen(path) + 2;
    for (int k = 0; k < 3; k++) len += opts[k] ? strlen(opts[k]) + 1 : 0;
    char *spec = malloc(len), *names = NULL;
    if (!spec) return NULL;
    int n = snprintf(spec, len, "%s:", path), any = 0;
    names = spec + n;
    for (int k = 0; k < 3; k++) {
        if (!opts[k]) continue;
        char *copy = strdup(opts[k]), *save = NULL;
        for (char *s = copy ? strtok_r(copy, ",", &save) : NULL; s; s = strtok_r(NULL, ",", &save)) {
            if (s[0] != '/') continue;
            /* a 2-D dataset's column (/table:2) opens the dataset /table */
            char *colon = strrchr(s, ':');
            if (colon && colon[1] && !strchr(colon, '/') && strspn(colon + 1, "0123456789") == strlen(colon + 1))
                *colon = '\0';
            /* each dataset once: x and y may name the same one */
            int seen = 0;
            for (char *p = names; !seen && (p = strstr(p, s)) != NULL; p += strlen(s))
                seen = (p == names || p[-1] == ',') && (p[strlen(s)] == ',' || p[strlen(s)] == '\0');
            if (seen) continue;
            size_t used = strlen(spec);
            snprintf(spec + used, len - used, "%s%s", any ? "," : "", s);
            any = 1;
        }
        free(copy);
    }
    if (!any) {
        free(spec);
        return NULL;
    }
    return spec;
}

/* An HDF5 file or an .npz (or one of them with names after ':') through
   nlsq_source_open_file. */
static nlsq_status open_container(const cli *c, const char *path, const nlsq_text_options *to, nlsq_source **src,
                                  nlsq_error *err)
{
    /* (with several files, each names its datasets after ':') */
    char *spec = !c->nmore && is_regular_file(path) && is_hdf5_file(path) ? hdf5_spec_from_options(c, path) : NULL;
    nlsq_status st = nlsq_source_open_file(spec ? spec : path, to, src, err);
    free(spec);
    return st;
}

/* "f8:3", ">f4:2:columns:128" */
static int parse_raw(const char *spec, nlsq_raw_layout *l)
{
    *l = nlsq_raw_layout_default();
    char copy[128], *save = NULL;
    if (strlen(spec) >= sizeof copy) return -1; /* not cut short silently */
    snprintf(copy, sizeof copy, "%s", spec);
    char *dtype = strtok_r(copy, ":", &save), *ncols = strtok_r(NULL, ":", &save);
    char *order = strtok_r(NULL, ":", &save), *offset = strtok_r(NULL, ":", &save);
    if (!dtype || !ncols) return -1;
    if (*dtype == '>' || *dtype == '<') l->big_endian = *dtype++ == '>';
    if (strcmp(dtype, "f8") == 0 || strcmp(dtype, "float64") == 0)
        l->dtype = NLSQ_FLOAT64;
    else if (strcmp(dtype, "f4") == 0 || strcmp(dtype, "float32") == 0)
        l->dtype = NLSQ_FLOAT32;
    else
        return -1;
    char *end;
    long n = strtol(ncols, &end, 10);
    if (*end || n < 1 || n > 256) return -1;
    l->ncols = (int)n;
    if (order && strcmp(order, "columns") == 0)
        l->column_major = 1;
    else if (order && strcmp(order, "rows") != 0)
        return -1;
    if (offset) {
        errno = 0;
        unsigned long long off = strtoull(offset, &end, 10);
        /* a whole number in range: not -1, 1e3 or one that saturates */
        if (*end || end == offset || *offset == '-' || *offset == '+' || errno == ERANGE || off != (size_t)off)
            return -1;
        l->offset = (size_t)off;
    }
    return 0;
}

/* Whether a text file is read into memory rather than through a column
   cache: 1 yes, 0 no, or an exit status >= 2 after printing why not. */
static int text_in_memory(const cli *c, const char *path, int joined)
{
    if (joined) return 0;
    struct stat sb;
    long long size = stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
    if (!c->in_memory && (c->column_cache || size > TEXT_IN_MEMORY_LIMIT)) return 0;
    /* a table in memory takes about 8/3 of the text's bytes */
    long pages = sysconf(_SC_AVPHYS_PAGES), pagesize = sysconf(_SC_PAGESIZE);
    double avail = pages > 0 && pagesize > 0 ? (double)pages * (double)pagesize : INFINITY;
    if (c->in_memory && (double)size * 8 / 3 > avail / 2)
        return die("%s: too large to read into memory (%.3g GB of text, %.3g GB available); drop --in-memory and it "
                   "is read through a column cache in constant memory",
                   path, (double)size * 1e-9, avail * 1e-9);
    return 1;
}

/* One data file as a source; 0, or the exit status after printing why. */
static int open_one(const cli *c, const char *path, int joined, nlsq_source **src)
{
    nlsq_error err;
    nlsq_status st;
    nlsq_text_options to = nlsq_text_options_default();
    to.delimiter = (char)c->delim;
    if (c->raw) {
        nlsq_raw_layout l;
        if (parse_raw(c->raw, &l) != 0)
            return die("--raw takes DTYPE:NCOLS[:rows|columns[:OFFSET]] with DTYPE f8 or f4, got '%s'", c->raw);
        if (strcmp(path, "-") == 0) return die("--raw needs a file, not standard input");
        st = nlsq_source_open_raw(path, &l, src, &err);
    } else if (strcmp(path, "-") != 0 &&
               (is_named_spec(path) || (is_regular_file(path) && (is_hdf5_file(path) || is_npz_file(path))))) {
        st = open_container(c, path, &to, src, &err);
    } else if (!is_regular_file(path)) {
        st = nlsq_source_load(path, &to, src, &err);
    } else if (is_npy_file(path)) {
        st = nlsq_source_open_npy(path, src, &err);
    } else {
        int rc = text_in_memory(c, path, joined);
        if (rc >= 2) return rc;
        if (rc == 1) {
            st = nlsq_source_load_text(path, &to, src, &err);
        } else {
            to.cache_path = c->column_cache && strcmp(c->column_cache, "auto") != 0 ? c->column_cache : NULL;
            if (c->verbose) fprintf(stderr, "nlsq: %s: reading through a column cache\n", path);
            st = nlsq_source_open_text(path, &to, src, &err);
        }
    }
    if (st != NLSQ_OK) return die("%s", err.message);
    return 0;
}

/* DATA (and the files after it, joined column after column); 0, or the
   exit status after printing why. */
static int open_data(const cli *c, nlsq_source **src)
{
    *src = NULL;
    nlsq_error err;
    if (c->env && c->env->size > 1 && strcmp(c->data, "-") == 0)
        return die("standard input reaches rank 0 alone: nlsq-mpi needs a file every rank can open");
    if (c->text) {
        if (nlsq_source_load_text_buffer(c->text, c->text_len, c->data, NULL, src, &err) != NLSQ_OK)
            return die("%s", err.message);
        return 0;
    }
    if (!c->nmore) return open_one(c, c->data, 0, src);
    if (c->column_cache && strcmp(c->column_cache, "auto") != 0 && !c->raw)
        return die("--column-cache FILE names one cache; with several data files use --column-cache auto");
    nlsq_source *parts[MAX_DATA_FILES];
    int n = 0, rc = 0;
    for (int k = 0; k <= c->nmore && rc == 0; k++)
        if ((rc = open_one(c, k ? c->more[k - 1] : c->data, 1, &parts[n])) == 0) n++;
    if (rc == 0 && nlsq_source_join(parts, n, src, &err) != NLSQ_OK) rc = die("%s", err.message);
    if (rc != 0)
        for (int k = 0; k < n; k++) nlsq_source_free(parts[k]);
    return rc;
}

static int parse_model(const cli *c, nlsq_model **m)
{
    nlsq_error err;
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = c->vars;
    mo.params = c->params;
    if (nlsq_model_parse(c->model, &mo, m, &err) == NLSQ_OK) return 0;
    die("--model: %s", err.message);
    /* 3 is for the text; a refused list or no memory is not its fault */
    return err.code == NLSQ_ERR_NAME_CONFLICT || err.code == NLSQ_ERR_INVALID_ARGUMENT || err.code == NLSQ_ERR_NOMEM
             ? 2
             : 3;
}

int column_find(const nlsq_source *src, const char *key, const char *what)
{
    int ncols = nlsq_source_num_columns(src);
    for (int c = 0; c < ncols; c++)
        if (strcmp(nlsq_source_column_name(src, c), key) == 0) return c;
    char *end;
    long k = strtol(key, &end, 10);
    if (*key && !*end && k >= 1 && k <= ncols) return (int)k - 1;
    /* an HDF5 dataset by the last part of its path ("counts" for
       /entry/data/counts), when only one column ends so */
    int found = -1, many = 0;
    for (int c = 0; c < ncols && !strchr(key, '/'); c++) {
        const char *name = nlsq_source_column_name(src, c), *slash = strrchr(name, '/');
        if (name[0] == '/' && strcmp(slash + 1, key) == 0) many += found >= 0, found = c;
    }
    if (found >= 0 && !many) return found;
    char names[512] = "";
    if (many) {
        for (int c = 0; c < ncols && strlen(names) < sizeof names - 80; c++) {
            const char *name = nlsq_source_column_name(src, c), *slash = strrchr(name, '/');
            if (name[0] == '/' && strcmp(slash + 1, key) == 0)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "", name);
        }
        die("'%s' for %s ends the paths of several columns (%s); give the full path", key, what, names);
        return -1;
    }
    for (int c = 0; c < ncols && strlen(names) < sizeof names - 80; c++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", c ? ", " : "",
                 nlsq_source_column_name(src, c));
    die("no column '%s' for %s in the data (columns: %s; or a number 1-%d)", key, what, names, ncols);
    return -1;
}

/* The default y: the column after the x columns (after the last of them
   in the file, whichever order --x names them in), as `nlsq help` says. */
static int column_after(const int *xc, int k)
{
    int last = -1;
    for (int i = 0; i < k; i++)
        if (xc[i] > last) last = xc[i];
    return last + 1;
}

/* The uncertainties of a NeXus default plot (axes, signal, errors: HDF5
   datasets, named by path): the column after y when it is the signal's
   "<signal>_errors" or "errors"; else -1. */
static int nexus_errors_column(const nlsq_source *src, int k)
{
    if (nlsq_source_num_columns(src) != k + 2) return -1;
    const char *y = nlsq_source_column_name(src, k), *e = nlsq_source_column_name(src, k + 1);
    const char *ys = strrchr(y, '/'), *es = strrchr(e, '/');
    if (y[0] != '/' || e[0] != '/' || !ys || !es) return -1;
    size_t ylen = strlen(ys + 1);
    int own = strncmp(es + 1, ys + 1, ylen) == 0 && strcmp(es + 1 + ylen, "_errors") == 0;
    return own || strcmp(es + 1, "errors") == 0 ? k + 1 : -1;
}

/* The x, y (when need_y) and sigma columns; 0, or 2 after printing why. */
static int pick_columns(const cli *c, dataset *d, int need_y)
{
    int k = d->k, ncols = nlsq_source_num_columns(d->src);
    if (c->xcols) {
        char *copy = strdup(c->xcols), *save = NULL;
        int i = 0, bad = !copy ? die("out of memory") : 0;
        for (char *s = copy ? strtok_r(copy, ",", &save) : NULL; s && !bad; s = strtok_r(NULL, ",", &save)) {
            if (i == k) {
                bad = die("--x names more columns than the model's variables (%s)", c->vars);
                break;
            }
            if ((d->xc[i++] = column_find(d->src, s, "--x")) < 0) bad = 2;
        }
        free(copy);
        if (bad) return 2;
        if (i != k) return die("--x names fewer columns than the model's variables (%s)", c->vars);
    } else {
        if (k > ncols) return die("the data has too few columns for the variables (%s)", c->vars);
        for (int i = 0; i < k; i++) d->xc[i] = i;
    }
    if (need_y) {
        d->yc = c->ycol ? column_find(d->src, c->ycol, "--y") : column_after(d->xc, k);
        if (d->yc < 0) return 2;
        if (d->yc >= ncols) {
            if (c->xcols) return die("no column after the x columns (%s) for y: give --y COL", c->xcols);
            return die("the data has too few columns for the variables (%s) and y", c->vars);
        }
    }
    if (c->sigcol && (d->sc = column_find(d->src, c->sigcol, "--sigma")) < 0) return 2;
    if (!c->sigcol && !c->xcols && !c->ycol) d->sc = nexus_errors_column(d->src, k);
    return 0;
}

/* --per-rank: this rank's own piece, DATA with {rank} replaced by its
   number; 0, or the exit status after printing why. */
static int open_piece(const cli *c, nlsq_source **src)
{
    *src = NULL;
    int rank = c->env ? c->env->rank : 0, size = c->env ? c->env->size : 1;
    if (c->nmore || c->text || strcmp(c->data, "-") == 0)
        return die("--per-rank takes one data file name holding {rank} (not several files or stdin)");
    const char *mark = strstr(c->data, "{rank}");
    if (!mark && size > 1) return die("--per-rank: '%s' has no {rank} to name each rank's piece by", c->data);
    char path[4096];
    if (mark)
        snprintf(path, sizeof path, "%.*s%d%s", (int)(mark - c->data), c->data, rank, mark + 6);
    else
        snprintf(path, sizeof path, "%s", c->data);
    return open_one(c, path, 0, src);
}

/* The pieces as one source, every rank together (nlsq_source_from_pieces). */
static int join_pieces(const cli *c, nlsq_source **src)
{
    const nlsq_group *g = c->env ? c->env->group : NULL;
    if (!g || g->size <= 1) return 0;
    nlsq_source *whole;
    nlsq_error err;
    if (nlsq_source_from_pieces(*src, g, &whole, &err) != NLSQ_OK) return die("--per-rank: %s", err.message);
    *src = whole;
    return 0;
}

int dataset_load(const cli *c, int need_y, dataset *d)
{
    memset(d, 0, sizeof *d);
    d->yc = d->sc = -1;
    /* In a group process 0 opens the data first: a large text file is
       converted into its column cache once, and the others, let go by
       its status, find that cache instead of each building it. Pieces
       are each rank's own files: opened at once. */
    int rc = cli_writes(c) || c->per_rank ? 0 : cli_lead(c, 0);
    if (!rc) rc = c->per_rank ? open_piece(c, &d->src) : open_data(c, &d->src);
    if (cli_writes(c) && !c->per_rank) cli_lead(c, rc);
    rc = cli_agree(c, rc);
    if (!rc && c->per_rank) rc = join_pieces(c, &d->src); /* collective: the same status everywhere */
    if (!rc) rc = parse_model(c, &d->m);
    if (rc) return rc;
    d->k = nlsq_model_num_vars(d->m);
    d->n = nlsq_model_num_params(d->m);
    if (d->k > MAX_VARS) return die("more than %d variables", MAX_VARS);
    return pick_columns(c, d, need_y);
}

void dataset_free(dataset *d)
{
    nlsq_model_free(d->m);
    nlsq_source_free(d->src);
    memset(d, 0, sizeof *d);
}

double *column_read(nlsq_source *src, int col, size_t first, size_t count)
{
    double *v = malloc((count ? count : 1) * sizeof *v);
    nlsq_error err;
    if (!v) {
        die("out of memory for %zu rows of column %s", count, nlsq_source_column_name(src, col));
        return NULL;
    }
    if (nlsq_source_read(src, col, first, count, v, &err) != NLSQ_OK) {
        die("%s", err.message);
        free(v);
        return NULL;
    }
    return v;
}
