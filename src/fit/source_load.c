/*
 * Text tables read whole into memory as sources: what a front end uses for
 * a small file, standard input, or a table it holds as text (the command's
 * bundled example). The rules are the text reader's (src/io/table.c), the
 * same as the column cache's, so a table gives the same numbers either way.
 *
 * And any data read exactly once (nlsq_source_load): what cannot be read
 * twice — a pipe, a FIFO, /dev/stdin, a process substitution — is told to
 * be a .npy or text by its first bytes, which are kept and parsed with the
 * rest, never read again from a reopened path (that lost the first block
 * of a pipe, and fitted what was left).
 */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "source.h"

static nlsq_status adopt(table *t, const char *name, nlsq_source **out, nlsq_error *err)
{
    *out = source_adopt_table(t, name);
    if (*out) return NLSQ_OK;
    table_free(t);
    error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", name);
    return NLSQ_ERR_NOMEM;
}

static nlsq_status read_stream(FILE *f, const void *head, size_t head_len, const char *name,
                               const nlsq_text_options *opt, nlsq_source **out, nlsq_error *err)
{
    table t;
    memset(&t, 0, sizeof t);
    nlsq_status st = table_read_stream(f, head, head_len, name, opt ? opt->delimiter : 0, &t, err);
    if (st != NLSQ_OK) {
        table_free(&t);
        return st;
    }
    return adopt(&t, name, out, err);
}

/* path opened for reading ("-": standard input), refusing a directory
   (which fopen opens and then reads as nothing); NULL with the reason. */
static FILE *open_input(const char *path, nlsq_error *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", path, strerror(EISDIR));
        if (f != stdin) fclose(f);
        return NULL;
    }
    return f;
}

/* The file a source was read from, so that no output overwrites it (a
   regular file only: standard input redirected from one counts). */
static void remember_origin(FILE *f, nlsq_source *src)
{
    struct stat origin;
    if (src && fstat(fileno(f), &origin) == 0 && S_ISREG(origin.st_mode)) source_set_origin(src, &origin);
}

static void close_input(FILE *f)
{
    if (f && f != stdin) fclose(f);
}

nlsq_status nlsq_source_load_text(const char *path, const nlsq_text_options *opt, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!path || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_load_text: %s is NULL", !path ? "path" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    FILE *f = open_input(path, err);
    if (!f) return NLSQ_ERR_INVALID_ARGUMENT;
    nlsq_status st = read_stream(f, NULL, 0, path, opt, out, err);
    if (st == NLSQ_OK) remember_origin(f, *out);
    close_input(f);
    return st;
}

/* ---- a whole .npy from a stream ----------------------------------------- */

/* Bytes of a stream gathered in memory as they arrive: the buffer grows
   with what was read, never to a size a header only claims. */
typedef struct gathered {
    unsigned char *p;
    size_t len, cap;
} gathered;

/* Read until g holds `need` bytes or the stream ends; 0, or -1 out of
   memory or on a read error (errno says which). */
static int gather(FILE *f, gathered *g, size_t need)
{
    while (g->len < need) {
        if (g->len == g->cap) {
            size_t cap = g->cap < 4096 ? 4096 : 2 * g->cap;
            if (cap > need) cap = need;
            unsigned char *p = realloc(g->p, cap);
            if (!p) return -1;
            g->p = p;
            g->cap = cap;
        }
        size_t got = fread(g->p + g->len, 1, g->cap - g->len, f);
        g->len += got;
        if (got == 0) return ferror(f) ? -1 : 0;
    }
    return 0;
}

/* The header's length from the preamble in g: 0 when g is too short. */
static size_t npy_header_end(const gathered *g)
{
    if (g->len < 10) return 0;
    int major = g->p[6];
    size_t hlen = (size_t)g->p[8] | (size_t)g->p[9] << 8;
    if (major < 2) return 10 + hlen;
    if (g->len < 12) return 0;
    return 12 + (hlen | (size_t)g->p[10] << 16 | (size_t)g->p[11] << 24);
}

static nlsq_status npy_info_of(gathered *g, const char *path, npy_info *info, nlsq_error *err)
{
    FILE *h = fmemopen(g->p, g->len, "rb");
    if (!h) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: %s", path, strerror(errno));
        return NLSQ_ERR_NOMEM;
    }
    nlsq_status st = npy_header(h, path, info, err);
    fclose(h);
    return st;
}

/* The array's values as a table of float64 columns. */
static nlsq_status npy_to_table(const gathered *g, const npy_info *info, const char *path, table *t, nlsq_error *err)
{
    memset(t, 0, sizeof *t);
    t->ncols = (int)info->cols;
    t->nrows = info->rows;
    t->names = calloc(info->cols, sizeof *t->names);
    t->cols = calloc(info->cols, sizeof *t->cols);
    int ok = t->names && t->cols;
    for (size_t c = 0; ok && c < info->cols; c++) {
        char num[24];
        snprintf(num, sizeof num, "%zu", c + 1);
        ok = (t->names[c] = strdup(num)) && (t->cols[c] = malloc(info->rows * sizeof(double)));
        for (size_t r = 0; ok && r < info->rows; r++) {
            size_t at = info->fortran || info->cols == 1 ? c * info->rows + r : r * info->cols + c;
            t->cols[c][r] = npy_element(g->p + info->data_offset + at * (size_t)info->elsize, info->elsize, info->swap);
        }
    }
    if (ok) return NLSQ_OK;
    table_free(t);
    error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory for %zu x %zu values", path, info->rows, info->cols);
    return NLSQ_ERR_NOMEM;
}

