/*
 * NumPy .npz archives (numpy.savez, numpy.savez_compressed): a ZIP archive
 * (zip.c) of .npy members, "x.npy", "y.npy", named here without ".npy".
 *
 * A stored member is a .npy lying in the archive as it is: it is mapped in
 * place, like any .npy (source_open_npy_at), and read at the speed of one.
 * A deflated member cannot be read in windows — a pass reads windows of
 * rows many times over, and a deflate stream can only be read from its
 * start — so it is inflated once, streaming, in constant memory: into
 * memory as float64 columns when they are small (NLSQ_NPZ_INFLATE_MEMORY,
 * default 64 MiB), else into a column cache (colcache.c: a .npy in the
 * cache directory, reused while the archive is unchanged). Its CRC-32 is
 * checked against the central directory, and inflating stops at the size
 * the directory declares (a member that would inflate further is refused).
 * Stored members are not checksummed: that would read the whole file at
 * every open, which mapping exists to avoid (a .npy has no checksum either).
 *
 * A 1-D member is one column named by the member; a 2-D member of k > 1
 * columns gives NAME:1 ... NAME:k (one column: NAME). The members must
 * have the same number of rows; they are joined side by side.
 */
#define _POSIX_C_SOURCE 200809L /* pread, fmemopen, strdup */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef NLSQ_HAVE_ZLIB
#include <zlib.h>
#endif

#include "fit/source.h"
#include "io.h"
#include "zip.h"

int nlsq_have_zlib(void)
{
#ifdef NLSQ_HAVE_ZLIB
    return 1;
#else
    return 0;
#endif
}

enum { MAX_MEMBERS = 256, LABEL = 400 };

static nlsq_status npz_fail(nlsq_error *err, nlsq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static nlsq_status npz_fail(nlsq_error *err, nlsq_status code, const char *fmt, ...)
{
    char what[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    error_set(err, code, 0, 0, "%s", what);
    return code;
}

/* The member's name without its ".npy" (a copy), or NULL out of memory. */
static char *member_name(const char *entry)
{
    size_t n = strlen(entry);
    if (n > 4 && strcmp(entry + n - 4, ".npy") == 0) n -= 4;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, entry, n);
        s[n] = '\0';
    }
    return s;
}

static int is_npy_entry(const zip_entry *e)
{
    size_t n = strlen(e->name);
    return n > 4 && strcmp(e->name + n - 4, ".npy") == 0;
}

/* "the members: x, y, z" (as many as fit) into out. */
static void list_members(const zip_archive *z, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < z->n; i++) {
        size_t n = strlen(z->e[i].name);
        int npy = is_npy_entry(&z->e[i]);
        int w = snprintf(out + used, size - used, "%s%.*s", i ? ", " : "", (int)(npy ? n - 4 : n), z->e[i].name);
        if (w < 0 || (size_t)w >= size - used) {
            if (size > 5) memcpy(out + size - 5, " ...", 5);
            return;
        }
        used += (size_t)w;
    }
    if (!z->n) snprintf(out, size, "none");
}

/* The entry named `want` (given without ".npy", or with it), or NULL. */
static const zip_entry *find_member(const zip_archive *z, const char *want)
{
    size_t n = strlen(want);
    for (size_t i = 0; i < z->n; i++) {
        const char *name = z->e[i].name;
        if (is_npy_entry(&z->e[i]) && strlen(name) == n + 4 && strncmp(name, want, n) == 0) return &z->e[i];
    }
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, want) == 0) return &z->e[i];
    return NULL;
}

/* ---- deflated members ---------------------------------------------------- */

#ifdef NLSQ_HAVE_ZLIB

enum { CHUNK = 1 << 16 };

/* A deflated member read from its start: at most its declared size, the
   CRC-32 of what came out kept. */
typedef struct inflater {
    int fd;
    const char *label;
    z_stream z;
    int ended;          /* the deflate stream's end was reached */
    uint64_t in_at;     /* the next compressed byte's offset    */
    uint64_t in_left;   /* compressed bytes not yet read        */
    uint64_t out_left;  /* declared bytes not yet produced      */
    uint64_t declared;
    uint32_t crc, want_crc;
    unsigned char in[CHUNK];
} inflater;

static nlsq_status inflater_start(inflater *f, int fd, const zip_entry *e, const char *label, nlsq_error *err)
{
    memset(&f->z, 0, sizeof f->z);
    f->fd = fd;
    f->label = label;
    f->ended = 0;
    f->in_at = e->data_offset;
    f->in_left = e->comp_size;
    f->out_left = f->declared = e->size;
    f->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    f->want_crc = e->crc;
    if (inflateInit2(&f->z, -MAX_WBITS) != Z_OK) return npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    return NLSQ_OK;
}

