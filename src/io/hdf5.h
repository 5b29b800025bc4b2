/*
 * HDF5 datasets as a table of columns (io/hdf5.c): the file opened, the
 * datasets found (by path, or the NeXus default plot) and checked, and
 * windows of rows read through hyperslabs as doubles. Every call into the
 * HDF5 library is serialised by one process-wide lock inside hdf5.c: a
 * table may be read from several threads, one read at a time.
 */
#ifndef NLSQ_IO_HDF5_H
#define NLSQ_IO_HDF5_H

#include <stddef.h>
#include <sys/stat.h>

#include "nlsq.h"

typedef struct h5_table h5_table;

/* Open the datasets names[0..count) of path (count 0: the NeXus default
   plot); NLSQ_OK, or the reason in err naming the file and dataset.
   The table is read in blocks of rows (h5_table_block_rows): a multiple
   of `window` rows, about `block` rows or more, and where it can be (up to
   max_block rows) a multiple of every dataset's chunk rows, so that each
   chunk is read, and inflated, once a pass without a chunk cache. */
nlsq_status h5_table_open(const char *path, const char *const *names, int count, size_t window, size_t block,
                          size_t max_block, h5_table **out, nlsq_error *err);
size_t h5_table_block_rows(const h5_table *t);
void h5_table_close(h5_table *t);
int h5_table_num_columns(const h5_table *t);
size_t h5_table_num_rows(const h5_table *t);
const char *h5_table_column_name(const h5_table *t, int col);
/* "FILE: 1000 rows, 3 columns of /entry/data (float64, int32)" */
const char *h5_table_describe(const h5_table *t);
/* Rows [first, first+count) of the columns whose cols[c] is not NULL
   (cols has one slot per column); 0, or -1 with the reason. */
int h5_table_read(h5_table *t, size_t first, size_t count, double *const *cols, char *why, size_t why_size);
/* Whether reads decode chunks outside the library's lock (shuffle and
   deflate): then several threads reading blocks inflate in parallel. */
int h5_table_parallel(const h5_table *t);
/* The file as opened (for source_set_origin), and whether it is still
   the same (size, modification time): 0, or -1 with the reason. */
const struct stat *h5_table_file_stat(const h5_table *t);
int h5_table_check(const h5_table *t, char *why, size_t why_size);

#endif
