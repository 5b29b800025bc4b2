/*
 * HDF5 sources (nlsq_source_open_hdf5): the datasets of io/hdf5.c read
 * through a small ring of blocks of rows, filled ahead of the pass.
 *
 * The HDF5 library is serialised (one read at a time in the process), so
 * a pass whose threads each read their own window would wait on each
 * other, and on the library, at every window. Instead a reader thread
 * reads the blocks after the one last asked for (wrapping round to the
 * start, where the next pass begins) into free slots of the ring while
 * the threads compute; a thread that finds its block there only copies it.
 * A block not there (the first of a pass, or an access out of order) is
 * read by the thread that needs it. The ring holds a few blocks per
 * thread of the machine: memory does not depend on the dataset's size.
 * Where the chunks are inflated outside the library (shuffle and deflate,
 * io/hdf5.c), a reader thread per core fills the ring, so that inflating
 * runs in parallel.
 * NLSQ_HDF5_PREFETCH=0 turns the reader thread off (to measure it).
 */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec.h"
#include "io/hdf5.h"
#include "source.h"

/* Rows per block: whole pass windows, so that a window lies in one block;
   about BLOCK_ROWS, up to MAX_BLOCK_ROWS to make blocks whole chunks. The
   ring takes at most RING_BYTES unless that leaves too few slots. */
#define BLOCK_ROWS (PASS_WINDOW * 4)
#define MAX_BLOCK_ROWS ((size_t)1 << 20)
#define RING_BYTES ((size_t)64 << 20)
enum { AHEAD = 4, MAX_COLS = 256, MAX_LOADERS = 64 };

enum { SLOT_EMPTY, SLOT_LOADING, SLOT_READY };

typedef struct slot {
    size_t block;
    int state, users;
    int gen;             /* the columns it holds: h5src.gen when loaded */
    unsigned long stamp; /* when last used: the oldest goes first */
    double *data;        /* ncols x block_rows */
} slot;

typedef struct h5src {
    h5_table *t;
    int ncols;
    size_t nrows, block_rows, nblocks;
    slot *slots;
    int nslots, ahead;
    double *memory;
    pthread_mutex_t m;
    pthread_cond_t changed;
    size_t want; /* the block after the one last asked for */
    /* the columns read so far (only they are loaded: a fit of 2 columns
       of a wide table reads 2), and a count of their changes */
    unsigned char used[MAX_COLS];
    int gen;
    unsigned long clock;
    int stop, nthreads;
    pthread_t threads[MAX_LOADERS];
} h5src;

/* The slot holding block b with the columns in use (or loading it). A
   ready slot of b with fewer columns, that nobody reads, is emptied. */
static int find_slot(h5src *h, size_t b)
{
    for (int i = 0; i < h->nslots; i++) {
        slot *s = &h->slots[i];
        if (s->state == SLOT_EMPTY || s->block != b) continue;
        if (s->state == SLOT_LOADING || s->gen == h->gen) return i;
        if (s->users == 0) s->state = SLOT_EMPTY;
    }
    return -1;
}

/* Whether block b is among those the reader thread is to fill next. */
static int wanted(const h5src *h, size_t b)
{
    size_t dist = (b + h->nblocks - h->want % h->nblocks) % h->nblocks;
    return dist < (size_t)h->ahead;
}

/* A slot to load into: an empty one, else the least recently used ready
   one that nobody reads and that is not wanted soon; -1 if none. */
static int victim(const h5src *h)
{
    int best = -1;
    for (int i = 0; i < h->nslots; i++) {
        const slot *s = &h->slots[i];
        if (s->state == SLOT_EMPTY || (s->state == SLOT_READY && s->users == 0 && s->gen != h->gen)) return i;
        if (s->state != SLOT_READY || s->users > 0 || wanted(h, s->block)) continue;
        if (best < 0 || s->stamp < h->slots[best].stamp) best = i;
    }
    return best;
}

static int load_block(h5src *h, int i, size_t b, double *const *cols, char *why, size_t why_size)
{
    double *at[MAX_COLS];
    size_t first = b * h->block_rows, count = h->nrows - first < h->block_rows ? h->nrows - first : h->block_rows;
    for (int c = 0; c < h->ncols; c++) at[c] = cols[c] ? h->slots[i].data + (size_t)c * h->block_rows : NULL;
    return h5_table_read(h->t, first, count, at, why, why_size);
}