static void inflater_end(inflater *f)
{
    inflateEnd(&f->z);
}

/* More compressed input when the stream has used all it had; 0, or -1
   when the member has no more (the stream is cut short). */
static int refill(inflater *f)
{
    if (f->z.avail_in > 0) return 0;
    if (f->in_left == 0) return -1;
    size_t n = f->in_left < CHUNK ? (size_t)f->in_left : CHUNK;
    ssize_t got = pread(f->fd, f->in, n, (off_t)f->in_at);
    if (got <= 0) return -1;
    f->in_at += (uint64_t)got;
    f->in_left -= (uint64_t)got;
    f->z.next_in = f->in;
    f->z.avail_in = (uInt)got;
    return 0;
}

/* Exactly n bytes (n no more than what remains of the declared size). */
static nlsq_status inflater_read(inflater *f, unsigned char *buf, size_t n, nlsq_error *err)
{
    size_t done = 0;
    while (done < n) {
        if (f->ended)
            return npz_fail(err, NLSQ_ERR_DATA, "%s: corrupt: it inflates to %llu bytes, the directory declares %llu",
                            f->label, (unsigned long long)(f->declared - f->out_left),
                            (unsigned long long)f->declared);
        if (refill(f) != 0)
            return npz_fail(err, NLSQ_ERR_DATA,
                            "%s: corrupt or truncated: its deflate stream ends after %llu of the declared %llu bytes",
                            f->label, (unsigned long long)(f->declared - f->out_left),
                            (unsigned long long)f->declared);
        size_t want = n - done < CHUNK ? n - done : CHUNK;
        f->z.next_out = buf + done;
        f->z.avail_out = (uInt)want;
        int rc = inflate(&f->z, Z_NO_FLUSH);
        size_t got = want - f->z.avail_out;
        if (rc == Z_STREAM_END)
            f->ended = 1;
        else if (rc == Z_MEM_ERROR)
            return npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", f->label);
        else if (rc != Z_OK && !(rc == Z_BUF_ERROR && got > 0))
            return npz_fail(err, NLSQ_ERR_DATA, "%s: corrupt deflate stream (%s)", f->label,
                            f->z.msg ? f->z.msg : "zlib error");
        f->crc = (uint32_t)crc32(f->crc, buf + done, (uInt)got);
        done += got;
        f->out_left -= got;
    }
    return NLSQ_OK;
}

/* After the declared size: the stream must end there, and the CRC-32
   must be the directory's. */
static nlsq_status inflater_finish(inflater *f, nlsq_error *err)
{
    while (!f->ended) {
        unsigned char extra;
        if (refill(f) != 0)
            return npz_fail(err, NLSQ_ERR_DATA, "%s: corrupt or truncated: its deflate stream does not end", f->label);
        f->z.next_out = &extra;
        f->z.avail_out = 1;
        int rc = inflate(&f->z, Z_NO_FLUSH);
        if (f->z.avail_out == 0)
            return npz_fail(err, NLSQ_ERR_DATA,
                            "%s: it inflates to more than the %llu bytes the directory declares (corrupt, or a zip "
                            "bomb); refused",
                            f->label, (unsigned long long)f->declared);
        if (rc == Z_STREAM_END)
            f->ended = 1;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return npz_fail(err, NLSQ_ERR_DATA, "%s: corrupt deflate stream (%s)", f->label,
                            f->z.msg ? f->z.msg : "zlib error");
    }
    if (f->crc != f->want_crc)
        return npz_fail(err, NLSQ_ERR_DATA,
                        "%s: corrupt: the CRC-32 of its inflated bytes is %08x, the directory says %08x", f->label,
                        (unsigned)f->crc, (unsigned)f->want_crc);
    return NLSQ_OK;
}

/* The .npy header at the start of the inflated member: parsed by the .npy
   reader (the same rules and messages), its bytes in head (*head_len). */
