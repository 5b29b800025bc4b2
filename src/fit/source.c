/*
 * Data sources: tables of columns that a pass reads in windows of rows.
 * Five kinds — caller arrays, mapped files (.npy, raw binary, and the
 * column cache of a text table, which is a .npy), a caller callback,
 * several sources side by side, and a reader implemented elsewhere through
 * source_ops (an HDF5 file) — behind two operations: read some columns
 * of a range of rows into buffers, and, where the values already lie in
 * memory as native doubles, give a pointer to them so nothing is copied.
 *
 * Mapped pages are handed back (MADV_DONTNEED) as soon as a window is
 * done: they stay in the page cache, so the next pass finds them, but they
 * stop counting as this process's resident memory, which is what makes a
 * 16 GB file fit in a few MB of RSS.
 */
#define _DEFAULT_SOURCE /* madvise */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "source.h"

enum { SRC_ARRAYS, SRC_MAPPED, SRC_CALLBACK, SRC_JOIN, SRC_OPS };

enum { MAX_COLUMNS = 256 };

struct nlsq_source {
    int kind, ncols;
    size_t nrows;
    char **names; /* ncols names */
    char desc[320];
    /* arrays */
    const double **cols;
    int owns_cols; /* a table read into memory: cols are ours */
    /* mapped */
    int fd;
    unsigned char *map;
    size_t map_len, data_offset;
    int elsize, swap, column_major;
    int guard;            /* the mapping's slot in mapguard.c, or -1 */
    char *path;           /* the mapped file, for messages */
    struct stat identity; /* of the open file when mapped: its size and
                             modification time must not change */
    /* callback */
    nlsq_fill_fn fill;
    void *user;
    int thread_safe;
    pthread_mutex_t lock;
    /* join */
    nlsq_source **parts;
    int nparts;
    int *part_of, *col_in_part;
    /* ops */
    const source_ops *ops;
    void *impl;
    /* the file it was made from (source_set_origin) */
    int has_origin;
    dev_t origin_dev;
    ino_t origin_ino;
};

/* A source with ncols numbered columns ("1", "2", ...). */
static nlsq_source *source_new(int kind, int ncols, size_t nrows)
{
    nlsq_source *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->kind = kind;
    s->ncols = ncols;
    s->nrows = nrows;
    s->fd = -1;
    s->guard = -1;
    s->names = calloc((size_t)ncols, sizeof *s->names);
    if (!s->names) {
        free(s);
        return NULL;
    }
    for (int c = 0; c < ncols; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c + 1);
        if (!(s->names[c] = strdup(num))) {
            nlsq_source_free(s);
            return NULL;
        }
    }
    return s;
}

void nlsq_source_free(nlsq_source *s)
{
    if (!s) return;
    for (int c = 0; s->names && c < s->ncols; c++) free(s->names[c]);
    free(s->names);
    for (int c = 0; s->owns_cols && c < s->ncols; c++) free((double *)s->cols[c]);
    free(s->cols);
    map_guard_remove(s->guard);
    if (s->map) munmap(s->map, s->map_len);
    free(s->path);
    if (s->fd >= 0) close(s->fd);
    if (s->kind == SRC_CALLBACK) pthread_mutex_destroy(&s->lock);
    if (s->kind == SRC_OPS && s->ops->close) s->ops->close(s->impl);
    for (int k = 0; k < s->nparts; k++) nlsq_source_free(s->parts[k]);
    free(s->parts);
    free(s->part_of);
    free(s->col_in_part);
    free(s);
}

size_t nlsq_source_num_rows(const nlsq_source *s)
{
    return s ? s->nrows : 0;
}
int nlsq_source_num_columns(const nlsq_source *s)
{
    return s ? s->ncols : 0;
}
const char *nlsq_source_describe(const nlsq_source *s)
{
    return s ? s->desc : "";
}

const char *nlsq_source_column_name(const nlsq_source *s, int col)
{
    return s && col >= 0 && col < s->ncols ? s->names[col] : NULL;
}

int source_set_names(nlsq_source *s, char **names)
{
    for (int c = 0; c < s->ncols; c++) {
        char *copy = strdup(names[c]);
        if (!copy) return -1;
        free(s->names[c]);
        s->names[c] = copy;
    }
    return 0;
}

void source_set_description(nlsq_source *s, const char *desc)
{
    snprintf(s->desc, sizeof s->desc, "%s", desc);
}

