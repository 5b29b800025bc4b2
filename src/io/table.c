/*
 * Text tables: one pass over the file, one line at a time, numbers parsed
 * by decimal_parse (decimal.c: plain decimals, the bits strtod gives) or
 * else strtod (C locale assumed: the CLI never calls setlocale). The
 * delimiter is chosen on the first data line; every later line must have
 * the same number of fields, and every field must be a number, or the
 * error names the line and field.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"
#include "io/decimal.h"
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

/* Why a line could not be split: the 1-based field and a reason. */
typedef struct split_error {
    int field;
    const char *why;
} split_error;

/* One delimited field starting at s, in place: a double-quoted field may
   hold the delimiter, "" stands for a quote, and only blanks may follow
   the closing quote. Sets *next to where the next field starts, or NULL
   at the end of the line; -1 with the reason for a broken quote. */
static int next_field(char *s, char delim, char **field, char **next, const char **why)
{
    while (*s == ' ' || *s == '\t') {
        if (*s == delim) break;
        s++;
    }
    if (*s != '"') {
        *field = s;
        char *d = strchr(s, delim);
        if (d) *d = '\0';
        *next = d ? d + 1 : NULL;
        return 0;
    }
    char *w = ++s;
    *field = w;
    int closed = 0;
    for (; *s && !closed; s++) {
        if (*s == '"' && s[1] == '"') {
            *w++ = '"';
            s++;
        } else if (*s == '"') {
            closed = 1;
        } else {
            *w++ = *s;
        }
    }
    if (!closed) {
        *why = "has an opening quote and no closing one";
        return -1;
    }
    while (*s == ' ' || *s == '\t') {
        if (*s == delim) break;
        s++;
    }
    if (*s && *s != delim) {
        *why = "has text after its closing quote";
        return -1;
    }
    *w = '\0';
    *next = *s ? s + 1 : NULL;
    return 0;
}

/* Split in place into at most max fields; whitespace mode merges runs of
   blanks. Returns the number of fields, max + 1 when there are more, or
   -1 with *bad set for a broken quote. */
