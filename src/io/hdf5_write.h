/*
 * Writing HDF5, at the level of files, groups, datasets and attributes
 * (hdf5_write.c); what a result puts there is src/results/. Built without
 * HDF5, h5w_open refuses with the message naming libhdf5-dev and nothing
 * else is reached.
 *
 * One writer is one file and one group in it. Every call takes the
 * process-wide HDF5 lock (hdf5_lock.h) for its own duration and silences
 * HDF5's error printing meanwhile, so a caller may read a source (which
 * may be HDF5) between calls. The first failure is kept (h5w_failed) and
 * later calls do nothing; h5w_close then discards a new file, or deletes
 * the group it appended, and returns that failure.
 */
#ifndef NLSQ_IO_HDF5_WRITE_H
#define NLSQ_IO_HDF5_WRITE_H

#include <stddef.h>

#include "nlsq.h"

typedef struct h5w h5w;

/* Integer element types of h5w_ints. */
typedef enum h5w_int_type { H5W_I8, H5W_U8, H5W_I32, H5W_U32, H5W_I64 } h5w_int_type;

/*
 * Opens `path` for a result in `group` (NULL: "/"): mode as
 * nlsq_hdf5_mode. Refuses (NLSQ_ERR_IO) "-", a pipe or device, a
 * directory, a read-only file or directory, one of inputs[0..n_inputs),
 * an existing file in mode create, and in mode append a file that is not
 * HDF5 or a group that exists (the file looked at read-only, left
 * untouched); a bad group name is NLSQ_ERR_INVALID_ARGUMENT.
 */
nlsq_status h5w_open(const char *path, const char *group, int mode, const char *const *inputs, size_t n_inputs,
                     h5w **out, nlsq_error *err);
/* Finishes: a new file committed (renamed into place) or discarded; an
   appended group deleted after a failure. Frees w. NLSQ_OK or the first
   failure (in err, as given to h5w_open). */
nlsq_status h5w_close(h5w *w);

int h5w_failed(const h5w *w);
/* Records a failure of the caller's (out of memory, a source that could
   not be read): "PATH: message". Returns -1. */
int h5w_fail(h5w *w, nlsq_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Names are paths relative to the writer's group ("diagnostics/cond").
   rank 0 is a scalar; dims has rank entries. Each returns 0 or -1. */
int h5w_group(h5w *w, const char *name);
int h5w_doubles(h5w *w, const char *name, const double *v, int rank, const size_t *dims);
int h5w_double(h5w *w, const char *name, double v);
int h5w_ints(h5w *w, const char *name, h5w_int_type type, const void *v, int rank, const size_t *dims);
int h5w_int(h5w *w, const char *name, long long v);
int h5w_strings(h5w *w, const char *name, const char *const *v, size_t n);
int h5w_string(h5w *w, const char *name, const char *s);
/* Attributes of the object `obj` (NULL: the group itself). */
int h5w_attr_string(h5w *w, const char *obj, const char *name, const char *s);
int h5w_attr_strings(h5w *w, const char *obj, const char *name, const char *const *v, size_t n);
int h5w_attr_double(h5w *w, const char *obj, const char *name, double v);
int h5w_attr_int(h5w *w, const char *obj, const char *name, long long v);

/* A float64 column of `rows`, written in pieces: h5w_column gives its
   slot (0 .. H5W_MAX_COLUMNS-1) or -1; h5w_column_write writes rows
   [first, first+n) from v. Closed by h5w_close. */
enum { H5W_MAX_COLUMNS = 72 };
int h5w_column(h5w *w, const char *name, size_t rows);
int h5w_column_write(h5w *w, int slot, size_t first, size_t n, const double *v);

#endif