/* ---- caller arrays ------------------------------------------------------ */

nlsq_status nlsq_source_from_arrays(const double *const *cols, int ncols, size_t nrows, nlsq_source **out,
                                    nlsq_error *err)
{
    error_clear(err);
    if (!out) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_from_arrays: out is NULL");
    *out = NULL;
    if (!cols || ncols < 1 || ncols > MAX_COLUMNS)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_from_arrays: %s",
                          !cols ? "cols is NULL" : "ncols must be 1 to 256");
    for (int c = 0; c < ncols; c++)
        if (!cols[c] && nrows > 0)
            return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_from_arrays: column %d is NULL", c);
    nlsq_source *s = source_new(SRC_ARRAYS, ncols, nrows);
    if (s) s->cols = malloc((size_t)ncols * sizeof *s->cols);
    if (!s || !s->cols) {
        nlsq_source_free(s);
        return error_fail(err, NLSQ_ERR_NOMEM, "nlsq_source_from_arrays: out of memory");
    }
    memcpy(s->cols, cols, (size_t)ncols * sizeof *cols);
    snprintf(s->desc, sizeof s->desc, "arrays: %zu x %d float64, in memory", nrows, ncols);
    *out = s;
    return NLSQ_OK;
}

nlsq_source *source_adopt_table(table *t, const char *name)
{
    nlsq_source *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->kind = SRC_ARRAYS;
    s->fd = -1;
    s->guard = -1;
    s->ncols = t->ncols;
    s->nrows = t->nrows;
    s->names = t->names;
    s->cols = (const double **)t->cols;
    s->owns_cols = 1;
    snprintf(s->desc, sizeof s->desc, "%s: %zu x %d float64, in memory", name, t->nrows, t->ncols);
    memset(t, 0, sizeof *t);
    return s;
}

/* ---- mapped files ------------------------------------------------------ */

/* Map `path` read-only; the data (rows x ncols of elsize bytes) start at
   data_offset and must all be inside the file. */
