/*
 * Text tables as sources: parsing numbers is far slower than a pass, so a
 * text file is read once, in one streaming sweep, into a column cache — a
 * float64 .npy file (C order: rows are written as they are parsed) — and
 * every pass maps that. Beside it, NAME.names holds the text file's
 * identity (size, modification time, inode, delimiter), the identity of
 * the .npy it vouches for (device, inode, size, modification time) and the
 * column names; the cache is used while both match and is otherwise
 * rebuilt.
 *
 * A kill at any moment must leave the old valid pair, no valid pair, or
 * the new valid pair; never names that vouch for other data. So both are
 * written to temporary files (src/core/outfile.c) and the data committed
 * first, the names last; and the names name the data file by its inode:
 * old names beside new data (killed between the two renames, or a rename
 * that failed) match nothing and the cache is rebuilt.
 *
 * Caches in the default place (the cache directory's columns/) are
 * evicted, least recently used first, when their total passes
 * $NLSQ_COLUMN_CACHE_MAX (or a quarter of what they could take); a use
 * sets the .npy's access time, which orders them.
 */
#define _GNU_SOURCE /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "io/io.h"
#include "source.h"

nlsq_text_options nlsq_text_options_default(void)
{
    nlsq_text_options o;
    memset(&o, 0, sizeof o);
    return o;
}

enum { HEADER_BYTES = 128 };

/* A cache used less than this long ago may be in use: never evicted. */
#define IN_USE_S 600

/* The .npy header for rows x ncols float64 in C order, HEADER_BYTES long. */
static void npy_header_text(unsigned char *h, size_t rows, int ncols)
{
    uint16_t one = 1;
    unsigned char little;
    memcpy(&little, &one, 1);
    memset(h, ' ', HEADER_BYTES);
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (unsigned char)(HEADER_BYTES - 10);
    h[9] = 0;
    char dict[HEADER_BYTES];
    int n = snprintf(dict, sizeof dict, "{'descr': '%sf8', 'fortran_order': False, 'shape': (%zu, %d), }",
                     little ? "<" : ">", rows, ncols);
    memcpy(h + 10, dict, (size_t)n);
    h[HEADER_BYTES - 1] = '\n';
}

/* The steps of a conversion, for the tests' kill hook: the test sets
   NLSQ_TEST_KILL_IN_COLUMN_CACHE=N and the process dies at step N, as a
   SIGKILL there would ("Nt": a SIGTERM, which the command's handler turns
   into removing the temporary files). */
enum {
    STEP_ROWS_WRITTEN = 1, /* the data's temporary file holds the rows   */
    STEP_BOTH_WRITTEN,     /* ... and its header; the names' one written */
    STEP_DATA_COMMITTED,   /* the .npy renamed into place                */
    STEP_NAMES_COMMITTED,  /* the .names renamed into place: done        */
};

static void test_kill_point(int step)
{
    const char *at = getenv("NLSQ_TEST_KILL_IN_COLUMN_CACHE");
    char *end;
    if (at && strtol(at, &end, 10) == step) raise(*end == 't' ? SIGTERM : SIGKILL);
}