static nlsq_status inflated_header(inflater *f, unsigned char *head, size_t *head_len, npy_info *info,
                                   nlsq_error *err)
{
    nlsq_status st;
    if (f->declared < 10)
        return npz_fail(err, NLSQ_ERR_DATA, "%s: not a .npy file (%llu bytes)", f->label,
                        (unsigned long long)f->declared);
    if ((st = inflater_read(f, head, 10, err)) != NLSQ_OK) return st;
    if (memcmp(head, "\x93NUMPY", 6) != 0)
        return npz_fail(err, NLSQ_ERR_DATA, "%s: not a .npy file (no \\x93NUMPY magic)", f->label);
    size_t have = 10, hlen = (size_t)head[8] | (size_t)head[9] << 8, pre_len = 10;
    if (head[6] >= 2 && f->declared >= 12) {
        if ((st = inflater_read(f, head + 10, 2, err)) != NLSQ_OK) return st;
        have = pre_len = 12;
        hlen |= (size_t)head[10] << 16 | (size_t)head[11] << 24;
    }
    /* npy_header refuses a longer header; so many bytes are all it reads */
    size_t want = hlen <= (1u << 20) ? pre_len + hlen : have;
    if (want - have > f->out_left) want = have + (size_t)f->out_left;
    if ((st = inflater_read(f, head + have, want - have, err)) != NLSQ_OK) return st;
    *head_len = want;
    FILE *m = fmemopen(head, want, "rb");
    if (!m) return npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", f->label);
    st = npy_header(m, f->label, info, err);
    fclose(m);
    if (st != NLSQ_OK) return st;
    if (info->rows == 0) return npz_fail(err, NLSQ_ERR_DATA, "%s: no rows", f->label);
    size_t row_bytes = info->cols * (size_t)info->elsize;
    if (info->data_offset != want || info->rows > (f->declared - want) / row_bytes)
        return npz_fail(err, NLSQ_ERR_DATA,
                        "%s: truncated: %zu rows x %zu columns of %d bytes need %.0f bytes after the %zu-byte header, "
                        "the member has %llu",
                        f->label, info->rows, info->cols, info->elsize, (double)info->rows * (double)row_bytes, want,
                        (unsigned long long)(f->declared - want));
    return NLSQ_OK;
}

/* Bytes left of the declared size read and dropped (the CRC covers them). */
static nlsq_status drain(inflater *f, unsigned char *buf, nlsq_error *err)
{
    while (f->out_left > 0) {
        size_t n = f->out_left < CHUNK ? (size_t)f->out_left : CHUNK;
        nlsq_status st = inflater_read(f, buf, n, err);
        if (st != NLSQ_OK) return st;
    }
    return inflater_finish(f, err);
}

/* The member into memory as float64 columns, converted as it inflates. */
static nlsq_status inflate_to_memory(inflater *f, const npy_info *info, const char *label, nlsq_source **out,
                                     nlsq_error *err)
{
    table t = {(int)info->cols, info->rows, NULL, NULL};
    unsigned char *buf = malloc(CHUNK);
    t.names = calloc(info->cols, sizeof *t.names);
    t.cols = calloc(info->cols, sizeof *t.cols);
    int ok = buf && t.names && t.cols;
    for (size_t c = 0; ok && c < info->cols; c++) {
        char num[24];
        snprintf(num, sizeof num, "%zu", c + 1);
        ok = (t.names[c] = strdup(num)) && (t.cols[c] = malloc(info->rows * sizeof(double)));
    }
    nlsq_status st = ok ? NLSQ_OK : npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    /* element k of the data, in the file's order */
    size_t total = info->rows * info->cols, k = 0, per = CHUNK / (size_t)info->elsize;
    while (st == NLSQ_OK && k < total) {
        size_t n = total - k < per ? total - k : per;
        if ((st = inflater_read(f, buf, n * (size_t)info->elsize, err)) != NLSQ_OK) break;
        for (size_t i = 0; i < n; i++, k++) {
            size_t r = info->fortran ? k % info->rows : k / info->cols;
            size_t c = info->fortran ? k / info->rows : k % info->cols;
            t.cols[c][r] = npy_element(buf + i * (size_t)info->elsize, info->elsize, info->swap);
        }
    }
    if (st == NLSQ_OK) st = drain(f, buf, err);
    free(buf);
    char desc[LABEL + 40];
    snprintf(desc, sizeof desc, "%s (inflated)", label);
    if (st == NLSQ_OK && !(*out = source_adopt_table(&t, desc)))
        st = npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    if (st != NLSQ_OK) table_free(&t);
    return st;
}

/* What the column cache's writer needs: the member, inflated again from
   its start, copied as it is (the cache is the member's .npy). */
typedef struct cache_job {
    int fd;
    const zip_entry *e;
    const char *label;
    size_t ncols;
} cache_job;