static nlsq_status map_file(nlsq_source *s, const char *path, nlsq_error *err)
{
    struct stat st;
    if (fstat(s->fd, &st) != 0) return error_fail(err, NLSQ_ERR_DATA, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return error_fail(err, NLSQ_ERR_DATA, "%s: not a regular file", path);
    size_t size = (size_t)st.st_size, row_bytes = (size_t)s->ncols * (size_t)s->elsize;
    if (s->nrows > (SIZE_MAX - s->data_offset) / row_bytes || s->data_offset + s->nrows * row_bytes > size)
        return error_fail(err, NLSQ_ERR_DATA,
                          "%s: truncated: %zu rows x %d columns of %d bytes need %.0f bytes after the %zu-byte header, "
                          "the file has %zu",
                          path, s->nrows, s->ncols, s->elsize, (double)s->nrows * (double)row_bytes, s->data_offset,
                          size > s->data_offset ? size - s->data_offset : 0);
    s->map_len = size ? size : 1;
    void *m = mmap(NULL, s->map_len, PROT_READ, MAP_SHARED, s->fd, 0);
    if (m == MAP_FAILED) {
        s->map_len = 0;
        return error_fail(err, NLSQ_ERR_DATA, "%s: cannot map: %s", path, strerror(errno));
    }
    s->map = m;
    s->identity = st;
    s->path = strdup(path);
    if (!s->path) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
    s->guard = map_guard_add(s->map, s->map_len);
    return NLSQ_OK;
}

/* The file under a mapping as it was when mapped: 0, or -1 with why. */
static int mapped_check(const nlsq_source *s, char *why, size_t why_size)
{
    struct stat now;
    if (map_guard_hit(s->guard)) {
        snprintf(why, why_size,
                 "%s changed under the fit: it was cut short while a pass read it; the fit is stopped (restart it "
                 "once the file is whole)",
                 s->path);
        return -1;
    }
    if (fstat(s->fd, &now) != 0) {
        snprintf(why, why_size, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    if (now.st_size != s->identity.st_size)
        snprintf(why, why_size,
                 "%s changed under the fit: its size went from %lld to %lld bytes; the fit is stopped (restart it once "
                 "the file is whole)",
                 s->path, (long long)s->identity.st_size, (long long)now.st_size);
    else if (now.st_mtim.tv_sec != s->identity.st_mtim.tv_sec || now.st_mtim.tv_nsec != s->identity.st_mtim.tv_nsec)
        snprintf(why, why_size,
                 "%s changed under the fit: it was written to while the fit read it; the fit is stopped (restart it "
                 "once the file is whole)",
                 s->path);
    else
        return 0;
    return -1;
}

int source_check(const nlsq_source *s, char *why, size_t why_size)
{
    if (s->kind == SRC_MAPPED) return mapped_check(s, why, why_size);
    if (s->kind == SRC_OPS) return s->ops->check ? s->ops->check(s->impl, why, why_size) : 0;
    for (int k = 0; s->kind == SRC_JOIN && k < s->nparts; k++)
        if (source_check(s->parts[k], why, why_size) != 0) return -1;
    return 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A .npy whose header starts at `offset` of path, the whole of it within
   `length` bytes (SIZE_MAX: to the end of the file); `label` names it in
   messages, `shown` in the description. */
static nlsq_status open_npy_in(const char *path, size_t offset, size_t length, const char *label, const char *shown,
                               nlsq_source **out, nlsq_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: %s", path, strerror(errno));
    /* before a byte is read: a pipe's bytes would be gone */
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int dir = S_ISDIR(sb.st_mode);
        fclose(f);
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: %s", path,
                          dir ? strerror(EISDIR)
                              : "not a regular file, which a mapping needs (nlsq_source_load reads a "
                                "pipe or device once, into memory)");
    }
    npy_info info;
    nlsq_status st = offset > (size_t)INT64_MAX || fseeko(f, (off_t)offset, SEEK_SET) != 0
                       ? error_fail(err, NLSQ_ERR_DATA, "%s: offset %zu is beyond the file", label, offset)
                       : npy_header(f, label, &info, err);
    if (st == NLSQ_OK && info.rows == 0) st = error_fail(err, NLSQ_ERR_DATA, "%s: no rows", label);
    size_t row_bytes = info.cols * (size_t)info.elsize;
    if (st == NLSQ_OK && length != SIZE_MAX &&
        (info.data_offset > length || info.rows > (length - info.data_offset) / row_bytes))
        st = error_fail(err, NLSQ_ERR_DATA,
                        "%s: truncated: %zu rows x %zu columns of %d bytes need %.0f bytes after the %zu-byte header, "
                        "the member has %zu",
                        label, info.rows, info.cols, info.elsize, (double)info.rows * (double)row_bytes,
                        info.data_offset, length > info.data_offset ? length - info.data_offset : 0);
    if (st != NLSQ_OK) {
        fclose(f);
        return st;
    }
    nlsq_source *s = source_new(SRC_MAPPED, (int)info.cols, info.rows);
    if (!s) {
        fclose(f);
        return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
    }
    s->fd = dup(fileno(f));
    fclose(f);
    s->data_offset = offset + info.data_offset;
    s->elsize = info.elsize;
    s->swap = info.swap;
    s->column_major = info.fortran || info.cols == 1;
    if (s->fd < 0)
        st = error_fail(err, NLSQ_ERR_DATA, "%s: %s", path, strerror(errno));
    else
        st = map_file(s, path, err);
    if (st != NLSQ_OK) {
        nlsq_source_free(s);
        return st;
    }
    snprintf(s->desc, sizeof s->desc, "%.200s: %zu x %d %s%s, %s order, mapped", shown, s->nrows, s->ncols,
             s->elsize == 8 ? "float64" : "float32", s->swap ? " (byte-swapped)" : "", info.fortran ? "Fortran" : "C");
    *out = s;
    return NLSQ_OK;
}

nlsq_status nlsq_source_open_npy(const char *path, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!path || !out)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_open_npy: %s is NULL", !path ? "path" : "out");
    *out = NULL;
    return open_npy_in(path, 0, SIZE_MAX, path, base_name(path), out, err);
}

nlsq_status source_open_npy_at(const char *path, size_t offset, size_t length, const char *label, nlsq_source **out,
                               nlsq_error *err)
{
    *out = NULL;
    const char *member = strstr(label, base_name(path));
    return open_npy_in(path, offset, length, label, member ? member : label, out, err);
}

nlsq_raw_layout nlsq_raw_layout_default(void)
{
    nlsq_raw_layout l;
    memset(&l, 0, sizeof l);
    l.ncols = 2;
    l.dtype = NLSQ_FLOAT64;
    return l;
}

static int host_big_endian(void)
{
    uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

nlsq_status nlsq_source_open_raw(const char *path, const nlsq_raw_layout *layout, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!path || !out)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_open_raw: %s is NULL", !path ? "path" : "out");
    *out = NULL;
    nlsq_raw_layout l = layout ? *layout : nlsq_raw_layout_default();
    if (l.ncols < 1 || l.ncols > MAX_COLUMNS)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: the raw layout needs 1 to 256 columns, not %d", path,
                          l.ncols);
    if ((int)l.dtype != NLSQ_FLOAT64 && (int)l.dtype != NLSQ_FLOAT32)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d in the raw layout", path, (int)l.dtype);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return error_fail(err, NLSQ_ERR_DATA, "%s: not a regular file", path);
    }
    size_t elsize = l.dtype == NLSQ_FLOAT64 ? 8 : 4, row = elsize * (size_t)l.ncols, size = (size_t)st.st_size;
    nlsq_status bad = NLSQ_OK;
    if (size < l.offset)
        bad = error_fail(err, NLSQ_ERR_DATA, "%s: the file (%zu bytes) is shorter than the %zu-byte offset", path, size,
                         l.offset);
    else if ((size - l.offset) % row != 0)
        bad = error_fail(err, NLSQ_ERR_DATA,
                         "%s: %zu data bytes are not a whole number of rows of %d %s values (%zu bytes a row): "
                         "truncated, or another layout",
                         path, size - l.offset, l.ncols, elsize == 8 ? "float64" : "float32", row);
    else if (size == l.offset)
        bad = error_fail(err, NLSQ_ERR_DATA, "%s: no rows", path);
    if (bad != NLSQ_OK) {
        close(fd);
        return bad;
    }
    nlsq_source *s = source_new(SRC_MAPPED, l.ncols, (size - l.offset) / row);
    if (!s) {
        close(fd);
        return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
    }
    s->fd = fd;
    s->data_offset = l.offset;
    s->elsize = (int)elsize;
    s->swap = (l.big_endian != 0) != host_big_endian();
    s->column_major = l.column_major || l.ncols == 1;
    nlsq_status st2 = map_file(s, path, err);
    if (st2 != NLSQ_OK) {
        nlsq_source_free(s);
        return st2;
    }
    snprintf(s->desc, sizeof s->desc, "%.200s: %zu x %d %s %s-endian, %s, mapped", base_name(path), s->nrows, s->ncols,
             elsize == 8 ? "float64" : "float32", l.big_endian ? "big" : "little",
             s->column_major ? "column after column" : "row after row");
    *out = s;
    return NLSQ_OK;
}

