/*
 * NumPy .npz archives, below the sources: members found by name, and
 * deflated members (numpy.savez_compressed) inflated through zlib from
 * their start, streaming, in constant memory — checked as they go: never
 * past the size the central directory declares (a member that would
 * inflate further, a zip bomb, is refused), the stream ending exactly
 * there, the CRC-32 the directory's. fit/source_npz.c makes the sources
 * (stored members mapped in place, deflated ones inflated once into
 * memory or a column cache).
 */
#define _POSIX_C_SOURCE 200809L /* pread, fmemopen, strdup */
#include "npz.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NLSQ_HAVE_ZLIB
#include <zlib.h>
#endif

#include "core/core.h"

int nlsq_have_zlib(void)
{
#ifdef NLSQ_HAVE_ZLIB
    return 1;
#else
    return 0;
#endif
}

/* The member's name without its ".npy" (a copy), or NULL out of memory. */
char *npz_member_name(const char *entry)
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

/* The entry named `want` (given without ".npy", or with it), or NULL.
   A name the archive holds twice (a member written again by appending)
   is its last entry, as numpy.load (Python's zipfile) reads it. */
static const zip_entry *find_member(const zip_archive *z, const char *want)
{
    size_t n = strlen(want);
    for (size_t i = z->n; i-- > 0;) {
        const char *name = z->e[i].name;
        if (is_npy_entry(&z->e[i]) && strlen(name) == n + 4 && strncmp(name, want, n) == 0) return &z->e[i];
    }
    for (size_t i = z->n; i-- > 0;)
        if (strcmp(z->e[i].name, want) == 0) return &z->e[i];
    return NULL;
}

/* The entries asked for (all .npy members for count 0), and their names. */
nlsq_status npz_choose(const char *path, const zip_archive *z, const char *const *members, int count,
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
                return error_fail(err, NLSQ_ERR_DATA,
                                  "%s: member '%.100s' is not a .npy (an .npz holds NAME.npy members); name the "
                                  "members to read (%s:NAME,...)",
                                  path, e->name, path);
            if (*n == NPZ_MAX_MEMBERS)
                return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: more than %d members; name those to read", path,
                                  NPZ_MAX_MEMBERS);
            chosen[(*n)++] = find_member(z, e->name); /* a name held twice: its last entry */
        }
        if (*n == 0) return error_fail(err, NLSQ_ERR_DATA, "%s: an archive without members", path);
        return NLSQ_OK;
    }
    for (int k = 0; k < count; k++) {
        if (!members[k] || !members[k][0])
            return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: member name %d is %s", path, k,
                              members[k] ? "empty" : "NULL");
        const zip_entry *e = find_member(z, members[k]);
        if (!e) {
            list_members(z, list, sizeof list);
            return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: no member '%.100s' (the members: %s)", path,
                              members[k], list);
        }
        chosen[(*n)++] = e;
    }
    return NLSQ_OK;
}

/* The memory a deflated member may take inflated, as float64 columns:
   $NLSQ_NPZ_INFLATE_MEMORY (bytes, or with K, M or G), default 64 MiB. */
nlsq_status npz_memory_limit(size_t *limit, nlsq_error *err)
{
    const char *v = getenv("NLSQ_NPZ_INFLATE_MEMORY");
    *limit = (size_t)64 << 20;
    if (!v || !*v) return NLSQ_OK;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    int shift = !*end ? 0 : !strcmp(end, "K") ? 10 : !strcmp(end, "M") ? 20 : !strcmp(end, "G") ? 30 : -1;
    if (end == v || *v == '-' || errno || shift < 0 || x > (SIZE_MAX >> shift))
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                          "NLSQ_NPZ_INFLATE_MEMORY='%.100s' is not a size (bytes, or a number with K, M or G)", v);
    *limit = (size_t)x << shift;
    return NLSQ_OK;
}

#ifdef NLSQ_HAVE_ZLIB

enum { CHUNK = 1 << 16 };

/* A deflated member read from its start: at most its declared size, the
   CRC-32 of what came out kept. */