/* Load block b into slot i (claimed LOADING by the caller, lock held;
   released while reading). */
static int fill_slot(h5src *h, int i, size_t b, char *why, size_t why_size)
{
    h->slots[i].block = b;
    h->slots[i].state = SLOT_LOADING;
    h->slots[i].stamp = ++h->clock;
    h->slots[i].gen = h->gen;
    double *cols[MAX_COLS]; /* non-NULL: the columns in use */
    for (int c = 0; c < h->ncols; c++) cols[c] = h->used[c] ? h->slots[i].data : NULL;
    pthread_mutex_unlock(&h->m);
    int rc = load_block(h, i, b, cols, why, why_size);
    pthread_mutex_lock(&h->m);
    h->slots[i].state = rc == 0 ? SLOT_READY : SLOT_EMPTY;
    pthread_cond_broadcast(&h->changed);
    return rc;
}

static void *prefetch_main(void *arg)
{
    h5src *h = arg;
    char why[300];
    pthread_mutex_lock(&h->m);
    while (!h->stop) {
        size_t next = SIZE_MAX;
        for (int k = 0; k < h->ahead && next == SIZE_MAX; k++) {
            size_t b = (h->want + (size_t)k) % h->nblocks;
            if (find_slot(h, b) < 0) next = b;
        }
        /* nothing to load before a column is asked for */
        int i = next != SIZE_MAX && h->gen > 0 ? victim(h) : -1;
        if (i < 0) {
            pthread_cond_wait(&h->changed, &h->m);
            continue;
        }
        /* a failure is left to the thread that needs the block: it reads
           it again and reports why */
        fill_slot(h, i, next, why, sizeof why);
    }
    pthread_mutex_unlock(&h->m);
    return NULL;
}

/* The slot holding block b, its use counted (lock held); -1: read the
   rows without the ring (no slot free, or the read failed). */
static int get_block(h5src *h, size_t b)
{
    if ((b + 1) % h->nblocks != h->want) {
        h->want = (b + 1) % h->nblocks;
        pthread_cond_broadcast(&h->changed);
    }
    for (;;) {
        int i = find_slot(h, b);
        if (i >= 0 && h->slots[i].state == SLOT_READY) {
            h->slots[i].users++;
            h->slots[i].stamp = ++h->clock;
            return i;
        }
        if (i >= 0) { /* being loaded */
            pthread_cond_wait(&h->changed, &h->m);
            continue;
        }
        if ((i = victim(h)) < 0) return -1;
        char why[300];
        if (fill_slot(h, i, b, why, sizeof why) != 0) return -1;
    }
}

static int h5src_read(void *impl, const int *cols, int n, size_t first, size_t count, double *const *out, char *why,
                      size_t why_size)
{
    h5src *h = impl;
    size_t done = 0;
    while (done < count) {
        size_t row = first + done, b = row / h->block_rows, at = row - b * h->block_rows;
        size_t len = h->block_rows - at < count - done ? h->block_rows - at : count - done;
        pthread_mutex_lock(&h->m);
        for (int k = 0; k < n; k++)
            if (!h->used[cols[k]]) {
                h->used[cols[k]] = 1;
                h->gen++;
            }
        int i = get_block(h, b);
        pthread_mutex_unlock(&h->m);
        if (i >= 0) {
            const double *data = h->slots[i].data;
            for (int k = 0; k < n; k++)
                memcpy(out[k] + done, data + (size_t)cols[k] * h->block_rows + at, len * sizeof(double));
            pthread_mutex_lock(&h->m);
            h->slots[i].users--;
            pthread_cond_broadcast(&h->changed);
            pthread_mutex_unlock(&h->m);
        } else {
            /* straight into the caller's buffers; a column asked for
               twice is copied */
            double *direct[MAX_COLS] = {0};
            for (int k = 0; k < n; k++)
                if (!direct[cols[k]]) direct[cols[k]] = out[k] + done;
            if (h5_table_read(h->t, row, len, direct, why, why_size) != 0) return -1;
            for (int k = 0; k < n; k++)
                if (direct[cols[k]] != out[k] + done) memcpy(out[k] + done, direct[cols[k]], len * sizeof(double));
        }
        done += len;
    }
    return 0;
}

