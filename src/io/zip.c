/*
 * The central directory of a ZIP archive, read with pread and trusted in
 * nothing: NumPy's .npz files are ZIP archives written by Python's
 * zipfile, which puts ZIP64 extra fields in the local headers of every
 * member (force_zip64) but in the central headers only when a size or an
 * offset needs them, and writes a data descriptor after a member when the
 * output could not be seeked. So the central directory is the authority
 * for sizes, CRCs and offsets, and a local header only says where its
 * member's bytes begin (its name and extra field lengths may differ from
 * the central header's).
 */
#define _POSIX_C_SOURCE 200809L /* pread */
#include "zip.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

enum {
    EOCD_SIG = 0x06054b50,
    EOCD_LEN = 22,
    Z64_LOCATOR_SIG = 0x07064b50,
    Z64_LOCATOR_LEN = 20,
    Z64_EOCD_SIG = 0x06064b50,
    Z64_EOCD_LEN = 56,
    CENTRAL_SIG = 0x02014b50,
    CENTRAL_LEN = 46,
    LOCAL_SIG = 0x04034b50,
    LOCAL_LEN = 30,
    MAX_COMMENT = 65535,
    MAX_DIRECTORY = 256 << 20, /* read whole: millions of members' headers */
};

/* general purpose flags: bit 0 encrypted, bit 6 strong encryption,
   bit 13 the central directory encrypted */
#define ZIP_ENCRYPTED_FLAGS 0x2041u

static unsigned rd16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static nlsq_status zip_fail(nlsq_error *err, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static nlsq_status zip_fail(nlsq_error *err, const char *path, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: %s", path, what);
    return NLSQ_ERR_DATA;
}

/* len bytes at off, all of them inside the file; 0, or -1. */
static int read_at(int fd, uint64_t file_size, uint64_t off, void *buf, size_t len)
{
    if (off > file_size || len > file_size - off) return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t got = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        done += (size_t)got;
    }
    return 0;
}

void zip_free(zip_archive *z)
{
    for (size_t i = 0; z->e && i < z->n; i++) free(z->e[i].name);
    free(z->e);
    memset(z, 0, sizeof *z);
}

typedef struct directory {
    uint64_t entries, offset, size;
} directory;

/* The end of central directory record: the last signature in the final
   64 KiB + 22 bytes whose comment reaches no further than the file. */
static nlsq_status find_end(int fd, const char *path, uint64_t size, uint64_t *at, unsigned char *rec, nlsq_error *err)
{
    if (size < EOCD_LEN)
        return zip_fail(err, path, "not a ZIP archive (%llu bytes, too short)", (unsigned long long)size);
    size_t span = size < EOCD_LEN + MAX_COMMENT ? (size_t)size : EOCD_LEN + MAX_COMMENT;
    unsigned char *tail = malloc(span);
    if (!tail) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", path);
        return NLSQ_ERR_NOMEM;
    }
    uint64_t base = size - span;
    if (read_at(fd, size, base, tail, span) != 0) {
        free(tail);
        return zip_fail(err, path, "cannot read the end of the file: %s", strerror(errno ? errno : EIO));
    }
    for (size_t i = span - EOCD_LEN + 1; i-- > 0;) {
        if (rd32(tail + i) == EOCD_SIG && i + EOCD_LEN + rd16(tail + i + 20) <= span) {
            memcpy(rec, tail + i, EOCD_LEN);
            *at = base + i;
            free(tail);
            return NLSQ_OK;
        }
    }
    free(tail);
    return zip_fail(err, path,
                    "not a ZIP archive, or a truncated one: no end of central directory record in its last %zu bytes",
                    span);
}

/* Where the central directory lies and how many entries it holds, from
   the end record or, when it has one, the ZIP64 end record. */
