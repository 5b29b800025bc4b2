/*
 * Data held in pieces by the processes of a group (each node's own file):
 * the whole is the pieces in rank order, and a fit over the group must
 * still be the fit of the whole, bitwise. The chunk layout depends on the
 * whole's row count alone, so a piece's edges rarely fall on chunk edges.
 * Each process therefore folds the chunks that start in its piece; the
 * rows from its piece's start to the next chunk edge (its head) belong to
 * an earlier process's last chunk and are sent there once, when the
 * source is made, and kept in memory beside that process's piece (its
 * tail: at most one chunk of rows). The shares follow the data, not an
 * even split: the pass and the tree take them from here (source_spans).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "fit.h"
#include "source.h"

typedef struct pieces {
    nlsq_source *local; /* owned                                         */
    int ncols;
    size_t first, rows;      /* the piece: rows [first, first+rows) of the whole */
    size_t tail_first, tail_rows;
    double *tail;            /* ncols x tail_rows, column after column      */
    int *spans;              /* size+1: process r folds chunks [spans[r], spans[r+1]) */
    int size;                /* the group's processes                         */
} pieces;

static int pieces_read(void *impl, const int *cols, int n, size_t first, size_t count, double *const *out, char *why,
                       size_t why_size)
{
    pieces *p = impl;
    size_t end = first + count;
    if (first < p->first || end > p->tail_first + p->tail_rows) {
        snprintf(why, why_size,
                 "rows %zu to %zu are not on this process (it holds %zu to %zu): a source in pieces is fitted with its "
                 "group (nlsq_options.group)",
                 first + 1, end, p->first + 1, p->tail_first + p->tail_rows);
        return -1;
    }
    size_t here = end <= p->first + p->rows ? count : first < p->first + p->rows ? p->first + p->rows - first : 0;
    if (here) {
        nlsq_error err;
        for (int k = 0; k < n; k++) {
            if (nlsq_source_read(p->local, cols[k], first - p->first, here, out[k], &err) != NLSQ_OK) {
                snprintf(why, why_size, "%s", err.message);
                return -1;
            }
        }
    }
    size_t from = first + here - p->tail_first;
    for (int k = 0; k < n && here < count; k++)
        memcpy(out[k] + here, p->tail + (size_t)cols[k] * p->tail_rows + from, (count - here) * sizeof(double));
    return 0;
}

static int pieces_check(void *impl, char *why, size_t why_size)
{
    pieces *p = impl;
    return source_check(p->local, why, why_size);
}

static void pieces_close(void *impl)
{
    pieces *p = impl;
    nlsq_source_free(p->local);
    free(p->tail);
    free(p->spans);
    free(p);
}

static const int *pieces_spans(void *impl, int *size)
{
    *size = ((pieces *)impl)->size;
    return ((pieces *)impl)->spans;
}

static const source_ops pieces_ops = {pieces_read, pieces_check, pieces_close, pieces_spans};

/* The chunk that holds row i, and the process that folds chunk c. */
static int owner_of(const int *spans, int size, int c)
{
    int r = 0;
    while (r + 1 < size && spans[r + 1] <= c) r++;
    return r;
}

/* Rows [first, first+count) of the local piece, all columns, column after
   column, into buf. */
static int read_rows(nlsq_source *local, int ncols, size_t first, size_t count, double *buf, nlsq_error *err)
{
    for (int c = 0; c < ncols; c++)
        if (nlsq_source_read(local, c, first, count, buf + (size_t)c * count, err) != NLSQ_OK) return -1;
    return 0;
}

/* Rows travel in pieces of this many doubles, so that a process without
   the memory for them can still send zeros of the same sizes. */
#define ROWS_PIECE 4096

static int send_rows(const nlsq_group *g, int to, const double *col, size_t count)
{
    double zeros[ROWS_PIECE] = {0};
    for (size_t at = 0; at < count; at += ROWS_PIECE) {
        size_t n = count - at < ROWS_PIECE ? count - at : ROWS_PIECE;
        if (g->send(g->ctx, to, GROUP_TAG_ROWS, col ? col + at : zeros, n * sizeof(double)) != 0) return 1;
    }
    return 0;
}

