/*
 * Checkpoints. A pass is a pure function of the parameters (bitwise: the
 * same chunks, the same merge order, on any thread count and backend), so
 * the solver's whole course is fixed by the answers of its evaluations.
 * A checkpoint therefore keeps those answers — the point, the cost, the
 * flag and R_aug of every evaluation, a few hundred bytes each — instead
 * of the solvers' internal state: to resume, the solver starts again from
 * p0 and is handed the recorded answers until they run out, which takes
 * microseconds and needs nothing from trf, dogbox or lm.
 *
 * File layout (host byte order; the marker refuses a foreign one):
 *   "NLSQCKP1", u32 version, u32 byte-order marker, u32 n_free,
 *   u32 model text length, u64 options hash, u64 rows, u64 usable rows,
 *   u64 records, the model text, u32 device length, the device (where
 *   the passes ran: the CPU, or a GPU with what fixes its bits — its
 *   model, blocks, precision, segments — since its passes round
 *   differently), the first pass's record (the data's fingerprint), the
 *   records, u64 FNV-1a of everything before it.
 * A record: x[n_free], cost, flag, R_aug[(n_free+1)^2], as doubles.
 *
 * Written whole after every evaluation through src/core/outfile.c: into a
 * temporary file beside the target (PATH.tmp-HOST-PID-XXXXXX, registered
 * for the command's SIGINT/SIGTERM handler to remove), fsync'ed and
 * renamed over it, so a kill at any moment leaves the previous checkpoint
 * or the new one; a symbolic link is followed and its target replaced.
 * The temporary files of killed runs (SIGKILL) are removed by the next
 * run on the same path, resumed or not.
 */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fit.h"

#define CKPT_MAGIC "NLSQCKP1"
#define CKPT_VERSION 2
#define CKPT_ORDER 0x01020304u

struct checkpoint {
    char *path;
    int writer; /* 0: another process of the group writes the file */
    int nf;
    size_t rec; /* doubles per record */
    char *model_text;
    char *device;
    uint64_t opt_hash;
    size_t m_total, m_used;
    double *first; /* the first pass's record */
    int have_first, loaded_first;
    double *recs;
    int count, cap;
    int replay_pos, replay_count;
    int writes;
    int kill_at;     /* test hook: die during this write (0: never) */
    int kill_signal; /* ... of SIGKILL, or SIGTERM ("Nt")            */
};

uint64_t checkpoint_hash(uint64_t h, const void *data, size_t n)
{
    return hash_fnv64(h ? h : HASH_FNV_SEED, data, n);
}

void checkpoint_free(checkpoint *c)
{
    if (!c) return;
    free(c->path);
    free(c->model_text);
    free(c->device);
    free(c->first);
    free(c->recs);
    free(c);
}

static int reserve(checkpoint *c, int count)
{
    if (count <= c->cap) return 0;
    int cap = c->cap ? 2 * c->cap : 64;
    while (cap < count) cap *= 2;
    double *r = realloc(c->recs, (size_t)cap * c->rec * sizeof *r);
    if (!r) return -1;
    c->recs = r;
    c->cap = cap;
    return 0;
}

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

static int take(cursor *k, void *out, size_t n)
{
    if ((size_t)(k->end - k->p) < n) return -1;
    if (n) memcpy(out, k->p, n); /* out may be NULL for nothing: no records yet */
    k->p += n;
    return 0;
}

/*
 * A record as the fit wrote it: the flag an evaluation returns (0, or 1
 * when something was not finite) and, with flag 0, a finite cost >= 0 and
 * a finite R_aug (the point is only compared, never replayed). A checksum only tells a damaged file from a whole one;
 * a crafted file passes it, so every value replayed into the solver is
 * checked before it is converted or used (a flag of 1e300 converted to
 * int is undefined behaviour). 0, or -1 with the reason.
 */
