/*
 * Text tables: one pass over the file, one line at a time, numbers parsed
 * with strtod (C locale assumed: the CLI never calls setlocale). The
 * delimiter is chosen on the first data line; every later line must have
 * the same number of fields, and every field must be a number, or the
 * error names the line and field.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>

#include "io.h"
#include "model/model.h"

void table_free(table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        if (t->names) free(t->names[c]);
        if (t->cols) free(t->cols[c]);
    }
    free(t->names);
    free(t->cols);
    memset(t, 0, sizeof *t);
}

static char pick_delimiter(const char *line)
{
    if (strchr(line, ',')) return ',';
    if (strchr(line, ';')) return ';';
    if (strchr(line, '\t')) return '\t';
    return ' ';
}

/* One delimited field starting at s, in place: a double-quoted field may
   hold the delimiter, "" stands for a quote. Returns where the next field
   starts, or NULL at the end of the line. */
static char *next_field(char *s, char delim, char **field)
{
    while (*s == ' ' || *s == '\t') {
        if (*s == delim) break;
        s++;
    }
    if (*s != '"') {
        *field = s;
        char *d = strchr(s, delim);
        if (!d) return NULL;
        *d = '\0';
        return d + 1;
    }
    char *w = ++s;
    *field = w;
    for (; *s; s++) {
        if (*s == '"' && s[1] == '"') {
            *w++ = '"';
            s++;
        } else if (*s == '"') {
            s++;
            break;
        } else {
            *w++ = *s;
        }
    }
    char *d = strchr(s, delim);
    *w = '\0';
    return d ? d + 1 : NULL;
}

/* Split in place; whitespace mode merges runs of blanks. */
static int split(char *line, char delim, char **fields, int max)
{
    int n = 0;
    char *s = line;
    if (delim == ' ') {
        while (n < max) {
            while (*s == ' ' || *s == '\t') s++;
            if (!*s) break;
            fields[n++] = s;
            while (*s && *s != ' ' && *s != '\t') s++;
            if (*s) *s++ = '\0';
        }
        return n;
    }
    while (s) {
        if (n == max) return n + 1;
        s = next_field(s, delim, &fields[n++]);
    }
    return n;
}

/* Strip white space, \r of CRLF line ends included. Quotes are the field
   splitter's business. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

/* Missing values (an empty field, NA, NaN in any case) read as NaN, for
   nan_policy to deal with. */
static int parse_number(const char *s, double *v)
{
    if (!*s || strcmp(s, "NA") == 0 || strcasecmp(s, "nan") == 0) {
        *v = NAN;
        return 1;
    }
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0';
}

enum { MAXCOLS = 256 };

static int add_row(table *t, const double *v, size_t *cap)
{
    if (t->nrows == *cap) {
        size_t nc = *cap ? 2 * *cap : 1024;
        for (int c = 0; c < t->ncols; c++) {
            double *p = realloc(t->cols[c], nc * sizeof *p);
            if (!p) return 0;
            t->cols[c] = p;
        }
        *cap = nc;
    }
    for (int c = 0; c < t->ncols; c++) t->cols[c][t->nrows] = v[c];
    t->nrows++;
    return 1;
}

static int start_table(table *t, int ncols, char **fields, int header)
{
    t->ncols = ncols;
    t->names = calloc((size_t)ncols, sizeof *t->names);
    t->cols = calloc((size_t)ncols, sizeof *t->cols);
    if (!t->names || !t->cols) return 0;
    for (int c = 0; c < ncols; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c + 1);
        t->names[c] = strdup(header ? fields[c] : num);
        if (!t->names[c]) return 0;
    }
    return 1;
}

nlsq_status table_scan(FILE *f, const char *path, char delim_force, table_row_fn row, void *ctx, nlsq_error *err)
{
    char *line = NULL, *fields[MAXCOLS + 1];
    size_t len = 0, rows = 0;
    int lineno = 0, ncols = -1;
    char delim = delim_force;
    double v[MAXCOLS];
    nlsq_status st = NLSQ_OK;
    while (getline(&line, &len, f) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        if (!delim) delim = pick_delimiter(s);
        int n = split(s, delim, fields, MAXCOLS);
        if (n > MAXCOLS) {
            error_set(err, NLSQ_ERR_DATA, lineno, 0, "%s:%d: more than %d columns", path, lineno, MAXCOLS);
            st = NLSQ_ERR_DATA;
            break;
        }
        int numeric = 1;
        for (int c = 0; c < n && numeric; c++) numeric = parse_number(trim(fields[c]), &v[c]);
        if (ncols < 0) {
            ncols = n;
            if (!numeric) {
                for (int c = 0; c < n; c++) fields[c] = trim(fields[c]);
                if (row(ctx, n, fields, NULL) != 0) {
                    st = NLSQ_ERR_NOMEM;
                    error_set(err, st, 0, 0, "%s: out of memory or a write error at the header", path);
                    break;
                }
                continue;
            }
        }
        if (n != ncols) {
            error_set(err, NLSQ_ERR_DATA, lineno, 0, "%s:%d: %d fields, but the table has %d columns", path, lineno, n,
                      ncols);
            st = NLSQ_ERR_DATA;
            break;
        }
        for (int c = 0; c < n; c++) {
            char *fs = trim(fields[c]);
            if (!parse_number(fs, &v[c])) {
                error_set(err, NLSQ_ERR_DATA, lineno, c + 1, "%s:%d: field %d (\"%.40s\") is not a number", path,
                          lineno, c + 1, fs);
                st = NLSQ_ERR_DATA;
                break;
            }
        }
        if (st != NLSQ_OK) break;
        if (row(ctx, n, NULL, v) != 0) {
            st = NLSQ_ERR_NOMEM;
            error_set(err, st, lineno, 0, "%s:%d: out of memory or a write error after %zu rows", path, lineno, rows);
            break;
        }
        rows++;
    }
    free(line);
    if (st == NLSQ_OK && rows == 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: no rows of numbers", path);
        st = NLSQ_ERR_DATA;
    }
    return st;
}

typedef struct table_builder {
    table *t;
    size_t cap;
} table_builder;

static int table_row(void *ctx, int n, char **names, const double *v)
{
    table_builder *tb = ctx;
    if (!tb->t->cols && !start_table(tb->t, n, names, names != NULL)) return -1;
    if (names) return 0;
    return add_row(tb->t, v, &tb->cap) ? 0 : -1;
}

nlsq_status table_read_stream(FILE *f, const char *path, char delim_force, table *t, nlsq_error *err)
{
    memset(t, 0, sizeof *t);
    table_builder tb = {t, 0};
    nlsq_status st = table_scan(f, path, delim_force, table_row, &tb, err);
    if (st != NLSQ_OK) table_free(t);
    return st;
}
