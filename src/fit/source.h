/* Data sources inside the library: what a fit's reader needs of them. */
#ifndef NLSQ_FIT_SOURCE_H
#define NLSQ_FIT_SOURCE_H

#include <stddef.h>
#include <stdio.h>

#include "model/model.h"

/* The whole column as native doubles in memory (arrays; mapped float64 in
   the host's byte order, column after column), or NULL: read it. */
const double *source_direct(const nlsq_source *s, int col);
/* Columns cols[0..n) of rows [first, first+count) into out[k]; 0, or -1
   with the reason in why. Safe from several threads at once. */
int source_read(nlsq_source *s, const int *cols, int n, size_t first, size_t count, double *const *out, char *why,
                size_t why_size);
/* The rows are done with: mapped pages are given back. */
void source_release(const nlsq_source *s, const int *cols, int n, size_t first, size_t count);
/* Whether the data of s (a mapped file, or one among joined parts) are
   still those it was opened with: 0, or -1 with the reason, naming the
   file that changed ("PATH changed under the fit: ..."). One fstat per
   mapped file: called before and after every pass. */
int source_check(const nlsq_source *s, char *why, size_t why_size);

/* mapguard.c: a SIGBUS inside a registered mapping (its file shrank
   under it) maps zero pages over the rest of it and marks it, instead of
   killing the process; source_check reports the mark. add returns the
   slot (or -1: unguarded), hit whether the slot was faulted in. */
int map_guard_add(const void *begin, size_t len);
int map_guard_hit(int slot);
void map_guard_remove(int slot);

/* A .npy lying inside a file: its header at byte `offset`, the whole of
   it within `length` bytes from there (a stored member of an .npz),
   mapped like nlsq_source_open_npy maps a file, with the same dtypes,
   layouts and messages; `label` names it in messages and in the
   description ("data.npz member 'x'"). */
nlsq_status source_open_npy_at(const char *path, size_t offset, size_t length, const char *label, nlsq_source **out,
                               nlsq_error *err);

/* Replace the description (nlsq_source_describe). */
void source_set_description(nlsq_source *s, const char *desc);

/* Replace the column names (ncols of them); 0, or -1 out of memory. */
int source_set_names(nlsq_source *s, char **names);

/* A source that takes over the table t (emptied): its columns and names
   are freed with the source. NULL when out of memory (t is kept). */
struct table;
nlsq_source *source_adopt_table(struct table *t, const char *name);

/* The text column caches in the cache directory's columns/: how many and
   their bytes, and the temporaries apart; with clear, the caches and the
   stale temporaries removed (only files named as ours); 0, or -1 with the
   reason. */
int colcache_scan(int clear, nlsq_cache_info *out, char *why, size_t why_size);

/*
 * A column cache (colcache.c): a .npy made once from the file `path`
 * (stat st) by write(ctx, data, cache, &ncols, &names, err), which writes
 * the whole .npy into the stream `data` (the temporary file of the cache
 * named `cache`) and gives its column count and names (malloc'ed, or
 * NULL: numbered); kept beside a names file holding `identity` (one line
 * that changes whenever the data would), reused while it matches. In
 * cache_path, or NULL: the cache directory's columns/, evicted least
 * recently used first. The source's origin is path.
 */
struct stat;
typedef nlsq_status (*colcache_write_fn)(void *ctx, FILE *data, const char *cache, int *ncols, char ***names,
                                         nlsq_error *err);
nlsq_status colcache_open(const char *path, const struct stat *st, const char *identity, const char *cache_path,
                          colcache_write_fn write, void *ctx, nlsq_source **out, nlsq_error *err);

/* The file a source was made from (a text table converted or read into
   memory), besides the files it maps: outputs must not overwrite it. */
struct stat;
void source_set_origin(nlsq_source *s, const struct stat *st);
/* Whether the source reads the file st (device and inode): a file it
   maps, its origin, or one of a join's parts'. */
int source_reads_file(const nlsq_source *s, const struct stat *st);

/* A source kind implemented elsewhere (an HDF5 file): its operations on
   its own state `impl`. read as source_read (from several threads at
   once); check as source_check (NULL: nothing to check); close frees impl
   with the source. */
typedef struct source_ops {
    int (*read)(void *impl, const int *cols, int n, size_t first, size_t count, double *const *out, char *why,
                size_t why_size);
    int (*check)(void *impl, char *why, size_t why_size);
    void (*close)(void *impl);
    const int *(*spans)(void *impl, int *size); /* NULL, or data in pieces' shares (over size processes) */
} source_ops;
/* A source of ncols columns and nrows rows over impl, described by desc;
   NULL when out of memory (impl is then the caller's to free). */
nlsq_source *source_from_ops(const source_ops *ops, void *impl, int ncols, size_t nrows, const char *desc);

/* Data in pieces (source_pieces.c): the chunks each process of the group
   folds, size+1 entries (*size, when size is not NULL: the group's size);
   NULL for any other source (an even split). */
const int *source_spans(const nlsq_source *s, int *size);

#endif