static int check_record(const checkpoint *c, const double *rec, int index, char *why, size_t why_size)
{
    const char *bad = NULL;
    double flag = rec[c->nf + 1], cost = rec[c->nf];
    size_t nc = (size_t)c->nf + 1;
    if (flag != 0 && flag != 1)
        bad = "an evaluation flag that is not 0 or 1";
    else if (flag == 0 && !(cost >= 0 && cost < INFINITY))
        bad = "a cost that is negative or not finite";
    for (size_t i = 0; !bad && flag == 0 && i < nc * nc; i++)
        if (!isfinite(rec[c->nf + 2 + i])) bad = "a value of R_aug that is not finite";
    if (!bad) return 0;
    if (index < 0)
        snprintf(why, why_size, "%s: corrupt checkpoint: the first pass's record has %s", c->path, bad);
    else
        snprintf(why, why_size, "%s: corrupt checkpoint: record %d has %s", c->path, index + 1, bad);
    return -1;
}

/* Load an existing checkpoint; 0, or -1 with the reason. */
static int load(checkpoint *c, const unsigned char *buf, size_t size, char *why, size_t why_size)
{
    cursor k = {buf, buf + size};
    char magic[8];
    uint32_t version, order, nf, tlen;
    uint64_t hash, m_total, m_used, count, sum;
    if (size < 8 + 8 || take(&k, magic, 8) || memcmp(magic, CKPT_MAGIC, 8) != 0) {
        snprintf(why, why_size, "%s is not an nlsq checkpoint", c->path);
        return -1;
    }
    memcpy(&sum, buf + size - 8, 8);
    if (hash_fnv64(HASH_FNV_SEED, buf, size - 8) != sum) {
        snprintf(why, why_size, "%s is damaged (checksum)", c->path);
        return -1;
    }
    if (take(&k, &version, 4) || take(&k, &order, 4) || take(&k, &nf, 4) || take(&k, &tlen, 4) || take(&k, &hash, 8) ||
        take(&k, &m_total, 8) || take(&k, &m_used, 8) || take(&k, &count, 8) || version != CKPT_VERSION ||
        order != CKPT_ORDER) {
        snprintf(why, why_size, "%s: a checkpoint of another version or machine", c->path);
        return -1;
    }
    /* the length is checked against the bytes there before anything is
       allocated for it */
    char *text = tlen <= (size_t)(k.end - k.p) ? malloc((size_t)tlen + 1) : NULL;
    if (!text || take(&k, text, tlen)) {
        free(text);
        snprintf(why, why_size, "%s is damaged (model text)", c->path);
        return -1;
    }
    text[tlen] = '\0';
    int same_model = strcmp(text, c->model_text) == 0;
    if (!same_model)
        snprintf(why, why_size, "%s was written for the model '%.120s', not '%.120s'", c->path, text, c->model_text);
    free(text);
    if (!same_model) return -1;
    uint32_t dlen;
    char *device = take(&k, &dlen, 4) == 0 && dlen < 4096 ? malloc((size_t)dlen + 1) : NULL;
    if (!device || take(&k, device, dlen)) {
        free(device);
        snprintf(why, why_size, "%s is damaged (device)", c->path);
        return -1;
    }
    device[dlen] = '\0';
    int same_device = strcmp(device, c->device) == 0;
    if (!same_device)
        snprintf(why, why_size,
                 "%s was written by a fit on %.150s; this one runs on %.150s, whose passes round differently: "
                 "resume it where it ran (device), or start afresh",
                 c->path, device, c->device);
    free(device);
    if (!same_device) return -1;
    if ((int)nf != c->nf || hash != c->opt_hash) {
        snprintf(why, why_size,
                 "%s was written with other options (one of: start point, bounds, fixed parameters, method, loss, "
                 "f_scale, tolerances, max_nfev, x_scale, the y or sigma column, sigma or nan_policy)",
                 c->path);
        return -1;
    }
    if (m_total != c->m_total) {
        snprintf(why, why_size, "%s was written for data of %llu rows, not %zu", c->path, (unsigned long long)m_total,
                 c->m_total);
        return -1;
    }
    /* the record count is checked against the bytes there before room
       is reserved for it */
    size_t rec_bytes = c->rec * sizeof(double), left = (size_t)(k.end - k.p);
    if (left < rec_bytes + 8 || count > (left - rec_bytes - 8) / rec_bytes || count > INT_MAX / 2 ||
        reserve(c, (int)count) != 0 || take(&k, c->first, c->rec * sizeof(double)) ||
        take(&k, c->recs, (size_t)count * c->rec * sizeof(double)) || (size_t)(k.end - k.p) != 8) {
        snprintf(why, why_size, "%s is damaged (records)", c->path);
        return -1;
    }
    if (m_used > m_total) {
        snprintf(why, why_size, "%s: corrupt checkpoint: %llu usable rows of %llu", c->path, (unsigned long long)m_used,
                 (unsigned long long)m_total);
        return -1;
    }
    if (check_record(c, c->first, -1, why, why_size) != 0) return -1;
    for (int r = 0; r < (int)count; r++)
        if (check_record(c, c->recs + (size_t)r * c->rec, r, why, why_size) != 0) return -1;
    c->m_used = m_used;
    c->loaded_first = 1;
    c->count = c->replay_count = (int)count;
    return 0;
}