static size_t element_offset(const nlsq_source *s, int col, size_t row)
{
    size_t index = s->column_major ? (size_t)col * s->nrows + row : row * (size_t)s->ncols + (size_t)col;
    return s->data_offset + index * (size_t)s->elsize;
}

static void mapped_read(const nlsq_source *s, int col, size_t first, size_t count, double *out)
{
    const unsigned char *p = s->map + element_offset(s, col, first);
    size_t step = s->column_major ? (size_t)s->elsize : (size_t)s->elsize * (size_t)s->ncols;
    if (s->elsize == 8 && !s->swap) {
        for (size_t i = 0; i < count; i++) memcpy(out + i, p + i * step, 8);
    } else if (s->elsize == 4 && !s->swap) {
        for (size_t i = 0; i < count; i++) {
            float v;
            memcpy(&v, p + i * step, 4);
            out[i] = v;
        }
    } else {
        for (size_t i = 0; i < count; i++) out[i] = npy_element(p + i * step, s->elsize, s->swap);
    }
}

/* Give back the whole pages of [from, to) of the mapping. */
static void unmap_range(const nlsq_source *s, size_t from, size_t to)
{
    static long page;
    long pg = page ? page : (page = sysconf(_SC_PAGESIZE));
    if (pg <= 0) return;
    size_t lo = (from + (size_t)pg - 1) / (size_t)pg * (size_t)pg, hi = to / (size_t)pg * (size_t)pg;
    if (hi > lo) madvise(s->map + lo, hi - lo, MADV_DONTNEED);
}

/* ---- callbacks ------------------------------------------------------------ */