/* What the names file says of the data file it vouches for. */
static void data_identity(const struct stat *st, char *out, size_t size)
{
    snprintf(out, size, "data device %llu inode %llu size %lld mtime %lld.%09ld", (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
             st->st_mtim.tv_nsec);
}

static int same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

typedef struct converter {
    FILE *out;
    size_t rows;
    int ncols;
    char **names; /* header names, or NULL */
} converter;

static int convert_row(void *ctx, int ncols, char **names, const double *values)
{
    converter *cv = ctx;
    cv->ncols = ncols;
    if (names) {
        cv->names = calloc((size_t)ncols, sizeof *cv->names);
        if (!cv->names) return -1;
        for (int c = 0; c < ncols; c++)
            if (!(cv->names[c] = strdup(names[c]))) return -1;
        return 0;
    }
    if (fwrite(values, sizeof(double), (size_t)ncols, cv->out) != (size_t)ncols) return -1;
    cv->rows++;
    return 0;
}

static void free_names(char **names, int n)
{
    for (int c = 0; names && c < n; c++) free(names[c]);
    free(names);
}

/* The names file: the text's identity, the data's, then one column name a
   line (a name's newline blanked out: it would break the file). */
static int write_names(FILE *f, const char *identity, const char *data_id, char **names, int ncols)
{
    if (fprintf(f, "%s\n%s\n", identity, data_id) < 0) return -1;
    for (int c = 0; c < ncols; c++) {
        if (names) {
            for (const char *s = names[c]; *s; s++)
                if (putc(*s == '\n' ? ' ' : *s, f) == EOF) return -1;
            if (putc('\n', f) == EOF) return -1;
        } else if (fprintf(f, "%d\n", c + 1) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One line of f without its newline into *line; 0, or -1 at the end. */
static int next_line(FILE *f, char **line, size_t *cap)
{
    ssize_t got = getline(line, cap, f);
    if (got <= 0) return -1;
    if ((*line)[got - 1] == '\n') (*line)[got - 1] = '\0';
    return 0;
}

/* Read the names file when both identities match: names (ncols) or NULL. */
static char **read_names(const char *path, const char *identity, const char *data_id, int ncols)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *line = NULL;
    size_t cap = 0;
    char **names = NULL;
    int ok = next_line(f, &line, &cap) == 0 && strcmp(line, identity) == 0 && next_line(f, &line, &cap) == 0 &&
             strcmp(line, data_id) == 0;
    if (ok && (names = calloc((size_t)ncols, sizeof *names))) {
        for (int c = 0; c < ncols; c++) {
            if (next_line(f, &line, &cap) != 0 || !(names[c] = strdup(line))) {
                free_names(names, ncols);
                names = NULL;
                break;
            }
        }
    }
    free(line);
    fclose(f);
    return names;
}

static nlsq_status io_fail(nlsq_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static nlsq_status io_fail(nlsq_error *err, const char *fmt, ...)
{
    char text[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    error_set(err, NLSQ_ERR_IO, 0, 0, "%s", text);
    return NLSQ_ERR_IO;
}

/* The rows of `in` into the data file's stream, then its header; 0, or a
   status with err set. */
static nlsq_status write_rows(FILE *in, const char *path, char delim, FILE *out, const char *cache, converter *cv,
                              nlsq_error *err)
{
    unsigned char header[HEADER_BYTES];
    memset(header, 0, sizeof header);
    if (fwrite(header, 1, sizeof header, out) != sizeof header)
        return io_fail(err, "cannot write the column cache %s: %s", cache, strerror(errno));
    nlsq_status st = table_scan(in, path, delim, convert_row, cv, err);
    if (st == NLSQ_ERR_NOMEM && ferror(out))
        return io_fail(err, "cannot write the column cache %s: %s (disk full?)", cache, strerror(errno));
    if (st != NLSQ_OK) return st;
    test_kill_point(STEP_ROWS_WRITTEN);
    npy_header_text(header, cv->rows, cv->ncols);
    if (fseek(out, 0, SEEK_SET) != 0 || fwrite(header, 1, sizeof header, out) != sizeof header || fflush(out) != 0)
        return io_fail(err, "cannot write the column cache %s: %s", cache, strerror(errno));
    return NLSQ_OK;
}

/* A text table's column cache: what colcache_open's writer needs. */
typedef struct text_job {
    const char *path;
    char delim;
} text_job;

static nlsq_status write_text(void *ctx, FILE *out, const char *cache, int *ncols, char ***names, nlsq_error *err)
{
    const text_job *job = ctx;
    FILE *in = fopen(job->path, "r");
    if (!in) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", job->path, strerror(errno));
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    converter cv = {out, 0, 0, NULL};
    nlsq_status st = write_rows(in, job->path, job->delim, out, cache, &cv, err);
    fclose(in);
    *ncols = cv.ncols;
    *names = cv.names;
    return st;
}

/* Write the cache with `write` and its names file: both written to
   temporary files, then the data committed, then the names. */
static nlsq_status convert(colcache_write_fn write, void *ctx, const char *cache, const char *names_path,
                           const char *identity, nlsq_error *err)
{
    char why[sizeof err->message];
    outfile data, names;
    if (outfile_open(&data, cache, why, sizeof why) != 0) return io_fail(err, "cannot write the column cache: %s", why);
    int ncols = 0;
    char **col_names = NULL;
    nlsq_status st = write(ctx, data.f, data.target, &ncols, &col_names, err);
    char data_id[200];
    struct stat dst;
    if (st == NLSQ_OK && (fflush(data.f) != 0 || fstat(fileno(data.f), &dst) != 0))
        st = io_fail(err, "cannot write the column cache %s: %s", cache, strerror(errno));
    if (st != NLSQ_OK) {
        outfile_discard(&data);
        free_names(col_names, ncols);
        return st;
    }
    data_identity(&dst, data_id, sizeof data_id);
    if (outfile_open(&names, names_path, why, sizeof why) != 0) {
        outfile_discard(&data);
        free_names(col_names, ncols);
        return io_fail(err, "cannot write the column cache: %s", why);
    }
    int wrote = write_names(names.f, identity, data_id, col_names, ncols);
    free_names(col_names, ncols);
    if (wrote != 0 || fflush(names.f) != 0) {
        outfile_discard(&names);
        outfile_discard(&data);
        return io_fail(err, "cannot write %s: %s", names_path, strerror(errno));
    }
    test_kill_point(STEP_BOTH_WRITTEN);
    if (outfile_commit(&data, why, sizeof why) != 0) {
        outfile_discard(&names);
        return io_fail(err, "cannot write the column cache: %s", why);
    }
    test_kill_point(STEP_DATA_COMMITTED);
    if (outfile_commit(&names, why, sizeof why) != 0) return io_fail(err, "cannot write the column cache: %s", why);
    test_kill_point(STEP_NAMES_COMMITTED);
    return NLSQ_OK;
}

/* The cache when its names file vouches for it and for the text file;
   NULL otherwise (a miss: convert). *st is set only when the cache was
   good but memory ran out. */
static nlsq_source *open_cached(const char *cache, const char *names_path, const char *identity, nlsq_status *st)
{
    struct stat before, after;
    if (stat(cache, &before) != 0) return NULL;
    nlsq_source *src = NULL;
    nlsq_error quiet;
    if (nlsq_source_open_npy(cache, &src, &quiet) != NLSQ_OK) return NULL;
    /* the file mapped is the file stat'ed: nothing renamed over it between */
    char data_id[200];
    char **names = NULL;
    int ncols = nlsq_source_num_columns(src);
    if (stat(cache, &after) == 0 && same_file_state(&before, &after)) {
        data_identity(&after, data_id, sizeof data_id);
        names = read_names(names_path, identity, data_id, ncols);
    }
    if (!names) {
        nlsq_source_free(src);
        return NULL;
    }
    int rc = source_set_names(src, names);
    free_names(names, ncols);
    if (rc != 0) {
        nlsq_source_free(src);
        *st = NLSQ_ERR_NOMEM;
        return NULL;
    }
    return src;
}

/* The default cache file: the cache directory's columns/, named by a hash
   of the text file's real path and identity. */
static nlsq_status default_cache_path(const char *path, const char *identity, char *out, size_t size, nlsq_error *err)
{
    char why[400], real[PATH_MAX];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    if (cache_file_path("columns", real, identity, ".npy", out, size, why, sizeof why) != 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: no place for the column cache (%s); give one", path, why);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return NLSQ_OK;
}

/* The column caches' limit from $NLSQ_COLUMN_CACHE_MAX: bytes, or a
   number with K, M, G or T (powers of 1024); -1 when unset, -2 when it is
   not a size. */
static long long limit_from_env(void)
{
    const char *v = getenv("NLSQ_COLUMN_CACHE_MAX");
    if (!v || !*v) return -1;
    char *end;
    double x = strtod(v, &end);
    double unit = 1;
    if (*end) {
        const char *units = "KMGT";
        const char *u = strchr(units, *end == 'k' ? 'K' : *end);
        if (!u || end[1]) return -2;
        for (const char *q = units; q <= u; q++) unit *= 1024;
    }
    if (end == v || !(x >= 0) || x * unit > 9e18) return -2;
    return (long long)(x * unit);
}

/* The limit for dir whose caches take `cached` bytes: the environment's,
   else a quarter of what they could take (their bytes and the free space
   of the file system), so that they never crowd the disk. */
static long long cache_limit(const char *dir, long long cached)
{
    long long env = limit_from_env();
    if (env >= 0) return env;
    struct statvfs fs;
    if (statvfs(dir, &fs) != 0) return LLONG_MAX;
    return (cached + (long long)fs.f_bavail * (long long)fs.f_frsize) / 4;
}

static int is_hex32(const char *s)
{
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* One cache of the directory: HEX.npy and HEX.npy.names. */
typedef struct cache_entry {
    char hex[33];
    long long bytes;
    time_t used; /* the last use: the later of access and modification */
    int has_data, has_names;
} cache_entry;

typedef struct cache_list {
    cache_entry *e;
    size_t n, cap;
} cache_list;

static cache_entry *entry_of(cache_list *l, const char *hex)
{
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->e[i].hex, hex, 32) == 0) return &l->e[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        cache_entry *e = realloc(l->e, cap * sizeof *e);
        if (!e) return NULL;
        l->e = e;
        l->cap = cap;
    }
    cache_entry *e = &l->e[l->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->hex, hex, 32);
    return e;
}

/* The caches in dir (temporaries and others' files left out). */
static int list_caches(const char *dir, cache_list *l)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    for (struct dirent *de = readdir(d); de; de = readdir(d)) {
        const char *rest = de->d_name + 32;
        if (strlen(de->d_name) < 36 || !is_hex32(de->d_name) || (strcmp(rest, ".npy") && strcmp(rest, ".npy.names")))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        cache_entry *e = entry_of(l, de->d_name);
        if (!e) break;
        e->bytes += (long long)st.st_size;
        time_t used = st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime;
        if (strcmp(rest, ".npy") == 0) {
            e->has_data = 1;
            e->used = used; /* the data's use orders the pair */
        } else {
            e->has_names = 1;
            if (!e->has_data && used > e->used) e->used = used;
        }
    }
    closedir(d);
    return 0;
}

static int by_last_use(const void *a, const void *b)
{
    const cache_entry *x = a, *y = b;
    return (x->used > y->used) - (x->used < y->used);
}

/* Remove a cache: its names first, so that a pair half removed is data
   without names, which vouches for nothing. */
static void remove_cache(const char *dir, const cache_entry *e)
{
    char path[PATH_MAX + 48];
    snprintf(path, sizeof path, "%s/%.32s.npy.names", dir, e->hex);
    unlink(path);
    snprintf(path, sizeof path, "%s/%.32s.npy", dir, e->hex);
    unlink(path);
}

/* Evict the least recently used caches of dir until they fit the limit,
   and remove halves of pairs; never `keep` (the cache just made) nor one
   used in the last IN_USE_S seconds (another process may be opening it;
   one mapped already keeps its data, unlinked, until it is done). */
static void evict(const char *dir, const char *keep)
{
    cache_list l = {NULL, 0, 0};
    if (list_caches(dir, &l) != 0) return;
    long long total = 0;
    for (size_t i = 0; i < l.n; i++) total += l.e[i].bytes;
    long long limit = cache_limit(dir, total);
    qsort(l.e, l.n, sizeof *l.e, by_last_use);
    time_t now = time(NULL);
    for (size_t i = 0; i < l.n; i++) {
        const cache_entry *e = &l.e[i];
        int half = !(e->has_data && e->has_names);
        if (strncmp(keep, e->hex, 32) == 0 || now - e->used <= IN_USE_S || !(half || total > limit)) continue;
        remove_cache(dir, e);
        total -= e->bytes;
    }
    free(l.e);
}

/* A use: the access time orders the caches for eviction (set explicitly:
   file systems mounted noatime or relatime do not). */
static void mark_used(const char *cache)
{
    struct timespec t[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    utimensat(AT_FDCWD, cache, t, 0);
}

/* Refuse a cache (or its names file) that is the text file itself, or
   that is not a regular file, before anything is written. */
static nlsq_status check_cache_path(const char *path, const struct stat *text, const char *file, nlsq_error *err)
{
    if (strcmp(file, "-") == 0) { /* the writer's name for the standard output */
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s: a column cache cannot be the standard output ('-')", path);
        return NLSQ_ERR_IO;
    }
    struct stat st;
    if (stat(file, &st) != 0) return NLSQ_OK;
    if (st.st_dev == text->st_dev && st.st_ino == text->st_ino) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s: the column cache %s is the text file itself; refusing to overwrite it",
                  path, file);
        return NLSQ_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s: the column cache %s is %s, not a regular file", path, file,
                  S_ISDIR(st.st_mode) ? "a directory" : "a device or a pipe");
        return NLSQ_ERR_IO;
    }
    return NLSQ_OK;
}

static void directory_of(const char *file, char *dir, size_t size)
{
    snprintf(dir, size, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
}

nlsq_status colcache_open(const char *path, const struct stat *st, const char *identity, const char *cache_path,
                          colcache_write_fn write, void *ctx, nlsq_source **out, nlsq_error *err)
{
    *out = NULL;
    if (!cache_path && limit_from_env() == -2) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "NLSQ_COLUMN_CACHE_MAX='%.100s' is not a size (bytes, or a number with K, M, G or T)",
                  getenv("NLSQ_COLUMN_CACHE_MAX"));
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    char cache[PATH_MAX], names_path[PATH_MAX + 8];
    if (cache_path) {
        if ((size_t)snprintf(cache, sizeof cache, "%s", cache_path) >= sizeof cache - 40) {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the column cache path is too long", path);
            return NLSQ_ERR_INVALID_ARGUMENT;
        }
    } else {
        nlsq_status s = default_cache_path(path, identity, cache, sizeof cache, err);
        if (s != NLSQ_OK) return s;
    }
    snprintf(names_path, sizeof names_path, "%s.names", cache);
    nlsq_status s = check_cache_path(path, st, cache, err);
    if (s == NLSQ_OK) s = check_cache_path(path, st, names_path, err);
    if (s != NLSQ_OK) return s;
    for (int attempt = 0; attempt < 2; attempt++) {
        nlsq_status got = NLSQ_OK;
        nlsq_source *src = open_cached(cache, names_path, identity, &got);
        if (src) {
            if (!cache_path) mark_used(cache);
            source_set_origin(src, st);
            *out = src;
            return NLSQ_OK;
        }
        if (got != NLSQ_OK) {
            error_set(err, got, 0, 0, "%s: out of memory", path);
            return got;
        }
        if (attempt == 1) break;
        char dir[PATH_MAX];
        directory_of(cache, dir, sizeof dir);
        if (!cache_path) tempfile_sweep_dir(dir); /* what killed conversions left */
        if ((s = convert(write, ctx, cache, names_path, identity, err)) != NLSQ_OK) return s;
        if (!cache_path) evict(dir, strrchr(cache, '/') + 1);
    }
    error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: the column cache %s could not be read back", path, cache);
    return NLSQ_ERR_DATA;
}

nlsq_status nlsq_source_open_text(const char *path, const nlsq_text_options *opt, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!path || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_open_text: %s is NULL", !path ? "path" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    nlsq_text_options o = opt ? *opt : nlsq_text_options_default();
    if (o.delimiter && !strchr(",;\t ", o.delimiter)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the delimiter must be ',', ';', tab or space", path);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", path,
                  errno && stat(path, &st) != 0 ? strerror(errno) : "not a regular file (a column cache needs one)");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    char identity[200];
    snprintf(identity, sizeof identity, "nlsq-columns 2 size %lld mtime %lld.%09ld inode %llu delimiter %d",
             (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino,
             (int)o.delimiter);
    text_job job = {path, o.delimiter};
    return colcache_open(path, &st, identity, o.cache_path, write_text, &job, out, err);
}

int colcache_scan(int clear, nlsq_cache_info *out, char *why, size_t why_size)
{
    char *dir = out->dir;
    if (cache_directory(dir, sizeof out->dir, why, why_size) != 0) return -1;
    size_t used = strlen(dir);
    snprintf(dir + used, sizeof out->dir - used, "/columns");
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : (snprintf(why, why_size, "cannot read %s: %s", dir, strerror(errno)), -1);
    for (struct dirent *de = readdir(d); de; de = readdir(d)) {
        const char *rest = de->d_name + 32;
        if (strlen(de->d_name) < 36 || !is_hex32(de->d_name) || strncmp(rest, ".npy", 4) != 0)
            continue; /* not ours: never touched */
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        int cache_file = strcmp(rest, ".npy") == 0 || strcmp(rest, ".npy.names") == 0;
        temp_state t = cache_file ? TEMP_NONE : tempfile_state(de->d_name, NULL, &st);
        if (!cache_file && (t == TEMP_NONE || (clear && t == TEMP_LIVE))) continue;
        if (clear && unlinkat(dirfd(d), de->d_name, 0) != 0) {
            snprintf(why, why_size, "cannot remove %s/%s: %s", dir, de->d_name, strerror(errno));
            closedir(d);
            return -1;
        }
        if (cache_file) {
            out->count += strcmp(rest, ".npy") == 0;
            out->bytes += (long long)st.st_size;
        } else {
            out->temporaries++;
            out->temporary_bytes += (long long)st.st_size;
        }
    }
    closedir(d);
    return 0;
}