static nlsq_status write_member(void *ctx, FILE *data, const char *cache, int *ncols, char ***names,
                                nlsq_error *err)
{
    const cache_job *job = ctx;
    *ncols = (int)job->ncols;
    *names = NULL;
    inflater *f = malloc(sizeof *f);
    unsigned char *buf = malloc(CHUNK);
    nlsq_status st = f && buf ? inflater_start(f, job->fd, job->e, job->label, err)
                              : npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", job->label);
    int started = st == NLSQ_OK;
    while (st == NLSQ_OK && f->out_left > 0) {
        size_t n = f->out_left < CHUNK ? (size_t)f->out_left : CHUNK;
        if ((st = inflater_read(f, buf, n, err)) == NLSQ_OK && fwrite(buf, 1, n, data) != n)
            st = npz_fail(err, NLSQ_ERR_IO, "cannot write the column cache %s: %s (disk full?)", cache,
                          strerror(errno));
    }
    if (st == NLSQ_OK) st = inflater_finish(f, err);
    if (started) inflater_end(f);
    free(f);
    free(buf);
    return st;
}

/* The memory a deflated member may take inflated, as float64 columns:
   $NLSQ_NPZ_INFLATE_MEMORY (bytes, or with K, M or G), default 64 MiB. */
static nlsq_status memory_limit(size_t *limit, nlsq_error *err)
{
    const char *v = getenv("NLSQ_NPZ_INFLATE_MEMORY");
    *limit = (size_t)64 << 20;
    if (!v || !*v) return NLSQ_OK;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    int shift = !*end ? 0 : !strcmp(end, "K") ? 10 : !strcmp(end, "M") ? 20 : !strcmp(end, "G") ? 30 : -1;
    if (end == v || *v == '-' || errno || shift < 0 || x > (SIZE_MAX >> shift))
        return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                        "NLSQ_NPZ_INFLATE_MEMORY='%.100s' is not a size (bytes, or a number with K, M or G)", v);
    *limit = (size_t)x << shift;
    return NLSQ_OK;
}

static nlsq_status open_deflated(const char *path, int fd, const struct stat *st, const zip_entry *e,
                                 const char *label, nlsq_source **out, nlsq_error *err)
{
    size_t limit;
    nlsq_status s = memory_limit(&limit, err);
    if (s != NLSQ_OK) return s;
    inflater *f = malloc(sizeof *f);
    unsigned char *head = malloc((1u << 20) + 12);
    if (!f || !head) {
        free(f);
        free(head);
        return npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    }
    npy_info info;
    size_t head_len = 0;
    s = inflater_start(f, fd, e, label, err);
    int started = s == NLSQ_OK;
    if (s == NLSQ_OK) s = inflated_header(f, head, &head_len, &info, err);
    free(head);
    int in_memory = s == NLSQ_OK && info.rows <= limit / sizeof(double) / info.cols;
    if (in_memory) s = inflate_to_memory(f, &info, label, out, err);
    if (started) inflater_end(f);
    free(f);
    if (s != NLSQ_OK || in_memory) {
        if (s == NLSQ_OK) source_set_origin(*out, st);
        return s;
    }
    /* a column cache named by the archive's identity and the member's place */
    char identity[300];
    snprintf(identity, sizeof identity,
             "nlsq-npz 1 size %lld mtime %lld.%09ld device %llu inode %llu member at %llu size %llu crc %08x",
             (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
             (unsigned long long)st->st_dev, (unsigned long long)st->st_ino, (unsigned long long)e->local_offset,
             (unsigned long long)e->size, (unsigned)e->crc);
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

#endif /* NLSQ_HAVE_ZLIB */

/* ---- the archive ---------------------------------------------------------- */

/* The member e as a source, its columns named after `name`. */
static nlsq_status open_member(const char *path, int fd, const struct stat *st, const zip_entry *e,
                               const char *name, nlsq_source **out, nlsq_error *err)
{
    char label[LABEL];
    snprintf(label, sizeof label, "%s member '%.100s'", path, name);
    *out = NULL;
    nlsq_status s;
    if (e->method == ZIP_STORED) {
        if (e->comp_size != e->size)
            return npz_fail(err, NLSQ_ERR_DATA, "%s: corrupt: stored, yet %llu bytes in the archive for %llu", label,
                            (unsigned long long)e->comp_size, (unsigned long long)e->size);
        if (e->data_offset > SIZE_MAX || e->size > SIZE_MAX)
            return npz_fail(err, NLSQ_ERR_DATA, "%s: beyond this machine's address space", label);
        s = source_open_npy_at(path, (size_t)e->data_offset, (size_t)e->size, label, out, err);
    } else if (e->method == ZIP_DEFLATED) {
#ifdef NLSQ_HAVE_ZLIB
        s = open_deflated(path, fd, st, e, label, out, err);
#else
        (void)fd;
        (void)st;
        return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                        "%s is deflated (numpy.savez_compressed), and this build of nlsq has no zlib: install "
                        "zlib1g-dev and rebuild, or save with numpy.savez",
                        label);
#endif
    } else {
        return npz_fail(err, NLSQ_ERR_DATA,
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
        return npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    }
    return NLSQ_OK;
}

/* The entries asked for (all .npy members for count 0), and their names. */
static nlsq_status choose(const char *path, const zip_archive *z, const char *const *members, int count,
                          const zip_entry **chosen, int *n, nlsq_error *err)
{
    char list[600];
    *n = 0;
    if (count == 0) {
        for (size_t i = 0; i < z->n; i++) {
            const zip_entry *e = &z->e[i];
            size_t len = strlen(e->name);
            if (len && e->name[len - 1] == '/') continue; /* a directory */
            if (!is_npy_entry(e))
                return npz_fail(err, NLSQ_ERR_DATA,
                                "%s: member '%.100s' is not a .npy (an .npz holds NAME.npy members); name the "
                                "members to read (%s:NAME,...)",
                                path, e->name, path);
            if (*n == MAX_MEMBERS)
                return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: more than %d members; name those to read",
                                path, MAX_MEMBERS);
            chosen[(*n)++] = e;
        }
        if (*n == 0) return npz_fail(err, NLSQ_ERR_DATA, "%s: an archive without members", path);
        return NLSQ_OK;
    }
    for (int k = 0; k < count; k++) {
        if (!members[k] || !members[k][0])
            return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: member name %d is %s", path, k,
                            members[k] ? "empty" : "NULL");
        const zip_entry *e = find_member(z, members[k]);
        if (!e) {
            list_members(z, list, sizeof list);
            return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: no member '%.100s' (the members: %s)", path,
                            members[k], list);
        }
        chosen[(*n)++] = e;
    }
    return NLSQ_OK;
}