struct npz_inflater {
    int fd;
    char label[NPZ_LABEL];
    z_stream z;
    int ended;         /* the deflate stream's end was reached */
    uint64_t in_at;    /* the next compressed byte's offset    */
    uint64_t in_left;  /* compressed bytes not yet read        */
    uint64_t out_left; /* declared bytes not yet produced      */
    uint64_t declared;
    uint32_t crc, want_crc;
    unsigned char in[CHUNK];
};

/* More compressed input when the stream has used all it had; 0, or -1
   when the member has no more (the stream is cut short). */
static int refill(npz_inflater *f)
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
static nlsq_status inflater_read(npz_inflater *f, unsigned char *buf, size_t n, nlsq_error *err)
{
    size_t done = 0;
    while (done < n) {
        if (f->ended)
            return error_fail(err, NLSQ_ERR_DATA, "%s: corrupt: it inflates to %llu bytes, the directory declares %llu",
                              f->label, (unsigned long long)(f->declared - f->out_left),
                              (unsigned long long)f->declared);
        if (refill(f) != 0)
            return error_fail(err, NLSQ_ERR_DATA,
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
            return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", f->label);
        else if (rc != Z_OK && !(rc == Z_BUF_ERROR && got > 0))
            return error_fail(err, NLSQ_ERR_DATA, "%s: corrupt deflate stream (%s)", f->label,
                              f->z.msg ? f->z.msg : "zlib error");
        f->crc = (uint32_t)crc32(f->crc, buf + done, (uInt)got);
        done += got;
        f->out_left -= got;
    }
    return NLSQ_OK;
}

/* After the declared size: the stream must end there, and the CRC-32
   must be the directory's. */
static nlsq_status inflater_finish(npz_inflater *f, nlsq_error *err)
{
    while (!f->ended) {
        unsigned char extra;
        if (refill(f) != 0)
            return error_fail(err, NLSQ_ERR_DATA, "%s: corrupt or truncated: its deflate stream does not end",
                              f->label);
        f->z.next_out = &extra;
        f->z.avail_out = 1;
        int rc = inflate(&f->z, Z_NO_FLUSH);
        if (f->z.avail_out == 0)
            return error_fail(err, NLSQ_ERR_DATA,
                              "%s: it inflates to more than the %llu bytes the directory declares (corrupt, or a zip "
                              "bomb); refused",
                              f->label, (unsigned long long)f->declared);
        if (rc == Z_STREAM_END)
            f->ended = 1;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return error_fail(err, NLSQ_ERR_DATA, "%s: corrupt deflate stream (%s)", f->label,
                              f->z.msg ? f->z.msg : "zlib error");
    }
    if (f->crc != f->want_crc)
        return error_fail(err, NLSQ_ERR_DATA,
                          "%s: corrupt: the CRC-32 of its inflated bytes is %08x, the directory says %08x", f->label,
                          (unsigned)f->crc, (unsigned)f->want_crc);
    return NLSQ_OK;
}

/* The .npy header at the start of the inflated member into head: parsed
   by the .npy reader (the same rules and messages). */
static nlsq_status read_header(npz_inflater *f, unsigned char *head, npy_info *info, nlsq_error *err)
{
    nlsq_status st;
    if (f->declared < 10)
        return error_fail(err, NLSQ_ERR_DATA, "%s: not a .npy file (%llu bytes)", f->label,
                          (unsigned long long)f->declared);
    if ((st = inflater_read(f, head, 10, err)) != NLSQ_OK) return st;
    if (memcmp(head, "\x93NUMPY", 6) != 0)
        return error_fail(err, NLSQ_ERR_DATA, "%s: not a .npy file (no \\x93NUMPY magic)", f->label);
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
    FILE *m = fmemopen(head, want, "rb");
    if (!m) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", f->label);
    st = npy_header(m, f->label, info, err);
    fclose(m);
    if (st != NLSQ_OK) return st;
    if (info->rows == 0) return error_fail(err, NLSQ_ERR_DATA, "%s: no rows", f->label);
    size_t row_bytes = info->cols * (size_t)info->elsize;
    if (info->data_offset != want || info->rows > (f->declared - want) / row_bytes)
        return error_fail(
            err, NLSQ_ERR_DATA,
            "%s: truncated: %zu rows x %zu columns of %d bytes need %.0f bytes after the %zu-byte header, "
            "the member has %llu",
            f->label, info->rows, info->cols, info->elsize, (double)info->rows * (double)row_bytes, want,
            (unsigned long long)(f->declared - want));
    return NLSQ_OK;
}

nlsq_status npz_inflate_header(npz_inflater *f, npy_info *info, nlsq_error *err)
{
    unsigned char *head = malloc((1u << 20) + 12);
    if (!head) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", f->label);
    nlsq_status st = read_header(f, head, info, err);
    free(head);
    return st;
}
/* Bytes left of the declared size read and dropped (the CRC covers them). */
static nlsq_status drain(npz_inflater *f, unsigned char *buf, nlsq_error *err)
{
    while (f->out_left > 0) {
        size_t n = f->out_left < CHUNK ? (size_t)f->out_left : CHUNK;
        nlsq_status st = inflater_read(f, buf, n, err);
        if (st != NLSQ_OK) return st;
    }
    return inflater_finish(f, err);
}

nlsq_status npz_inflate_table(npz_inflater *f, const npy_info *info, table *out, nlsq_error *err)
{
    const char *label = f->label;
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
    nlsq_status st = ok ? NLSQ_OK : error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
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
    if (st == NLSQ_OK)
        *out = t;
    else
        table_free(&t);
    return st;
}

nlsq_status npz_inflate_copy(npz_inflater *f, FILE *out, const char *cache, nlsq_error *err)
{
    unsigned char *buf = malloc(CHUNK);
    nlsq_status st = buf ? NLSQ_OK : error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", f->label);
    while (st == NLSQ_OK && f->out_left > 0) {
        size_t n = f->out_left < CHUNK ? (size_t)f->out_left : CHUNK;
        if ((st = inflater_read(f, buf, n, err)) == NLSQ_OK && fwrite(buf, 1, n, out) != n)
            st = error_fail(err, NLSQ_ERR_IO, "cannot write the column cache %s: %s (disk full?)", cache,
                            strerror(errno));
    }
    if (st == NLSQ_OK) st = inflater_finish(f, err);
    free(buf);
    return st;
}

nlsq_status npz_inflate_open(int fd, const zip_entry *e, const char *label, npz_inflater **out, nlsq_error *err)
{
    *out = NULL;
    npz_inflater *f = malloc(sizeof *f);
    if (!f) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    memset(&f->z, 0, sizeof f->z);
    f->fd = fd;
    f->ended = 0;
    f->in_at = e->data_offset;
    f->in_left = e->comp_size;
    f->out_left = f->declared = e->size;
    f->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    f->want_crc = e->crc;
    snprintf(f->label, sizeof f->label, "%s", label);
    if (inflateInit2(&f->z, -MAX_WBITS) != Z_OK) {
        free(f);
        return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", label);
    }
    *out = f;
    return NLSQ_OK;
}

void npz_inflate_close(npz_inflater *f)
{
    if (!f) return;
    inflateEnd(&f->z);
    free(f);
}

#else /* no zlib */

nlsq_status npz_inflate_open(int fd, const zip_entry *e, const char *label, npz_inflater **out, nlsq_error *err)
{
    (void)fd;
    (void)e;
    *out = NULL;
    return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                      "%s is deflated (numpy.savez_compressed), and this build of nlsq has no zlib: install "
                      "zlib1g-dev and rebuild, or save with numpy.savez",
                      label);
}

void npz_inflate_close(npz_inflater *f)
{
    (void)f;
}

nlsq_status npz_inflate_header(npz_inflater *f, npy_info *info, nlsq_error *err)
{
    (void)f;
    (void)info;
    return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "no zlib in this build");
}

nlsq_status npz_inflate_table(npz_inflater *f, const npy_info *info, table *t, nlsq_error *err)
{
    (void)f;
    (void)info;
    (void)t;
    return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "no zlib in this build");
}

nlsq_status npz_inflate_copy(npz_inflater *f, FILE *out, const char *cache, nlsq_error *err)
{
    (void)f;
    (void)out;
    (void)cache;
    return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "no zlib in this build");
}

#endif /* NLSQ_HAVE_ZLIB */