/* A .npy from a stream whose first bytes (the magic) are in g. The header
   is read first; the data are then read as they come, up to what the
   header says, so a header that claims more than the stream holds is a
   truncated file, not a huge allocation. */
static nlsq_status load_npy_stream(FILE *f, gathered *g, const char *path, nlsq_source **out, nlsq_error *err)
{
    npy_info info;
    size_t end;
    errno = 0;
    if (gather(f, g, 12) != 0 || (end = npy_header_end(g)) == 0 || end > (1u << 20) + 12 || gather(f, g, end) != 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: %s", path, errno ? strerror(errno) : "truncated .npy header");
        return NLSQ_ERR_DATA;
    }
    nlsq_status st = npy_info_of(g, path, &info, err);
    if (st != NLSQ_OK) return st;
    if (info.rows == 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: no rows", path);
        return NLSQ_ERR_DATA;
    }
    /* rows <= 2^50 and cols <= 256 (npy_header): no overflow */
    size_t data_bytes = info.rows * info.cols * (size_t)info.elsize, need = info.data_offset + data_bytes;
    /* what arrives is held twice (the bytes, then the columns): reading
       stops at half the machine's memory, so an endless stream behind a
       header that claims more cannot fill it; a stream that ends first is
       a truncated file, however much its header claimed */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double ram = pages > 0 && page > 0 ? (double)pages * (double)page : 0x1p62;
    size_t limit = info.data_offset + (size_t)(ram / 2 < 0x1p62 ? ram / 2 : 0x1p62);
    errno = 0;
    if (gather(f, g, need < limit ? need : limit) != 0) {
        st = errno == ENOMEM || errno == 0 ? NLSQ_ERR_NOMEM : NLSQ_ERR_DATA;
        error_set(err, st, 0, 0, "%s: %s after %zu bytes", path, errno ? strerror(errno) : "out of memory", g->len);
        return st;
    }
    if (g->len < need && g->len < limit) {
        error_set(err, NLSQ_ERR_DATA, 0, 0,
                  "%s: truncated file: %zu rows x %zu columns of %d bytes need %zu bytes after the %zu-byte header, "
                  "the stream has %zu",
                  path, info.rows, info.cols, info.elsize, data_bytes, info.data_offset, g->len - info.data_offset);
        return NLSQ_ERR_DATA;
    }
    if (g->len < need) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0,
                  "%s: %zu rows x %zu columns (%.3g GB) are more than a stream can be read into memory here (%.3g GB "
                  "of memory); give a file, which is mapped",
                  path, info.rows, info.cols, (double)data_bytes * 1e-9, ram * 1e-9);
        return NLSQ_ERR_NOMEM;
    }
    if (fgetc(f) != EOF) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: more bytes after the %zu x %zu array the .npy header describes", path,
                  info.rows, info.cols);
        return NLSQ_ERR_DATA;
    }
    table t;
    if ((st = npy_to_table(g, &info, path, &t, err)) != NLSQ_OK) return st;
    free(g->p);
    g->p = NULL;
    return adopt(&t, path, out, err);
}

nlsq_status nlsq_source_load(const char *path, const nlsq_text_options *opt, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!path || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_load: %s is NULL", !path ? "path" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    FILE *f = open_input(path, err);
    if (!f) return NLSQ_ERR_INVALID_ARGUMENT;
    /* the first bytes tell a .npy from text; they are kept, not read again */
    gathered g = {NULL, 0, 0};
    nlsq_status st = NLSQ_OK;
    if (gather(f, &g, 6) != 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: %s", path, strerror(errno ? errno : EIO));
        st = NLSQ_ERR_DATA;
    } else if (g.len == 6 && memcmp(g.p, "\x93NUMPY", 6) == 0) {
        st = load_npy_stream(f, &g, path, out, err);
    } else if (g.len >= 4 && (memcmp(g.p, "\x89HDF", 4) == 0 || memcmp(g.p, "PK\x03\x04", 4) == 0)) {
        /* not a text table with odd bytes: say what it is, and why not */
        error_set(err, NLSQ_ERR_DATA, 0, 0,
                  "%s: %s is read by seeking in it, so it cannot come from a pipe or standard input; give its path",
                  path, g.p[0] == 'P' ? "a ZIP archive (.npz)" : "an HDF5 file");
        st = NLSQ_ERR_DATA;
    } else {
        st = read_stream(f, g.p, g.len, path, opt, out, err);
    }
    free(g.p);
    if (st == NLSQ_OK) remember_origin(f, *out);
    close_input(f);
    return st;
}

nlsq_status nlsq_source_load_text_buffer(const char *text, size_t len, const char *name, const nlsq_text_options *opt,
                                         nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!text || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_load_text_buffer: %s is NULL",
                  !text ? "text" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (!name) name = "text";
    if (len == 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: no rows of numbers", name);
        return NLSQ_ERR_DATA;
    }
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: %s", name, strerror(errno));
        return NLSQ_ERR_NOMEM;
    }
    nlsq_status st = read_stream(f, NULL, 0, name, opt, out, err);
    fclose(f);
    return st;
}