static int recv_rows(const nlsq_group *g, int from, double *col, size_t count)
{
    double sink[ROWS_PIECE];
    for (size_t at = 0; at < count; at += ROWS_PIECE) {
        size_t n = count - at < ROWS_PIECE ? count - at : ROWS_PIECE;
        if (g->recv(g->ctx, from, GROUP_TAG_ROWS, col ? col + at : sink, n * sizeof(double)) != 0) return 1;
    }
    return 0;
}

nlsq_status nlsq_source_from_pieces(nlsq_source *local, const nlsq_group *g, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!local || !g || !out)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_source_from_pieces: %s is NULL",
                          !local ? "local" : !g ? "group" : "out");
    *out = NULL;
    if (g->size < 1 || g->rank < 0 || g->rank >= g->size || (g->size > 1 && (!g->send || !g->recv || !g->bcast)))
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                          "nlsq_source_from_pieces: the group has rank %d of %d or lacks a transport call", g->rank,
                          g->size);
    int P = g->size, me = g->rank, ncols = nlsq_source_num_columns(local);
    pieces *p = calloc(1, sizeof *p);
    uint64_t *rows = malloc((size_t)P * sizeof *rows);
    int *spans = malloc(((size_t)P + 1) * sizeof *spans);
    /* a process short of memory still takes part in the broadcasts, or the others would wait */
    uint64_t scratch = 0;
    int lost = 0, odd = -1, odd_cols = 0; /* the first process whose column count is not process 0's */
    for (int q = 0; q < P && P > 1; q++) {
        /* its rows and its columns: every piece must have process 0's
           columns, or the rows sent below would not match */
        uint64_t *slot = rows ? &rows[q] : &scratch, pair[2] = {q == me ? nlsq_source_num_rows(local) : 0,
                                                                   q == me ? (uint64_t)ncols : 0};
        lost |= g->bcast(g->ctx, q, pair, sizeof pair) != 0;
        *slot = pair[0];
        if (q == 0) odd_cols = (int)pair[1];
        if (odd < 0 && (int)pair[1] != odd_cols) odd = q;
    }
    if (P == 1 && rows) rows[0] = nlsq_source_num_rows(local);
    if (!lost && odd >= 0) {
        free(p), free(rows), free(spans);
        return error_fail(err, NLSQ_ERR_DATA,
                          "nlsq_source_from_pieces: process %d's piece has other columns than process 0's (%d): every "
                          "piece must have the same columns",
                          odd, odd_cols);
    }
    /* a process short of memory here stops them all, before the rows
       travel (it could not take its part in that exchange) */
    int short_at = !p || !rows || !spans ? me : -1;
    if (P > 1 && !lost) lost = group_agree(g, GROUP_TAG_AGREE + 2, short_at >= 0, &short_at) != 0;
    if (short_at >= 0 || lost) {
        free(p), free(rows), free(spans);
        if (lost)
            return error_fail(err, NLSQ_ERR_IO,
                              "nlsq_source_from_pieces: the group failed while the row counts were shared");
        return error_fail(err, NLSQ_ERR_NOMEM, "nlsq_source_from_pieces: process %d of %d: out of memory", short_at,
                          P);
    }
    /* the whole's rows and chunks; each process folds the chunks that start in its piece */
    size_t m = 0;
    for (int q = 0; q < P; q++) m += rows[q];
    size_t chunk = pass_chunk_points(m);
    int nchunks = (int)((m + chunk - 1) / chunk);
    size_t at = 0;
    for (int q = 0; q < P; q++) {
        spans[q] = (int)((at + chunk - 1) / chunk);
        if (q == me) p->first = at;
        at += rows[q];
    }
    spans[P] = nchunks;
    p->local = local;
    p->ncols = ncols;
    p->rows = rows[me];
    p->spans = spans;
    p->size = P;
    /* the tail: rows from the piece's end to the end of this process's last chunk */
    size_t span_end = (size_t)spans[me + 1] * chunk < m ? (size_t)spans[me + 1] * chunk : m;
    p->tail_first = p->first + p->rows;
    p->tail_rows = spans[me + 1] > spans[me] && span_end > p->tail_first ? span_end - p->tail_first : 0;
    p->tail = p->tail_rows ? malloc(p->tail_rows * (size_t)ncols * sizeof *p->tail) : NULL;
    nlsq_status st = p->tail_rows && !p->tail ? NLSQ_ERR_NOMEM : NLSQ_OK;
    /* first send this piece's head to the process whose chunk it ends (a
       lower rank), then take the heads of the later pieces: sends go
       down, waits go up, so the exchange cannot deadlock */
    size_t head_end = (p->first + chunk - 1) / chunk * chunk, head = 0;
    if (head_end > p->first) head = head_end - p->first < p->rows ? head_end - p->first : p->rows;
    char why[256] = "";
    if (head) {
        int to = owner_of(spans, P, (int)(p->first / chunk));
        double *buf = malloc(head * (size_t)ncols * sizeof *buf);
        nlsq_error rerr;
        if (!buf || read_rows(local, ncols, 0, head, buf, &rerr) != 0) {
            st = buf ? NLSQ_ERR_DATA : NLSQ_ERR_NOMEM;
            snprintf(why, sizeof why, "%s", buf ? rerr.message : "out of memory for the rows sent to another process");
            free(buf);
            buf = NULL; /* zeros are sent instead, and the agreement below fails everyone */
        }
        if (to != me)
            for (int c = 0; c < ncols && !lost; c++) lost |= send_rows(g, to, buf ? buf + (size_t)c * head : NULL, head);
        free(buf);
    }
    size_t q_first = p->first + p->rows;
    for (int q = me + 1; q < P && !lost && q_first < p->tail_first + p->tail_rows; q_first += rows[q++]) {
        size_t q_head_end = (q_first + chunk - 1) / chunk * chunk;
        size_t q_head = q_head_end > q_first ? (q_head_end - q_first < rows[q] ? q_head_end - q_first : rows[q]) : 0;
        if (!q_head || owner_of(spans, P, (int)(q_first / chunk)) != me) continue;
        for (int c = 0; c < ncols && !lost; c++)
            lost |= recv_rows(g, q, p->tail ? p->tail + (size_t)c * p->tail_rows + (q_first - p->tail_first) : NULL,
                              q_head);
    }
    if (st == NLSQ_ERR_NOMEM && !why[0]) snprintf(why, sizeof why, "out of memory for the rows of the next pieces");
    int lowest = st != NLSQ_OK ? me : -1;
    if (P > 1 && !lost) lost = group_agree(g, GROUP_TAG_AGREE + 2, st != NLSQ_OK, &lowest) != 0;
    if (P > 1 && !lost && lowest >= 0) lost = group_tell(g, lowest, why, sizeof why) != 0;
    if (lost || lowest >= 0) {
        p->local = NULL; /* the caller's again */
        pieces_close(p);
        free(rows);
        if (lost) return error_fail(err, NLSQ_ERR_IO, "nlsq_source_from_pieces: the group failed");
        return error_fail(err, NLSQ_ERR_DATA, "nlsq_source_from_pieces: process %d of %d: %s", lowest, P, why);
    }
    free(rows);
    char desc[200];
    snprintf(desc, sizeof desc, "rows %zu-%zu of %zu in %d pieces: %.100s", p->first + 1, p->first + p->rows, m, P,
             nlsq_source_describe(local));
    nlsq_source *s = source_from_ops(&pieces_ops, p, ncols, m, desc);
    if (!s) {
        p->local = NULL;
        pieces_close(p);
        return error_fail(err, NLSQ_ERR_NOMEM, "nlsq_source_from_pieces: out of memory");
    }
    char **names = malloc((size_t)ncols * sizeof *names);
    for (int c = 0; names && c < ncols; c++) names[c] = (char *)nlsq_source_column_name(local, c);
    if (names && ncols) source_set_names(s, names);
    free(names);
    *out = s;
    return NLSQ_OK;
}
