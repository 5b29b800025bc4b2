/*
 * Text tables as sources: parsing numbers is far slower than a pass, so a
 * text file is read once, in one streaming sweep, into a column cache — a
 * float64 .npy file (C order: rows are written as they are parsed) — and
 * every pass maps that. Beside it, NAME.names holds the text file's
 * identity (size, modification time, inode, delimiter) and the column
 * names; the cache is used while the identity matches and is otherwise
 * rebuilt. Both files appear whole or not at all (temporary + rename).
 */
#define _GNU_SOURCE /* mkostemp, realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Write `text` to path atomically. */
static int write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= sizeof tmp) return -1;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    int ok = fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The sidecar: the identity line, then one column name a line. */
static int write_names(const char *path, const char *identity, char **names, int ncols)
{
    size_t need = strlen(identity) + 2;
    for (int c = 0; c < ncols; c++) need += (names ? strlen(names[c]) : 12) + 1;
    char *text = malloc(need), *p = text;
    if (!text) return -1;
    p += sprintf(p, "%s\n", identity);
    for (int c = 0; c < ncols; c++) {
        if (names) {
            /* a name with a newline would break the file: blank it out */
            for (const char *s = names[c]; *s; s++) *p++ = *s == '\n' ? ' ' : *s;
            *p++ = '\n';
        } else {
            p += sprintf(p, "%d\n", c + 1);
        }
    }
    *p = '\0';
    int rc = write_atomic(path, text);
    free(text);
    return rc;
}

/* Read the sidecar when its identity matches: names (ncols) or NULL. */
static char **read_names(const char *path, const char *identity, int ncols)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, f);
    char **names = NULL;
    if (got > 0 && line[got - 1] == '\n') line[--got] = '\0';
    if (got >= 0 && strcmp(line, identity) == 0 && (names = calloc((size_t)ncols, sizeof *names))) {
        for (int c = 0; c < ncols; c++) {
            got = getline(&line, &cap, f);
            if (got <= 0) {
                free_names(names, ncols);
                names = NULL;
                break;
            }
            if (line[got - 1] == '\n') line[got - 1] = '\0';
            if (!(names[c] = strdup(line))) {
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

/* Convert `path` into `cache` (and its sidecar). */
static nlsq_status convert(const char *path, char delim, const char *cache, const char *names_path,
                           const char *identity, nlsq_error *err)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", path, strerror(errno));
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", cache) >= sizeof tmp) {
        fclose(in);
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the column cache path is too long", path);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    FILE *out = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!out) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        fclose(in);
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "cannot write the column cache %s: %s", cache, strerror(e));
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    unsigned char header[HEADER_BYTES];
    memset(header, 0, sizeof header);
    converter cv = {out, 0, 0, NULL};
    nlsq_status st = NLSQ_OK;
    if (fwrite(header, 1, sizeof header, out) != sizeof header) st = NLSQ_ERR_INVALID_ARGUMENT;
    if (st == NLSQ_OK) st = table_scan(in, path, delim, convert_row, &cv, err);
    fclose(in);
    if (st == NLSQ_OK) {
        npy_header_text(header, cv.rows, cv.ncols);
        int ok = fseek(out, 0, SEEK_SET) == 0 && fwrite(header, 1, sizeof header, out) == sizeof header &&
                 fflush(out) == 0 && fsync(fileno(out)) == 0;
        if (!ok) {
            st = NLSQ_ERR_INVALID_ARGUMENT;
            error_set(err, st, 0, 0, "cannot write the column cache %s: %s", cache, strerror(errno));
        }
    } else if (st == NLSQ_ERR_NOMEM) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "cannot write the column cache %s: %s (disk full?)", cache,
                  strerror(errno));
        st = NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (fclose(out) != 0 && st == NLSQ_OK) {
        st = NLSQ_ERR_INVALID_ARGUMENT;
        error_set(err, st, 0, 0, "cannot write the column cache %s: %s", cache, strerror(errno));
    }
    if (st == NLSQ_OK && write_names(names_path, identity, cv.names, cv.ncols) != 0) {
        st = NLSQ_ERR_INVALID_ARGUMENT;
        error_set(err, st, 0, 0, "cannot write %s: %s", names_path, strerror(errno));
    }
    if (st == NLSQ_OK && rename(tmp, cache) != 0) {
        st = NLSQ_ERR_INVALID_ARGUMENT;
        error_set(err, st, 0, 0, "cannot write the column cache %s: %s", cache, strerror(errno));
    }
    if (st != NLSQ_OK) unlink(tmp);
    free_names(cv.names, cv.ncols);
    return st;
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
    char identity[200], cache[PATH_MAX], names_path[PATH_MAX + 8];
    snprintf(identity, sizeof identity, "nlsq-columns 1 size %lld mtime %lld.%09ld inode %llu delimiter %d",
             (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino,
             (int)o.delimiter);
    if (o.cache_path) {
        if ((size_t)snprintf(cache, sizeof cache, "%s", o.cache_path) >= sizeof cache - 20) {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the column cache path is too long", path);
            return NLSQ_ERR_INVALID_ARGUMENT;
        }
    } else {
        nlsq_status s = default_cache_path(path, identity, cache, sizeof cache, err);
        if (s != NLSQ_OK) return s;
    }
    snprintf(names_path, sizeof names_path, "%s.names", cache);
    for (int attempt = 0; attempt < 2; attempt++) {
        nlsq_source *src = NULL;
        nlsq_error quiet;
        if (nlsq_source_open_npy(cache, &src, &quiet) == NLSQ_OK) {
            char **names = read_names(names_path, identity, nlsq_source_num_columns(src));
            if (names) {
                int rc = source_set_names(src, names);
                free_names(names, nlsq_source_num_columns(src));
                if (rc != 0) {
                    nlsq_source_free(src);
                    error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", path);
                    return NLSQ_ERR_NOMEM;
                }
                *out = src;
                return NLSQ_OK;
            }
            nlsq_source_free(src);
        }
        if (attempt == 1) break;
        nlsq_status s = convert(path, o.delimiter, cache, names_path, identity, err);
        if (s != NLSQ_OK) return s;
    }
    error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: the column cache %s could not be read back", path, cache);
    return NLSQ_ERR_DATA;
}

/* HASH.npy, HASH.npy.names (32 hex digits), and their temporaries. */
static int is_column_cache_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 36) return 0;
    for (int i = 0; i < 32; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return 0;
    const char *rest = name + 32;
    return strcmp(rest, ".npy") == 0 || strcmp(rest, ".npy.names") == 0 || strncmp(rest, ".npy.tmp-", 9) == 0 ||
           strncmp(rest, ".npy.names.tmp-", 15) == 0;
}

int colcache_scan(int clear, char *dir, size_t dir_size, int *count, long long *bytes, char *why, size_t why_size)
{
    *count = 0;
    *bytes = 0;
    if (cache_directory(dir, dir_size, why, why_size) != 0) return -1;
    size_t used = strlen(dir);
    snprintf(dir + used, dir_size - used, "/columns");
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : (snprintf(why, why_size, "cannot read %s: %s", dir, strerror(errno)), -1);
    for (struct dirent *de = readdir(d); de; de = readdir(d)) {
        if (!is_column_cache_name(de->d_name)) continue; /* not ours: never touched */
        char path[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path) continue;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (strcmp(de->d_name + 32, ".npy") == 0) (*count)++;
        *bytes += (long long)st.st_size;
        if (clear && unlink(path) != 0) {
            snprintf(why, why_size, "cannot remove %s: %s", path, strerror(errno));
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}