static nlsq_status read_directory(int fd, const char *path, uint64_t size, directory *d, nlsq_error *err)
{
    unsigned char rec[Z64_EOCD_LEN];
    uint64_t end_at = 0;
    nlsq_status st = find_end(fd, path, size, &end_at, rec, err);
    if (st != NLSQ_OK) return st;
    unsigned disk = rd16(rec + 4), cd_disk = rd16(rec + 6), here = rd16(rec + 8), total = rd16(rec + 10);
    d->entries = total;
    d->size = rd32(rec + 12);
    d->offset = rd32(rec + 16);
    unsigned char loc[Z64_LOCATOR_LEN];
    uint64_t dir_end = end_at;
    if (end_at >= Z64_LOCATOR_LEN && read_at(fd, size, end_at - Z64_LOCATOR_LEN, loc, sizeof loc) == 0 &&
        rd32(loc) == Z64_LOCATOR_SIG) {
        uint64_t z64_at = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
            return zip_fail(err, path, "a multi-disk archive (spanned or split), which is not read");
        if (z64_at > end_at - Z64_LOCATOR_LEN || end_at - Z64_LOCATOR_LEN - z64_at < Z64_EOCD_LEN ||
            read_at(fd, size, z64_at, rec, Z64_EOCD_LEN) != 0 || rd32(rec) != Z64_EOCD_SIG)
            return zip_fail(err, path, "the ZIP64 end of central directory record is missing or out of place (at %llu)",
                            (unsigned long long)z64_at);
        disk = rd32(rec + 16);
        cd_disk = rd32(rec + 20);
        uint64_t here64 = rd64(rec + 24);
        d->entries = rd64(rec + 32);
        d->size = rd64(rec + 40);
        d->offset = rd64(rec + 48);
        if (here64 != d->entries) disk = 1;
        dir_end = z64_at;
    } else if (here != total) {
        disk = 1;
    }
    if (disk != 0 || cd_disk != 0)
        return zip_fail(err, path, "a multi-disk archive (spanned or split), which is not read");
    if (d->offset > dir_end || d->size > dir_end - d->offset)
        return zip_fail(err, path,
                        "truncated or corrupt: the central directory (%llu bytes at %llu) does not fit before its end "
                        "record (at %llu)",
                        (unsigned long long)d->size, (unsigned long long)d->offset, (unsigned long long)dir_end);
    if (d->size > MAX_DIRECTORY)
        return zip_fail(err, path, "a central directory of %llu bytes (more than the %d MiB read)",
                        (unsigned long long)d->size, MAX_DIRECTORY >> 20);
    if (d->entries > d->size / CENTRAL_LEN)
        return zip_fail(err, path, "corrupt: %llu entries cannot fit in a central directory of %llu bytes",
                        (unsigned long long)d->entries, (unsigned long long)d->size);
    return NLSQ_OK;
}

/* The ZIP64 extra field (id 1) of a central header: the values that are
   0xFFFFFFFF in the header follow in its order. 0, or -1 when it is
   missing or too short. */
static int zip64_extra(const unsigned char *extra, size_t len, zip_entry *e, int need_size, int need_comp,
                       int need_offset)
{
    for (size_t at = 0; at + 4 <= len;) {
        unsigned id = rd16(extra + at), n = rd16(extra + at + 2);
        if (at + 4 + n > len) return -1;
        if (id == 1) {
            const unsigned char *p = extra + at + 4;
            size_t want = 8u * (size_t)(need_size + need_comp + need_offset);
            if (n < want) return -1;
            if (need_size) e->size = rd64(p), p += 8;
            if (need_comp) e->comp_size = rd64(p), p += 8;
            if (need_offset) e->local_offset = rd64(p);
            return 0;
        }
        at += 4 + n;
    }
    return need_size || need_comp || need_offset ? -1 : 0;
}

/* One central file header at p (left bytes of the directory remain);
   its length through *used. */
static nlsq_status read_central(const unsigned char *p, size_t left, const char *path, size_t index, zip_entry *e,
                                size_t *used, nlsq_error *err)
{
    if (left < CENTRAL_LEN || rd32(p) != CENTRAL_SIG)
        return zip_fail(err, path, "corrupt central directory: entry %zu has no central file header signature", index);
    size_t name_len = rd16(p + 28), extra_len = rd16(p + 30), comment_len = rd16(p + 32);
    if (CENTRAL_LEN + name_len + extra_len + comment_len > left)
        return zip_fail(err, path, "corrupt central directory: entry %zu runs past its end", index);
    e->flags = rd16(p + 8);
    e->method = (int)rd16(p + 10);
    e->crc = rd32(p + 16);
    e->comp_size = rd32(p + 20);
    e->size = rd32(p + 24);
    e->local_offset = rd32(p + 42);
    unsigned disk = rd16(p + 34);
    if (memchr(p + CENTRAL_LEN, '\0', name_len))
        return zip_fail(err, path, "corrupt central directory: the name of entry %zu holds a NUL byte", index);
    if (!(e->name = malloc(name_len + 1))) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", path);
        return NLSQ_ERR_NOMEM;
    }
    memcpy(e->name, p + CENTRAL_LEN, name_len);
    e->name[name_len] = '\0';
    if (zip64_extra(p + CENTRAL_LEN + name_len, extra_len, e, e->size == 0xFFFFFFFFu, e->comp_size == 0xFFFFFFFFu,
                    e->local_offset == 0xFFFFFFFFu) != 0)
        return zip_fail(err, path, "corrupt central directory: member '%.100s' lacks the ZIP64 sizes it announces",
                        e->name);
    if (disk != 0 && disk != 0xFFFF)
        return zip_fail(err, path, "member '%.100s' is on disk %u of a multi-disk archive, which is not read", e->name,
                        disk);
    *used = CENTRAL_LEN + name_len + extra_len + comment_len;
    return NLSQ_OK;
}