/* The temporary files that killed writers of this checkpoint left, beside
   the path and beside the file a symbolic link names. */
static void sweep_temporaries(const char *path)
{
    tempfile_sweep(path);
    char real[PATH_MAX];
    if (realpath(path, real) && strcmp(real, path) != 0) tempfile_sweep(real);
}

/* The checkpoint file whole in *buf: 1, or 0 when there is none yet, or
   -1 with the reason. Its size comes from fstat of the open file, and
   what is not a regular file is refused before anything is allocated (a
   directory's "size" is no file's). */
static int read_whole(const char *path, unsigned char **buf, size_t *size, char *why, size_t why_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0;
    struct stat sb;
    const char *bad = fd < 0 || fstat(fd, &sb) != 0 ? strerror(errno)
                    : S_ISDIR(sb.st_mode)           ? "it is a directory, not a checkpoint file"
                    : !S_ISREG(sb.st_mode)          ? "not a regular file"
                    : sb.st_size <= 0               ? "the file is empty"
                                                    : NULL;
    if (!bad && (*buf = malloc((size_t)sb.st_size)) == NULL) bad = "out of memory";
    size_t have = 0;
    while (!bad && have < (size_t)sb.st_size) {
        ssize_t r = read(fd, *buf + have, (size_t)sb.st_size - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            bad = r < 0 ? strerror(errno) : "the file shrank while it was read";
        else
            have += (size_t)r;
    }
    if (fd >= 0) close(fd);
    if (bad) {
        snprintf(why, why_size, "cannot read the checkpoint %s: %s", path, bad);
        free(*buf);
        *buf = NULL;
        return -1;
    }
    *size = have;
    return 1;
}

/* A group's resume: process 0 reads the file and every process loads
   its bytes, so the processes replay the same records whatever files
   they see. */
static int read_shared(const nlsq_group *g, const char *path, unsigned char **buf, size_t *size, char *why,
                       size_t why_size)
{
    struct {
        int got;
        uint64_t size;
        char why[300];
    } head = {0, 0, ""};
    if (g->rank == 0) {
        head.got = read_whole(path, buf, size, head.why, sizeof head.why);
        head.size = head.got > 0 ? *size : 0;
    }
    if (g->bcast(g->ctx, 0, &head, sizeof head) != 0) {
        snprintf(why, why_size, "cannot share the checkpoint %s: the group failed", path);
        return -1;
    }
    head.why[sizeof head.why - 1] = '\0';
    if (head.got <= 0) {
        if (head.got < 0) snprintf(why, why_size, "%s", head.why);
        return head.got;
    }
    enum { PIECE = 1 << 14 };
    if (g->rank != 0 && (*buf = malloc((size_t)head.size)) == NULL) {
        /* every process must take part in the broadcasts below */
        unsigned char sink[PIECE];
        for (uint64_t at = 0; at < head.size; at += PIECE)
            g->bcast(g->ctx, 0, sink, head.size - at < PIECE ? (size_t)(head.size - at) : PIECE);
        snprintf(why, why_size, "out of memory for the checkpoint");
        return -1;
    }
    for (uint64_t at = 0; at < head.size; at += PIECE) {
        size_t n = head.size - at < PIECE ? (size_t)(head.size - at) : PIECE;
        if (g->bcast(g->ctx, 0, *buf + at, n) != 0) {
            snprintf(why, why_size, "cannot share the checkpoint %s: the group failed", path);
            free(*buf);
            *buf = NULL;
            return -1;
        }
    }
    *size = (size_t)head.size;
    return 1;
}

int checkpoint_open(const char *path, int resume, const char *model_text, const char *device, uint64_t opt_hash, int nf,
                    size_t m_total, const nlsq_group *g, checkpoint **out, char *why, size_t why_size)
{
    *out = NULL;
    int writer = !g || g->rank == 0;
    if (writer) sweep_temporaries(path);
    /* first, so that a process short of memory below has still taken
       part in the group's broadcasts */
    unsigned char *buf = NULL;
    size_t size = 0;
    int got = !resume ? 0
            : g       ? read_shared(g, path, &buf, &size, why, why_size)
                      : read_whole(path, &buf, &size, why, why_size);
    checkpoint *c = got < 0 ? NULL : calloc(1, sizeof *c);
    if (!c) {
        free(buf);
        if (got >= 0) snprintf(why, why_size, "out of memory for the checkpoint");
        return -1;
    }
    c->nf = nf;
    c->rec = (size_t)nf + 2 + (size_t)(nf + 1) * (size_t)(nf + 1);
    c->opt_hash = opt_hash;
    c->m_total = m_total;
    c->path = strdup(path);
    c->model_text = strdup(model_text);
    c->device = strdup(device);
    c->first = malloc(c->rec * sizeof *c->first);
    const char *kill = getenv("NLSQ_TEST_KILL_IN_CHECKPOINT");
    c->kill_at = kill ? atoi(kill) : 0;
    c->kill_signal = kill && strchr(kill, 't') ? SIGTERM : SIGKILL;
    if (!c->path || !c->model_text || !c->device || !c->first) {
        free(buf);
        checkpoint_free(c);
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    c->writer = writer;
    if (got > 0 && load(c, buf, size, why, why_size) != 0) {
        free(buf);
        checkpoint_free(c);
        return -1;
    }
    free(buf);
    *out = c;
    return 0;
}

static void pack(double *rec, int nf, const double *x, double cost, int rc, const double *R)
{
    size_t nc = (size_t)nf + 1;
    memcpy(rec, x, (size_t)nf * sizeof *x);
    rec[nf] = cost;
    rec[nf + 1] = rc;
    memcpy(rec + nf + 2, R, nc * nc * sizeof *R);
}

int checkpoint_first(checkpoint *c, size_t m_used, const double *x, double cost, int rc, const double *R, char *why,
                     size_t why_size)
{
    double *rec = malloc(c->rec * sizeof *rec);
    if (!rec) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    pack(rec, c->nf, x, cost, rc, R);
    int differ = c->loaded_first && (m_used != c->m_used || memcmp(rec, c->first, c->rec * sizeof *rec) != 0);
    if (differ)
        snprintf(why, why_size,
                 "%s was written for other data: the first pass over these data gives a different %s (the checkpoint "
                 "records the data's exact fingerprint)",
                 c->path, m_used != c->m_used ? "count of usable points" : "cost and R_aug");
    memcpy(c->first, rec, c->rec * sizeof *rec);
    c->have_first = 1;
    c->m_used = m_used;
    free(rec);
    return differ ? -1 : 0;
}

int checkpoint_replay(checkpoint *c, const double *x, double *cost, double *R, int *rc)
{
    if (c->replay_pos >= c->replay_count) return 0;
    const double *rec = c->recs + (size_t)c->replay_pos * c->rec;
    if (memcmp(rec, x, (size_t)c->nf * sizeof *x) != 0) return -1;
    size_t nc = (size_t)c->nf + 1;
    *cost = rec[c->nf];
    *rc = rec[c->nf + 1] != 0; /* 0 or 1: checked when loaded */
    memcpy(R, rec + c->nf + 2, nc * nc * sizeof *R);
    c->replay_pos++;
    return 1;
}

static int save(checkpoint *c, char *why, size_t why_size)
{
    if (!c->writer) return 0; /* a group's process 0 writes it */
    uint32_t version = CKPT_VERSION, order = CKPT_ORDER, nf = (uint32_t)c->nf, tlen = (uint32_t)strlen(c->model_text);
    uint32_t dlen = (uint32_t)strlen(c->device);
    uint64_t m_total = c->m_total, m_used = c->m_used, count = (uint64_t)c->count;
    size_t recs = (size_t)c->count * c->rec * sizeof(double);
    size_t size = 8 + 4 * 4 + 4 * 8 + tlen + 4 + dlen + c->rec * sizeof(double) + recs + 8;
    unsigned char *buf = malloc(size), *p = buf;
    if (!buf) {
        snprintf(why, why_size, "out of memory for the checkpoint");
        return -1;
    }
#define PUT(src, n) (memcpy(p, (src), (n)), p += (n))
    PUT(CKPT_MAGIC, 8);
    PUT(&version, 4);
    PUT(&order, 4);
    PUT(&nf, 4);
    PUT(&tlen, 4);
    PUT(&c->opt_hash, 8);
    PUT(&m_total, 8);
    PUT(&m_used, 8);
    PUT(&count, 8);
    PUT(c->model_text, tlen);
    PUT(&dlen, 4);
    PUT(c->device, dlen);
    PUT(c->first, c->rec * sizeof(double));
    if (recs) PUT(c->recs, recs);
    uint64_t sum = hash_fnv64(HASH_FNV_SEED, buf, (size_t)(p - buf));
    PUT(&sum, 8);
#undef PUT
    outfile o;
    char reason[400];
    if (outfile_open(&o, c->path, reason, sizeof reason) != 0) {
        snprintf(why, why_size, "cannot write the checkpoint %s", reason);
        free(buf);
        return -1;
    }
    c->writes++;
    if (c->kill_at == c->writes) {
        /* the test hook: half a file on disk, then gone, as a kill would */
        (void)!fwrite(buf, 1, size / 2, o.f);
        fflush(o.f);
        fsync(fileno(o.f));
        raise(c->kill_signal);
    }
    int ok = fwrite(buf, 1, size, o.f) == size;
    int e = errno;
    free(buf);
    if (!ok) {
        outfile_discard(&o);
        snprintf(why, why_size, "cannot write the checkpoint %s: %s", c->path, strerror(e));
        return -1;
    }
    if (outfile_commit(&o, reason, sizeof reason) != 0) {
        snprintf(why, why_size, "cannot write the checkpoint: %s", reason);
        return -1;
    }
    return 0;
}

int checkpoint_record(checkpoint *c, const double *x, double cost, int rc, const double *R, char *why, size_t why_size)
{
    if (reserve(c, c->count + 1) != 0) {
        snprintf(why, why_size, "out of memory for the checkpoint");
        return -1;
    }
    pack(c->recs + (size_t)c->count * c->rec, c->nf, x, cost, rc, R);
    c->count++;
    return save(c, why, why_size);
}

int checkpoint_save(checkpoint *c, char *why, size_t why_size)
{
    return save(c, why, why_size);
}