nlsq_status nlsq_source_from_callback(int ncols, size_t nrows, nlsq_fill_fn fill, void *user, int thread_safe,
                                      nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!out || !fill)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_from_callback: %s is NULL",
                          !out ? "out" : "fill");
    *out = NULL;
    if (ncols < 1 || ncols > MAX_COLUMNS)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_from_callback: ncols must be 1 to 256, not %d",
                          ncols);
    nlsq_source *s = source_new(SRC_CALLBACK, ncols, nrows);
    if (!s) return error_fail(err, NLSQ_ERR_NOMEM, "nlsq_source_from_callback: out of memory");
    s->fill = fill;
    s->user = user;
    s->thread_safe = thread_safe;
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->desc, sizeof s->desc, "callback: %zu x %d", nrows, ncols);
    *out = s;
    return NLSQ_OK;
}

/* ---- implemented elsewhere ---------------------------------------------- */

nlsq_source *source_from_ops(const source_ops *ops, void *impl, int ncols, size_t nrows, const char *desc)
{
    nlsq_source *s = ncols >= 1 && ncols <= MAX_COLUMNS ? source_new(SRC_OPS, ncols, nrows) : NULL;
    if (!s) return NULL;
    s->ops = ops;
    s->impl = impl;
    snprintf(s->desc, sizeof s->desc, "%s", desc);
    return s;
}

const int *source_spans(const nlsq_source *s, int *size)
{
    int unused;
    return s->kind == SRC_OPS && s->ops->spans ? s->ops->spans(s->impl, size ? size : &unused) : NULL;
}

/* ---- side by side ------------------------------------------------------ */

nlsq_status nlsq_source_join(nlsq_source *const *parts, int nparts, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!parts || !out)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_join: %s is NULL", !parts ? "parts" : "out");
    *out = NULL;
    if (nparts < 1) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_join: no parts");
    int ncols = 0;
    for (int k = 0; k < nparts; k++) {
        if (!parts[k]) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_join: part %d is NULL", k);
        if (parts[k]->nrows != parts[0]->nrows)
            return error_fail(err, NLSQ_ERR_DATA, "nlsq_source_join: part %d (%s) has %zu rows, part 0 (%s) has %zu", k,
                              parts[k]->desc, parts[k]->nrows, parts[0]->desc, parts[0]->nrows);
        ncols += parts[k]->ncols;
    }
    if (ncols > MAX_COLUMNS)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_join: more than 256 columns");
    nlsq_source *s = source_new(SRC_JOIN, ncols, parts[0]->nrows);
    if (s) {
        s->parts = malloc((size_t)nparts * sizeof *s->parts);
        s->part_of = malloc((size_t)ncols * sizeof *s->part_of);
        s->col_in_part = malloc((size_t)ncols * sizeof *s->col_in_part);
    }
    if (!s || !s->parts || !s->part_of || !s->col_in_part) {
        nlsq_source_free(s);
        return error_fail(err, NLSQ_ERR_NOMEM, "nlsq_source_join: out of memory");
    }
    int c = 0;
    size_t used = 0;
    for (int k = 0; k < nparts; k++)
        for (int j = 0; j < parts[k]->ncols; j++, c++) {
            s->part_of[c] = k;
            s->col_in_part[c] = j;
            /* numbered columns are numbered anew; header names are kept */
            const char *name = parts[k]->names[j];
            char num[16];
            snprintf(num, sizeof num, "%d", j + 1);
            if (strcmp(name, num) != 0) {
                char *copy = strdup(name);
                if (copy) {
                    free(s->names[c]);
                    s->names[c] = copy;
                }
            }
        }
    for (int k = 0; k < nparts; k++) {
        int w = snprintf(s->desc + used, sizeof s->desc - used, "%s%s", k ? " + " : "", parts[k]->desc);
        if (w < 0 || (size_t)w >= sizeof s->desc - used) break;
        used += (size_t)w;
    }
    memcpy(s->parts, parts, (size_t)nparts * sizeof *parts);
    s->nparts = nparts;
    *out = s;
    return NLSQ_OK;
}

/* ---- reading ---------------------------------------------------------------- */

const double *source_direct(const nlsq_source *s, int col)
{
    switch (s->kind) {
    case SRC_ARRAYS: return s->cols[col];
    case SRC_MAPPED:
        if (s->elsize != 8 || s->swap || !s->column_major) return NULL;
        /* the mapping is page-aligned and the .npy header pads to 64
           bytes: the doubles are aligned */
        if ((element_offset(s, col, 0) & 7) != 0) return NULL;
        return (const double *)(const void *)(s->map + element_offset(s, col, 0));
    case SRC_JOIN: return source_direct(s->parts[s->part_of[col]], s->col_in_part[col]);
    default: return NULL;
    }
}

