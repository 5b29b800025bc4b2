/*
 * NumPy .npz archives as sources (numpy.savez, numpy.savez_compressed):
 * a ZIP archive (io/zip.c) of .npy members, "x.npy", "y.npy", named here
 * without ".npy".
 *
 * A stored member is a .npy lying in the archive as it is: it is mapped in
 * place, like any .npy (source_open_npy_at), and read at the speed of one.
 * A deflated member cannot be read in windows — a pass reads windows of
 * rows many times over, and a deflate stream can only be read from its
 * start — so it is inflated once (io/npz.c), streaming, in constant
 * memory: into memory as float64 columns when they are small
 * ($NLSQ_NPZ_INFLATE_MEMORY, default 64 MiB), else into a column cache
 * (colcache.c: the member's .npy in the cache directory, reused while the
 * archive is unchanged), which is mapped. Stored members are not
 * checksummed: that would read the whole file at every open, which
 * mapping exists to avoid (a .npy has no checksum either).
 *
 * A 1-D member is one column named by the member; a 2-D member of k > 1
 * columns gives NAME:1 ... NAME:k (one column: NAME). The members must
 * have the same number of rows; they are joined side by side.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npz.h"
#include "source.h"

enum { LABEL = NPZ_LABEL };

/* What the column cache's writer needs: the member, inflated again from
   its start and copied as it is (the cache is the member's own .npy). */
typedef struct cache_job {
    int fd;
    const zip_entry *e;
    const char *label;
    size_t ncols;
} cache_job;

static nlsq_status write_member(void *ctx, FILE *data, const char *cache, int *ncols, char ***names, nlsq_error *err)
{
    const cache_job *job = ctx;
    *ncols = (int)job->ncols;
    *names = NULL;
    npz_inflater *f = NULL;
    nlsq_status st = npz_inflate_open(job->fd, job->e, job->label, &f, err);
    if (st == NLSQ_OK) st = npz_inflate_copy(f, data, cache, err);
    npz_inflate_close(f);
    return st;
}

/* A deflated member: its .npy header read first; then its data into
   memory as float64 columns when they are small, else (inflated again
   from the start) into a column cache that is mapped. */
static nlsq_status open_deflated(const char *path, int fd, const struct stat *st, const zip_entry *e, const char *label,
                                 nlsq_source **out, nlsq_error *err)
{
    size_t limit;
    nlsq_status s = npz_memory_limit(&limit, err);
    if (s != NLSQ_OK) return s;
    npz_inflater *f = NULL;
    npy_info info;
    s = npz_inflate_open(fd, e, label, &f, err);
    if (s == NLSQ_OK) s = npz_inflate_header(f, &info, err);
    int in_memory = s == NLSQ_OK && info.rows <= limit / sizeof(double) / info.cols;
    if (in_memory) {
        table t;
        char desc[LABEL + 40];
        snprintf(desc, sizeof desc, "%s (inflated)", label);
        if ((s = npz_inflate_table(f, &info, &t, err)) == NLSQ_OK && !(*out = source_adopt_table(&t, desc))) {
            table_free(&t);
            s = error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
        }
        if (s == NLSQ_OK) source_set_origin(*out, st);
    }
    npz_inflate_close(f);
    if (s != NLSQ_OK || in_memory) return s;
    /* a column cache named by the archive's identity and the member's place */
    char identity[300];
    snprintf(identity, sizeof identity,
             "nlsq-npz 1 size %lld mtime %lld.%09ld device %llu inode %llu member at %llu size %llu crc %08x",
             (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino, (unsigned long long)e->local_offset, (unsigned long long)e->size,
             (unsigned)e->crc);
    cache_job job = {fd, e, label, info.cols};
    s = colcache_open(path, st, identity, NULL, write_member, &job, out, err);
    if (s == NLSQ_OK) {
        char desc[LABEL + 80];
        snprintf(desc, sizeof desc, "%s: %zu x %zu %s, inflated once into a column cache, mapped", label, info.rows,
                 info.cols, info.elsize == 8 ? "float64" : "float32");
        source_set_description(*out, desc);
    }
    return s;
}

/* The member e as a source, its columns named after `name`. */
static nlsq_status open_member(const char *path, int fd, const struct stat *st, const zip_entry *e, const char *name,
                               nlsq_source **out, nlsq_error *err)
{
    char label[LABEL];
    snprintf(label, sizeof label, "%s member '%.100s'", path, name);
    *out = NULL;
    nlsq_status s;
    if (e->method == ZIP_STORED) {
        if (e->comp_size != e->size)
            return error_fail(err, NLSQ_ERR_DATA, "%s: corrupt: stored, yet %llu bytes in the archive for %llu", label,
                              (unsigned long long)e->comp_size, (unsigned long long)e->size);
        if (e->data_offset > SIZE_MAX || e->size > SIZE_MAX)
            return error_fail(err, NLSQ_ERR_DATA, "%s: beyond this machine's address space", label);
        s = source_open_npy_at(path, (size_t)e->data_offset, (size_t)e->size, label, out, err);
    } else if (e->method == ZIP_DEFLATED) {
        s = open_deflated(path, fd, st, e, label, out, err);
    } else {
        return error_fail(err, NLSQ_ERR_DATA,
                          "%s uses compression method %d; only stored (0, numpy.savez) and deflated (8, "
                          "numpy.savez_compressed) members are read",
                          label, e->method);
    }
    if (s != NLSQ_OK) return s;
    /* NAME for one column, NAME:1 ... NAME:k for more */
    int k = nlsq_source_num_columns(*out);
    char **names = calloc((size_t)k, sizeof *names);
    int ok = names != NULL;
    for (int c = 0; ok && c < k; c++) {
        size_t len = strlen(name) + 16;
        if ((ok = (names[c] = malloc(len)) != NULL)) {
            if (k == 1)
                snprintf(names[c], len, "%s", name);
            else
                snprintf(names[c], len, "%s:%d", name, c + 1);
        }
    }
    if (ok) ok = source_set_names(*out, names) == 0;
    for (int c = 0; names && c < k; c++) free(names[c]);
    free(names);
    if (!ok) {
        nlsq_source_free(*out);
        *out = NULL;
        return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    }
    return NLSQ_OK;
}

/* All parts the same length, else a message naming each with its rows. */
static nlsq_status same_rows(const char *path, nlsq_source *const *parts, char *const *names, int n, nlsq_error *err)
{
    int same = 1;
    for (int k = 1; k < n; k++) same &= nlsq_source_num_rows(parts[k]) == nlsq_source_num_rows(parts[0]);
    if (same) return NLSQ_OK;
    char list[600];
    size_t used = 0;
    for (int k = 0; k < n && used < sizeof list; k++) {
        int w = snprintf(list + used, sizeof list - used, "%s%.60s has %zu", k ? ", " : "", names[k],
                         nlsq_source_num_rows(parts[k]));
        if (w < 0) break;
        used += (size_t)w;
    }
    return error_fail(err, NLSQ_ERR_DATA, "%s: the members differ in length (rows): %s", path, list);
}

/* The members' column names on the joined source (a join renumbers
   names that look like numbers: a member may be called "2"). */
static nlsq_status keep_names(nlsq_source *joined, nlsq_source *const *parts, int n, const char *path, nlsq_error *err)
{
    char **all = malloc((size_t)nlsq_source_num_columns(joined) * sizeof *all);
    if (!all) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
    int c = 0;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < nlsq_source_num_columns(parts[k]); j++)
            all[c++] = (char *)nlsq_source_column_name(parts[k], j);
    int rc = source_set_names(joined, all);
    free(all);
    return rc == 0 ? NLSQ_OK : error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
}