static int split(char *line, char delim, char **fields, int max, split_error *bad)
{
    int n = 0;
    char *s = line;
    if (delim == ' ') {
        for (;;) {
            while (*s == ' ' || *s == '\t') s++;
            if (!*s) break;
            if (n == max) return n + 1;
            fields[n++] = s;
            while (*s && *s != ' ' && *s != '\t') s++;
            if (*s) *s++ = '\0';
        }
        return n;
    }
    while (s) {
        if (n == max) return n + 1;
        if (next_field(s, delim, &fields[n], &s, &bad->why) != 0) {
            bad->field = n + 1;
            return -1;
        }
        n++;
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

enum { NUMBER_OK = 1, NUMBER_BAD = 0, NUMBER_OVERFLOW = -1 };

/* Missing values (an empty field, NA, NaN in any case) read as NaN, for
   nan_policy to deal with; "inf" and "-inf" are written infinities. A
   number beyond the largest double (1e400) is not one of them: strtod
   would make it inf, and the fit would blame a point instead of the
   file, so it is refused here, where the line and field are known. A
   number below the smallest double rounds to it (or to 0), as in any
   reader. */
static int parse_number(const char *s, double *v)
{
    if (decimal_parse(s, v)) return NUMBER_OK; /* the usual field, without strtod */
    if (!*s || strcmp(s, "NA") == 0 || strcasecmp(s, "nan") == 0) {
        *v = NAN;
        return NUMBER_OK;
    }
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (*end != '\0' || end == s) return NUMBER_BAD;
    if (errno == ERANGE && fabs(*v) > 1) return NUMBER_OVERFLOW;
    return NUMBER_OK;
}

/* The most columns a table may have: the sources' limit (fit/source.c). */
enum { MAXCOLS = 256 };

/*
 * The longest line the reader takes. A line of 256 columns of numbers
 * written with 17 digits is under 7 KB, and a header of 256 long names
 * not much more, so 1 MiB is far beyond any real table; it bounds the
 * memory a line can take when the input is not a table at all (/dev/zero,
 * a binary file, one endless line from a pipe), which would otherwise
 * grow until the machine runs out.
 */
enum { LINE_LIMIT = 1 << 20 };

/* Lines from a stream, read in blocks (not getline, which would grow
   without bound on an endless line and cannot tell a NUL from the line's
   end). The bytes a caller has already read from the stream to sniff its
   type (`head`) come first, so a pipe is read exactly once. */
typedef struct line_reader {
    FILE *f;
    char *buf;
    size_t cap, start, end; /* the unread bytes are buf[start, end) */
    int eof;
} line_reader;

enum { LINE_BLOCK = 64 << 10 };

static int line_reader_init(line_reader *lr, FILE *f, const void *head, size_t head_len)
{
    memset(lr, 0, sizeof *lr);
    lr->f = f;
    lr->cap = head_len + LINE_BLOCK + 1;
    lr->buf = malloc(lr->cap);
    if (!lr->buf) return -1;
    if (head_len) memcpy(lr->buf, head, head_len);
    lr->end = head_len;
    return 0;
}

enum { LINE_END = 0, LINE_GOT = 1, LINE_TOO_LONG = -2, LINE_READ_ERROR = -3, LINE_NOMEM = -4 };

/* The next line (without its '\n', NUL-terminated in place) and its
   length, which counts any NUL bytes inside it. */
static int next_line(line_reader *lr, char **line, size_t *len)
{
    for (;;) {
        char *from = lr->buf + lr->start;
        size_t have = lr->end - lr->start;
        char *nl = have ? memchr(from, '\n', have) : NULL;
        if (nl || (lr->eof && have)) {
            *len = nl ? (size_t)(nl - from) : have;
            from[*len] = '\0';
            lr->start += *len + (nl ? 1 : 0);
            *line = from;
            return *len > LINE_LIMIT ? LINE_TOO_LONG : LINE_GOT;
        }
        if (lr->eof) return LINE_END;
        if (have > LINE_LIMIT) return LINE_TOO_LONG;
        if (lr->start) {
            memmove(lr->buf, from, have);
            lr->start = 0;
            lr->end = have;
        }
        if (lr->cap - lr->end < LINE_BLOCK / 2 + 1) {
            size_t cap = lr->cap * 2 > LINE_LIMIT + LINE_BLOCK + 2 ? LINE_LIMIT + LINE_BLOCK + 2 : lr->cap * 2;
            char *b = realloc(lr->buf, cap);
            if (!b) return LINE_NOMEM;
            lr->buf = b;
            lr->cap = cap;
        }
        size_t got = fread(lr->buf + lr->end, 1, lr->cap - lr->end - 1, lr->f);
        lr->end += got;
        if (got == 0) {
            if (ferror(lr->f)) return LINE_READ_ERROR;
            lr->eof = 1;
        }
    }
}

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

static nlsq_status data_error(nlsq_error *err, int line, int column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static nlsq_status data_error(nlsq_error *err, int line, int column, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    error_set(err, NLSQ_ERR_DATA, line, column, "%s", what);
    return NLSQ_ERR_DATA;
}

/* Why the line reader stopped, as an error; NLSQ_OK at the end. */
static nlsq_status reader_status(int got, const char *path, int lineno, nlsq_error *err)
{
    switch (got) {
    case LINE_TOO_LONG:
        return data_error(err, lineno, 0,
                          "%s:%d: a line longer than %d MiB: not a text table (binary data, or no line ends?)", path,
                          lineno, LINE_LIMIT >> 20);
    case LINE_READ_ERROR: return data_error(err, lineno, 0, "%s: %s", path, strerror(errno ? errno : EIO));
    case LINE_NOMEM:
        error_set(err, NLSQ_ERR_NOMEM, lineno, 0, "%s:%d: out of memory", path, lineno);
        return NLSQ_ERR_NOMEM;
    default: return NLSQ_OK;
    }
}

/* The fields of one line as numbers into v, or the error naming the field. */
static nlsq_status parse_fields(char **fields, int n, double *v, const char *path, int lineno, nlsq_error *err)
{
    for (int c = 0; c < n; c++) {
        char *fs = trim(fields[c]);
        int got = parse_number(fs, &v[c]);
        if (got == NUMBER_OVERFLOW)
            return data_error(err, lineno, c + 1,
                              "%s:%d: field %d (\"%.40s\") is beyond the range of a double (about 1.8e308)", path,
                              lineno, c + 1, fs);
        if (got == NUMBER_BAD)
            return data_error(err, lineno, c + 1, "%s:%d: field %d (\"%.40s\") is not a number", path, lineno, c + 1,
                              fs);
    }
    return NLSQ_OK;
}

/* Whether every field is a number (else the first row is a header). A
   number out of range is a number: the row is data, refused with its
   field, not taken for a header and lost. */
static int all_numbers(char **fields, int n, double *v)
{
    for (int c = 0; c < n; c++)
        if (parse_number(trim(fields[c]), &v[c]) == NUMBER_BAD) return 0;
    return 1;
}

nlsq_status table_scan_from(FILE *f, const void *head, size_t head_len, const char *path, char delim_force,
                            table_row_fn row, void *ctx, nlsq_error *err)
{
    line_reader lr;
    if (line_reader_init(&lr, f, head, head_len) != 0) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", path);
        return NLSQ_ERR_NOMEM;
    }
    char *line, *fields[MAXCOLS + 1];
    size_t len, rows = 0;
    int lineno = 0, ncols = -1, got;
    char delim = delim_force;
    double v[MAXCOLS];
    nlsq_status st = NLSQ_OK;
    errno = 0;
    while (st == NLSQ_OK && (got = next_line(&lr, &line, &len)) == LINE_GOT) {
        lineno++;
        char *nul = memchr(line, '\0', len);
        if (nul) {
            st = data_error(err, lineno, (int)(nul - line) + 1,
                            "%s:%d: a NUL byte at column %d: not a text table (binary data?)", path, lineno,
                            (int)(nul - line) + 1);
            break;
        }
        /* a UTF-8 byte order mark is not part of the first field */
        if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) line += 3;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        if (!delim) delim = pick_delimiter(s);
        split_error bad = {0, NULL};
        int n = split(s, delim, fields, MAXCOLS, &bad);
        if (n < 0) {
            st = data_error(err, lineno, bad.field, "%s:%d: field %d %s", path, lineno, bad.field, bad.why);
            break;
        }
        if (n > MAXCOLS) {
            st = data_error(err, lineno, 0, "%s:%d: more than %d columns", path, lineno, MAXCOLS);
            break;
        }
        if (ncols < 0) {
            ncols = n;
            if (!all_numbers(fields, n, v)) {
                for (int c = 0; c < n; c++) fields[c] = trim(fields[c]);
                if (row(ctx, n, fields, NULL) != 0) {
                    st = NLSQ_ERR_NOMEM;
                    error_set(err, st, 0, 0, "%s: out of memory or a write error at the header", path);
                }
                continue;
            }
        }
        if (n != ncols) {
            st = data_error(err, lineno, 0, "%s:%d: %d fields, but the table has %d columns", path, lineno, n, ncols);
            break;
        }
        if ((st = parse_fields(fields, n, v, path, lineno, err)) != NLSQ_OK) break;
        if (row(ctx, n, NULL, v) != 0) {
            st = NLSQ_ERR_NOMEM;
            error_set(err, st, lineno, 0, "%s:%d: out of memory or a write error after %zu rows", path, lineno, rows);
            break;
        }
        rows++;
    }
    if (st == NLSQ_OK) st = reader_status(got, path, lineno + 1, err);
    free(lr.buf);
    if (st == NLSQ_OK && rows == 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: no rows of numbers", path);
        st = NLSQ_ERR_DATA;
    }
    return st;
}

nlsq_status table_scan(FILE *f, const char *path, char delim_force, table_row_fn row, void *ctx, nlsq_error *err)
{
    return table_scan_from(f, NULL, 0, path, delim_force, row, ctx, err);
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

nlsq_status table_read_stream(FILE *f, const void *head, size_t head_len, const char *path, char delim_force, table *t,
                              nlsq_error *err)
{
    memset(t, 0, sizeof *t);
    table_builder tb = {t, 0};
    nlsq_status st = table_scan_from(f, head, head_len, path, delim_force, table_row, &tb, err);
    if (st != NLSQ_OK) table_free(t);
    return st;
}
