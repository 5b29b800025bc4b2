/*
 * libFuzzer target over the checkpoint loader (src/fit/checkpoint.c, the
 * file --resume reads). A checkpoint carries a checksum and must match the
 * model, device, options, parameter count and row count of the fit that
 * resumes it, so random bytes stop at the first check. The first byte's
 * bits let the target cooperate, as a crafted file would:
 *   bit 0  recompute the checksum over the rest (a file with a valid
 *          checksum and crafted contents);
 *   bit 1  take the model text, device, options hash, parameter count
 *          and rows the file claims as the resuming fit's (so the loader
 *          reaches the records), the parameter count held to 64, as a real
 *          model's would be;
 * then every recorded evaluation is replayed, as a resumed solver would.
 * Nothing may crash, leak, trip a sanitizer or allocate what the file
 * merely claims.
 */
#include "fuzz_util.h"

#include "core/core.h"
#include "fit/fit.h"

enum { MAX_NF = 64 };

typedef struct claims {
    char model[512], device[512];
    uint64_t opt_hash, rows;
    uint32_t nf;
} claims;

/* What the file says, where it can be read (the layout of checkpoint.c). */
static void read_claims(const uint8_t *p, size_t size, claims *c)
{
    memset(c, 0, sizeof *c);
    uint32_t tlen = 0, dlen = 0;
    if (size < 56) return;
    memcpy(&c->nf, p + 16, 4);
    memcpy(&tlen, p + 20, 4);
    memcpy(&c->opt_hash, p + 24, 8);
    memcpy(&c->rows, p + 32, 8);
    if (c->nf > MAX_NF) c->nf = MAX_NF;
    if (tlen >= sizeof c->model || 56 + (size_t)tlen + 4 > size) return;
    memcpy(c->model, p + 56, tlen);
    memcpy(&dlen, p + 56 + tlen, 4);
    if (dlen < sizeof c->device && 60 + (size_t)tlen + dlen <= size) memcpy(c->device, p + 60 + tlen, dlen);
}

/* Replay every record, each with the point the file recorded for it (where
   the records start follows from the claimed lengths), as a resumed solver
   asks for them. */
static void replay_all(checkpoint *ck, uint32_t nf, const uint8_t *file, size_t size)
{
    uint32_t tlen, dlen;
    memcpy(&tlen, file + 20, 4);
    memcpy(&dlen, file + 56 + tlen, 4);
    size_t rec = ((size_t)nf + 2 + (size_t)(nf + 1) * (nf + 1)) * sizeof(double);
    size_t at = 60 + (size_t)tlen + dlen + rec; /* after the first pass's record */
    double x[MAX_NF + 1], cost, R[(MAX_NF + 1) * (MAX_NF + 1)];
    int rc;
    for (; at + rec <= size; at += rec) {
        memcpy(x, file + at, nf * sizeof(double));
        if (checkpoint_replay(ck, x, &cost, R, &rc) != 1) break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = fuzz_lowest_fd();
    if (size == 0) return 0;
    int fix_sum = data[0] & 1, cooperate = data[0] & 2;
    size_t n = size - 1;
    uint8_t *file = malloc(n + 8);
    if (!file) return 0;
    memcpy(file, data + 1, n);
    if (fix_sum && n >= 8) {
        uint64_t sum = hash_fnv64(HASH_FNV_SEED, file, n - 8);
        memcpy(file + n - 8, &sum, 8);
    }
    claims c;
    read_claims(file, n, &c);
    if (!cooperate) {
        snprintf(c.model, sizeof c.model, "a*exp(-b*x)+c");
        snprintf(c.device, sizeof c.device, "cpu");
        c.nf = 3;
        c.opt_hash = 1;
        c.rows = 100;
    }
    char path[64], why[600];
    int fd = fuzz_memfile(file, n, path, sizeof path);
    if (fd < 0) abort();
    checkpoint *ck = NULL;
    if (checkpoint_open(path, 1, c.model, c.device, c.opt_hash, (int)c.nf, (size_t)c.rows, NULL, &ck, why, sizeof why) == 0) {
        replay_all(ck, c.nf, file, n);
        checkpoint_free(ck);
    } else if (ck || !why[0]) {
        fprintf(stderr, "a refused checkpoint without a reason, or with a checkpoint\n");
        abort();
    }
    close(fd);
    free(file);
    fuzz_check_fds(fds);
    return 0;
}