/* All parts the same length, else a message naming each with its rows. */
static nlsq_status same_rows(const char *path, nlsq_source *const *parts, char *const *names, int n,
                             nlsq_error *err)
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
    return npz_fail(err, NLSQ_ERR_DATA, "%s: the members differ in length (rows): %s", path, list);
}

nlsq_status nlsq_source_open_npz(const char *path, const char *const *members, int count, nlsq_source **out,
                                 nlsq_error *err)
{
    error_clear(err);
    if (!path || !out)
        return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_open_npz: %s is NULL", !path ? "path" : "out");
    *out = NULL;
    if (count < 0 || count > MAX_MEMBERS || (count > 0 && !members))
        return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_open_npz: %s: count must be 0 to %d, with members",
                        path, MAX_MEMBERS);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return npz_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: not a regular file (an .npz is read in place)", path);
    }
    zip_archive z;
    nlsq_status s = zip_read(fd, path, &z, err);
    if (s != NLSQ_OK) {
        close(fd);
        return s;
    }
    const zip_entry *chosen[MAX_MEMBERS];
    nlsq_source *parts[MAX_MEMBERS];
    char *names[MAX_MEMBERS];
    int n = 0, opened = 0;
    s = choose(path, &z, members, count, chosen, &n, err);
    for (int k = 0; s == NLSQ_OK && k < n; k++) {
        if (!(names[k] = member_name(chosen[k]->name))) {
            s = npz_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        s = open_member(path, fd, &st, chosen[k], names[k], &parts[k], err);
        opened = k + (s == NLSQ_OK);
        if (s != NLSQ_OK) free(names[k]);
    }
    if (s == NLSQ_OK) s = same_rows(path, parts, names, n, err);
    if (s == NLSQ_OK && n == 1) {
        *out = parts[0];
        opened = 0;
    } else if (s == NLSQ_OK && (s = nlsq_source_join(parts, n, out, err)) == NLSQ_OK) {
        opened = 0; /* the joined source owns them */
    }
    for (int k = 0; k < opened; k++) nlsq_source_free(parts[k]);
    for (int k = 0; k < (s == NLSQ_OK ? n : opened); k++) free(names[k]);
    zip_free(&z);
    close(fd);
    return s;
}