nlsq_status nlsq_source_open_npz(const char *path, const char *const *members, int count, nlsq_source **out,
                                 nlsq_error *err)
{
    error_clear(err);
    if (!path || !out)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_open_npz: %s is NULL", !path ? "path" : "out");
    *out = NULL;
    if (count < 0 || count > NPZ_MAX_MEMBERS || (count > 0 && !members))
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                          "nlsq_source_open_npz: %s: count must be 0 to %d, with members", path, NPZ_MAX_MEMBERS);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: not a regular file (an .npz is read in place)", path);
    }
    zip_archive z;
    nlsq_status s = zip_read(fd, path, &z, err);
    if (s != NLSQ_OK) {
        close(fd);
        return s;
    }
    const zip_entry *chosen[NPZ_MAX_MEMBERS];
    nlsq_source *parts[NPZ_MAX_MEMBERS];
    char *names[NPZ_MAX_MEMBERS];
    int n = 0, opened = 0, named = 0;
    s = npz_choose(path, &z, members, count, chosen, &n, err);
    for (int k = 0; s == NLSQ_OK && k < n; k++) {
        if (!(names[k] = npz_member_name(chosen[k]->name))) {
            s = error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        named = k + 1;
        s = open_member(path, fd, &st, chosen[k], names[k], &parts[k], err);
        opened = k + (s == NLSQ_OK);
        /* every member read, one that is no column (a scalar beside the
           arrays, as numpy.savez is often given): the others can be named */
        if (s == NLSQ_ERR_DATA && count == 0 && n > 1 && err) {
            char msg[2 * sizeof err->message + 64]; /* error_set cuts it to its message */
            snprintf(msg, sizeof msg, "%s; name the members to read (%s:NAME,...)", err->message, path);
            error_set(err, s, 0, 0, "%s", msg);
        }
    }
    if (s == NLSQ_OK) s = same_rows(path, parts, names, n, err);
    if (s == NLSQ_OK && n == 1) {
        *out = parts[0];
        opened = 0;
    } else if (s == NLSQ_OK && (s = nlsq_source_join(parts, n, out, err)) == NLSQ_OK) {
        opened = 0; /* the joined source owns them */
        s = keep_names(*out, parts, n, path, err);
        if (s != NLSQ_OK) {
            nlsq_source_free(*out);
            *out = NULL;
        }
    }
    for (int k = 0; k < opened; k++) nlsq_source_free(parts[k]);
    for (int k = 0; k < named; k++) free(names[k]);
    zip_free(&z);
    close(fd);
    return s;
}