/* The local header of e: where its data begin, and that they end before
   `limit` (the central directory). */
static nlsq_status read_local(int fd, const char *path, uint64_t size, uint64_t limit, zip_entry *e, nlsq_error *err)
{
    unsigned char h[LOCAL_LEN];
    if (e->local_offset >= limit || read_at(fd, size, e->local_offset, h, sizeof h) != 0 || rd32(h) != LOCAL_SIG)
        return zip_fail(err, path, "member '%.100s': no local file header at offset %llu (truncated or corrupt)",
                        e->name, (unsigned long long)e->local_offset);
    if ((rd16(h + 6) | e->flags) & ZIP_ENCRYPTED_FLAGS)
        return zip_fail(err, path, "member '%.100s' is encrypted, which is not read", e->name);
    if ((int)rd16(h + 8) != e->method)
        return zip_fail(err, path, "member '%.100s': its local header says compression method %u, the directory %d",
                        e->name, rd16(h + 8), e->method);
    e->data_offset = e->local_offset + LOCAL_LEN + rd16(h + 26) + rd16(h + 28);
    if (e->data_offset > limit || e->comp_size > limit - e->data_offset)
        return zip_fail(err, path,
                        "member '%.100s' (%llu bytes at %llu) runs past the start of the central directory (at %llu): "
                        "truncated or corrupt",
                        e->name, (unsigned long long)e->comp_size, (unsigned long long)e->data_offset,
                        (unsigned long long)limit);
    return NLSQ_OK;
}

static int by_offset(const void *a, const void *b)
{
    const zip_entry *const *x = a, *const *y = b;
    return ((*x)->local_offset > (*y)->local_offset) - ((*x)->local_offset < (*y)->local_offset);
}

/* No two members may share bytes (an overlap is how a small archive
   claims to hold a great deal). */
static nlsq_status check_overlaps(const zip_archive *z, const char *path, nlsq_error *err)
{
    if (z->n < 2) return NLSQ_OK;
    const zip_entry **order = malloc(z->n * sizeof *order);
    if (!order) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", path);
        return NLSQ_ERR_NOMEM;
    }
    for (size_t i = 0; i < z->n; i++) order[i] = &z->e[i];
    qsort(order, z->n, sizeof *order, by_offset);
    nlsq_status st = NLSQ_OK;
    for (size_t i = 1; i < z->n && st == NLSQ_OK; i++)
        if (order[i]->local_offset < order[i - 1]->data_offset + order[i - 1]->comp_size)
            st = zip_fail(err, path, "corrupt: members '%.100s' and '%.100s' overlap", order[i - 1]->name,
                          order[i]->name);
    free(order);
    return st;
}

nlsq_status zip_read(int fd, const char *path, zip_archive *z, nlsq_error *err)
{
    memset(z, 0, sizeof *z);
    struct stat st;
    if (fstat(fd, &st) != 0) return zip_fail(err, path, "%s", strerror(errno));
    z->file_size = (uint64_t)st.st_size;
    directory d;
    nlsq_status s = read_directory(fd, path, z->file_size, &d, err);
    if (s != NLSQ_OK) return s;
    unsigned char *cd = malloc(d.size ? (size_t)d.size : 1);
    z->e = calloc(d.entries ? (size_t)d.entries : 1, sizeof *z->e);
    if (!cd || !z->e) {
        free(cd);
        zip_free(z);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", path);
        return NLSQ_ERR_NOMEM;
    }
    if (read_at(fd, z->file_size, d.offset, cd, (size_t)d.size) != 0)
        s = zip_fail(err, path, "cannot read the central directory: %s", strerror(errno ? errno : EIO));
    size_t at = 0;
    for (uint64_t i = 0; s == NLSQ_OK && i < d.entries; i++) {
        size_t used = 0;
        s = read_central(cd + at, (size_t)d.size - at, path, (size_t)i, &z->e[i], &used, err);
        z->n = (size_t)i + 1; /* its name is ours to free */
        at += used;
    }
    free(cd);
    for (size_t i = 0; s == NLSQ_OK && i < z->n; i++) s = read_local(fd, path, z->file_size, d.offset, &z->e[i], err);
    if (s == NLSQ_OK) s = check_overlaps(z, path, err);
    if (s != NLSQ_OK) zip_free(z);
    return s;
}