int source_read(nlsq_source *s, const int *cols, int n, size_t first, size_t count, double *const *out, char *why,
                size_t why_size)
{
    switch (s->kind) {
    case SRC_ARRAYS:
        for (int k = 0; k < n; k++) memcpy(out[k], s->cols[cols[k]] + first, count * sizeof(double));
        return 0;
    case SRC_MAPPED:
        for (int k = 0; k < n; k++) mapped_read(s, cols[k], first, count, out[k]);
        return 0;
    case SRC_CALLBACK: {
        double *slot[MAX_COLUMNS];
        for (int c = 0; c < s->ncols; c++) slot[c] = NULL;
        int dup_col = 0;
        for (int k = 0; k < n; k++) {
            if (slot[cols[k]])
                dup_col = 1;
            else
                slot[cols[k]] = out[k];
        }
        if (!s->thread_safe) pthread_mutex_lock(&s->lock);
        int rc = s->fill(s->user, first, count, slot);
        if (!s->thread_safe) pthread_mutex_unlock(&s->lock);
        if (rc != 0) {
            snprintf(why, why_size, "the source callback returned %d for rows %zu to %zu", rc, first,
                     first + count - 1);
            return -1;
        }
        /* a column asked for twice (x and y the same) is copied */
        for (int k = 0; dup_col && k < n; k++)
            if (slot[cols[k]] != out[k]) memcpy(out[k], slot[cols[k]], count * sizeof(double));
        return 0;
    }
    case SRC_JOIN:
        for (int k = 0; k < n; k++) {
            int col = s->col_in_part[cols[k]];
            if (source_read(s->parts[s->part_of[cols[k]]], &col, 1, first, count, &out[k], why, why_size) != 0)
                return -1;
        }
        return 0;
    case SRC_OPS: return s->ops->read(s->impl, cols, n, first, count, out, why, why_size);
    }
    return -1;
}

void source_release(const nlsq_source *s, const int *cols, int n, size_t first, size_t count)
{
    if (s->kind == SRC_JOIN) {
        for (int k = 0; k < n; k++)
            source_release(s->parts[s->part_of[cols[k]]], &s->col_in_part[cols[k]], 1, first, count);
        return;
    }
    if (s->kind != SRC_MAPPED) return;
    if (!s->column_major) {
        unmap_range(s, element_offset(s, 0, first), element_offset(s, 0, first + count));
        return;
    }
    for (int k = 0; k < n; k++)
        unmap_range(s, element_offset(s, cols[k], first),
                    element_offset(s, cols[k], first) + count * (size_t)s->elsize);
}

nlsq_status nlsq_source_read(nlsq_source *s, int col, size_t first, size_t count, double *out, nlsq_error *err)
{
    error_clear(err);
    if (!s || !out)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_read: %s is NULL", !s ? "source" : "out");
    if (col < 0 || col >= s->ncols)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_read: column %d of %d", col, s->ncols);
    if (first > s->nrows || count > s->nrows - first)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_read: rows %zu + %zu beyond the %zu rows", first,
                          count, s->nrows);
    if (count == 0) return NLSQ_OK;
    char why[200];
    if (source_read(s, &col, 1, first, count, &out, why, sizeof why) != 0)
        return error_fail(err, NLSQ_ERR_DATA, "nlsq_source_read: %s", why);
    source_release(s, &col, 1, first, count);
    if (source_check(s, why, sizeof why) != 0) return error_fail(err, NLSQ_ERR_DATA, "%s", why);
    return NLSQ_OK;
}

/* ---- the files a source reads ------------------------------------------- */

void source_set_origin(nlsq_source *s, const struct stat *st)
{
    s->has_origin = 1;
    s->origin_dev = st->st_dev;
    s->origin_ino = st->st_ino;
}

int source_reads_file(const nlsq_source *s, const struct stat *st)
{
    if (!s) return 0;
    struct stat own;
    if (s->fd >= 0 && fstat(s->fd, &own) == 0 && own.st_dev == st->st_dev && own.st_ino == st->st_ino) return 1;
    if (s->has_origin && s->origin_dev == st->st_dev && s->origin_ino == st->st_ino) return 1;
    for (int k = 0; k < s->nparts; k++)
        if (source_reads_file(s->parts[k], st)) return 1;
    return 0;
}