static int h5src_check(void *impl, char *why, size_t why_size)
{
    const h5src *h = impl;
    return h5_table_check(h->t, why, why_size);
}

static void h5src_close(void *impl)
{
    h5src *h = impl;
    if (!h) return;
    pthread_mutex_lock(&h->m);
    h->stop = 1;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->m);
    for (int k = 0; k < h->nthreads; k++) pthread_join(h->threads[k], NULL);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->m);
    free(h->slots);
    free(h->memory);
    h5_table_close(h->t);
    free(h);
}

static const source_ops h5src_ops = {h5src_read, h5src_check, h5src_close, NULL};

static int prefetch_wanted(void)
{
    const char *v = getenv("NLSQ_HDF5_PREFETCH");
    return !v || strcmp(v, "0") != 0;
}

static h5src *h5src_new(h5_table *t)
{
    h5src *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->t = t;
    h->ncols = h5_table_num_columns(t);
    h->nrows = h5_table_num_rows(t);
    h->block_rows = h->nrows < h5_table_block_rows(t) ? h->nrows : h5_table_block_rows(t);
    h->nblocks = (h->nrows + h->block_rows - 1) / h->block_rows;
    /* Loaders: one when the library decodes (it is serialised anyway); a
       thread per core when chunks are inflated here, outside its lock.
       Slots: a block per thread being read, the blocks ahead, two spare;
       fewer when blocks are large (threads then share blocks). */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int cpus = (int)(ncpu < 1 ? 1 : ncpu > MAX_LOADERS ? MAX_LOADERS : ncpu);
    int loaders = h5_table_parallel(t) ? cpus : 1, ahead = AHEAD > loaders + 1 ? AHEAD : loaders + 1;
    int nslots = cpus + ahead + 2;
    size_t fit = RING_BYTES / ((size_t)h->ncols * h->block_rows * sizeof(double));
    if (fit < (size_t)nslots) nslots = fit > (size_t)ahead + 3 ? (int)fit : ahead + 3;
    h->nslots = (size_t)nslots < h->nblocks ? nslots : (int)h->nblocks;
    h->ahead = (size_t)ahead < h->nblocks ? ahead : (int)h->nblocks;
    h->slots = calloc((size_t)h->nslots, sizeof *h->slots);
    h->memory = malloc((size_t)h->nslots * (size_t)h->ncols * h->block_rows * sizeof(double));
    pthread_mutex_init(&h->m, NULL);
    pthread_cond_init(&h->changed, NULL);
    if (!h->slots || !h->memory) {
        h->t = NULL;
        h5src_close(h);
        return NULL;
    }
    for (int i = 0; i < h->nslots; i++) h->slots[i].data = h->memory + (size_t)i * (size_t)h->ncols * h->block_rows;
    /* a file of one block needs no thread */
    for (int k = 0; prefetch_wanted() && h->nblocks > 1 && k < loaders; k++)
        if (pthread_create(&h->threads[h->nthreads], NULL, prefetch_main, h) == 0) h->nthreads++;
    return h;
}

nlsq_status nlsq_source_open_hdf5(const char *path, const char *const *datasets, int count, nlsq_source **out,
                                  nlsq_error *err)
{
    error_clear(err);
    if (!path || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_open_hdf5: %s is NULL", !path ? "path" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (count > 0 && !datasets) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_open_hdf5: datasets is NULL with count %d", count);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    h5_table *t;
    nlsq_status st = h5_table_open(path, datasets, count, PASS_WINDOW, BLOCK_ROWS, MAX_BLOCK_ROWS, &t, err);
    if (st != NLSQ_OK) return st;
    h5src *h = h5src_new(t);
    nlsq_source *s = h ? source_from_ops(&h5src_ops, h, h5_table_num_columns(t), h5_table_num_rows(t),
                                         h5_table_describe(t))
                       : NULL;
    char *names[MAX_COLS];
    for (int c = 0; c < h5_table_num_columns(t); c++) names[c] = (char *)h5_table_column_name(t, c);
    if (!s || source_set_names(s, names) != 0) {
        if (s)
            nlsq_source_free(s);
        else if (h)
            h5src_close(h);
        else
            h5_table_close(t);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", path);
        return NLSQ_ERR_NOMEM;
    }
    source_set_origin(s, h5_table_file_stat(t));
    *out = s;
    return NLSQ_OK;
}
