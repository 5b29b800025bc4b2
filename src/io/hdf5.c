/*
 * HDF5 datasets as a table of columns (see hdf5.h), through the HDF Group's
 * C library. Each value is converted by the library itself (H5Dread into
 * H5T_NATIVE_DOUBLE): every integer and floating-point type, either byte
 * order, any layout and every filter it provides.
 *
 * The HDF5 library keeps global state, and the serial build Debian ships
 * need not be thread-safe: every call into it goes through one
 * process-wide mutex (io/hdf5_lock.c, shared with the writer),
 * which merely mirrors the library's own. HDF5 prints its error stack to
 * stderr by default: while we hold the lock that printing is off, and our
 * messages name the file, the dataset and the library's innermost reason.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "hdf5.h"
#include "nexus.h"

int nlsq_have_hdf5(void)
{
#ifdef NLSQ_HAVE_HDF5
    return 1;
#else
    return 0;
#endif
}

#ifndef NLSQ_HAVE_HDF5

nlsq_status h5_table_open(const char *path, const char *const *names, int count, size_t window, size_t block,
                          size_t max_block, h5_table **out, nlsq_error *err)
{
    (void)names, (void)count, (void)window, (void)block, (void)max_block;
    *out = NULL;
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
              "%s: this build of nlsq does not read HDF5 files (rebuild with libhdf5-dev installed)", path);
    return NLSQ_ERR_INVALID_ARGUMENT;
}
void h5_table_close(h5_table *t)
{
    (void)t;
}
int h5_table_num_columns(const h5_table *t)
{
    (void)t;
    return 0;
}
size_t h5_table_num_rows(const h5_table *t)
{
    (void)t;
    return 0;
}
size_t h5_table_block_rows(const h5_table *t)
{
    (void)t;
    return 0;
}
const char *h5_table_column_name(const h5_table *t, int col)
{
    (void)t, (void)col;
    return NULL;
}
const char *h5_table_describe(const h5_table *t)
{
    (void)t;
    return "";
}
int h5_table_read(h5_table *t, size_t first, size_t count, double *const *cols, char *why, size_t why_size)
{
    (void)t, (void)first, (void)count, (void)cols;
    snprintf(why, why_size, "no HDF5 in this build");
    return -1;
}
const struct stat *h5_table_file_stat(const h5_table *t)
{
    (void)t;
    return NULL;
}
int h5_table_parallel(const h5_table *t)
{
    (void)t;
    return 0;
}
int h5_table_check(const h5_table *t, char *why, size_t why_size)
{
    (void)t, (void)why, (void)why_size;
    return 0;
}

#else

#include <hdf5.h>

#include "io/hdf5_lock.h"
#include <stdint.h>
#ifdef NLSQ_HAVE_ZLIB
#include <zlib.h>
#endif

enum { MAX_COLUMNS = 256, MAX_LISTED = 12 };

/* HDF5 is one global library: reads and writes (hdf5_write.c) share
   one lock (io/hdf5_lock.h). */

typedef struct h5_guard {
    H5E_auto2_t func;
    void *data;
} h5_guard;

static void h5_enter(h5_guard *g)
{
    hdf5_lock();
    H5Eget_auto2(H5E_DEFAULT, &g->func, &g->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_leave(const h5_guard *g)
{
    H5Eset_auto2(H5E_DEFAULT, g->func, g->data);
    hdf5_unlock();
}

/* The most specific entry of the library's error stack (after a failed
   call): what went wrong, in its words. */
static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc) snprintf(data, 160, "%s", e->desc);
    return 0;
}

static const char *h5_reason(char buf[160])
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, buf);
    if (!buf[0]) snprintf(buf, 160, "no reason given");
    return buf;
}

typedef struct h5_dataset {
    char *path;
    hid_t id, space;
    int rank;
    hsize_t width;                  /* columns: 1 for a 1-D dataset */
    size_t chunk_rows, chunk_bytes; /* 0: not chunked */
    /* chunks decoded here, outside the lock (see read_chunks): shuffle
       and deflate filters only, a plain integer or IEEE float type */
    int own_decode, nfilters, filters[4];
    int kind, big_endian; /* kind: 0 signed, 1 unsigned, 2 float */
    size_t elsize;
    char type[40];
} h5_dataset;

/* The buffers one reader decodes chunks in (see read_chunks), kept by
   the table between reads: freeing a chunk's megabytes after every block
   had glibc hand the pages back (madvise) and fault them in again. */
typedef struct chunk_buffers {
    unsigned char *raw, *a, *b;
    size_t raw_cap, ab_cap;
    struct chunk_buffers *next;
} chunk_buffers;

struct h5_table {
    char *file;
    hid_t fid;
    int fd; /* our own descriptor of the file: its identity for checks */
    struct stat st;
    h5_dataset *ds;
    int nds, ncols;
    size_t nrows;
    char **names;
    int *col_ds, *col_in_ds;
    double *scratch; /* a window of a 2-D dataset, under the HDF5 lock */
    size_t scratch_len;
    size_t block_rows;
    pthread_mutex_t spare_lock; /* guards spare, a free list */
    chunk_buffers *spare;
    char desc[320];
};

/* "int16 big-endian", "float32", "string": for messages and describe. */
static void type_name(hid_t tid, char *buf, size_t size)
{
    H5T_class_t cls = H5Tget_class(tid);
    size_t bytes = H5Tget_size(tid);
    const char *order = H5Tget_order(tid) == H5T_ORDER_BE && bytes > 1 ? " big-endian" : "";
    switch (cls) {
    case H5T_INTEGER:
        snprintf(buf, size, "%sint%zu%s", H5Tget_sign(tid) == H5T_SGN_NONE ? "u" : "", bytes * 8, order);
        break;
    case H5T_FLOAT: snprintf(buf, size, "float%zu%s", bytes * 8, order); break;
    case H5T_STRING: snprintf(buf, size, "string"); break;
    case H5T_COMPOUND: snprintf(buf, size, "compound"); break;
    case H5T_ENUM: snprintf(buf, size, "enum"); break;
    case H5T_REFERENCE: snprintf(buf, size, "reference"); break;
    case H5T_BITFIELD: snprintf(buf, size, "bitfield"); break;
    case H5T_OPAQUE: snprintf(buf, size, "opaque"); break;
    case H5T_ARRAY: snprintf(buf, size, "array"); break;
    case H5T_VLEN: snprintf(buf, size, "variable-length"); break;
    default: snprintf(buf, size, "an unknown type"); break;
    }
}

static int numeric_type(hid_t tid)
{
    H5T_class_t cls = H5Tget_class(tid);
    return cls == H5T_INTEGER || cls == H5T_FLOAT;
}

/* Every filter of a chunked dataset must be in this library (or a plugin
   it finds); a chunk cache of a few chunks, so that windows smaller than
   a chunk do not inflate it again and again. */
static nlsq_status check_filters(const h5_table *t, const char *name, hid_t dcpl, nlsq_error *err)
{
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0, config = 0;
        size_t ncd = 0;
        char fname[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, NULL, sizeof fname, fname, &config);
        if (id < 0 || H5Zfilter_avail(id) <= 0)
            return error_fail(
                err, NLSQ_ERR_DATA,
                "%s: dataset %s is compressed with HDF5 filter %d%s%s%s, which this HDF5 library does not "
                "provide (a filter plugin may: HDF5_PLUGIN_PATH)",
                t->file, name, (int)id, fname[0] ? " (" : "", fname, fname[0] ? ")" : "");
    }
    return NLSQ_OK;
}

/* A chunked dataset's chunk: its rows and bytes (0 when not chunked). */
static void chunk_shape(h5_dataset *d, hid_t dcpl, hid_t tid, int rank)
{
    hsize_t cdims[2] = {1, 1};
    if (H5Pget_layout(dcpl) != H5D_CHUNKED || H5Pget_chunk(dcpl, rank, cdims) < 0) return;
    d->chunk_rows = (size_t)cdims[0];
    d->chunk_bytes = (size_t)cdims[0] * (size_t)(rank > 1 ? cdims[1] : 1) * H5Tget_size(tid);
}

static int host_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* Whether a chunked 1-D dataset's chunks can be decoded here, in the
   pass's threads, rather than by the (serialised) library: its filters
   are shuffle and deflate only, its type a plain integer or an IEEE
   float. The library still reads the raw chunks, under the lock. */
static void own_decoding(h5_dataset *d, hid_t dcpl, hid_t tid, int rank)
{
#ifdef NLSQ_HAVE_ZLIB
    int nf = H5Pget_nfilters(dcpl);
    if (rank != 1 || !d->chunk_rows || nf < 1 || nf > 4) return;
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0, config = 0;
        size_t ncd = 0;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, NULL, 0, NULL, &config);
        if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE) return;
        d->filters[i] = (int)id;
    }
    size_t size = H5Tget_size(tid);
    H5T_class_t cls = H5Tget_class(tid);
    int be = H5Tget_order(tid) == H5T_ORDER_BE;
    if (cls == H5T_FLOAT) {
        hid_t ieee = size == 4 ? (be ? H5T_IEEE_F32BE : H5T_IEEE_F32LE)
                   : size == 8 ? (be ? H5T_IEEE_F64BE : H5T_IEEE_F64LE)
                               : -1;
        if (ieee < 0 || H5Tequal(tid, ieee) <= 0) return;
        d->kind = 2;
    } else if (cls == H5T_INTEGER) {
        if ((size != 1 && size != 2 && size != 4 && size != 8) || H5Tget_precision(tid) != size * 8 ||
            H5Tget_offset(tid) != 0)
            return;
        d->kind = H5Tget_sign(tid) == H5T_SGN_NONE ? 1 : 0;
    } else {
        return;
    }
    d->nfilters = nf;
    d->elsize = size;
    d->big_endian = be;
    d->own_decode = 1;
#else
    (void)d, (void)dcpl, (void)tid, (void)rank;
#endif
}

/* The chunk cache a chunked dataset is read with: none when the blocks
   are whole chunks (each chunk is read once a pass, straight into the
   block: a cache would only copy it, and the library's cache was seen to
   grow the process when shared by the threads); else enough chunks to
   span a block and one more, so that no chunk is inflated twice. */
static hid_t chunk_cache_access(const h5_table *t, const h5_dataset *d)
{
    if (!d->chunk_rows) return H5P_DEFAULT;
    size_t bytes = 0;
    if (t->block_rows % d->chunk_rows != 0) {
        double want = ((double)t->block_rows / (double)d->chunk_rows + 2) * (double)d->chunk_bytes;
        if (want > (double)(512 << 20)) return H5P_DEFAULT; /* huge chunks: the library's default */
        bytes = (size_t)want;
    }
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0) H5Pset_chunk_cache(dapl, 1021, bytes, 1.0);
    return dapl;
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* The block: a multiple of the window and of every chunk's rows when that
   stays within max_block, at least `block` rows. */
static void choose_block(h5_table *t, size_t window, size_t block, size_t max_block)
{
    /* a wide table gets fewer rows a block: about 8 MB of doubles for
       the block, at most 16 MB to make it whole chunks */
    window = window ? window : 1;
    size_t row = 8 * (size_t)(t->ncols > 0 ? t->ncols : 1);
    size_t fit = ((size_t)8 << 20) / row / window * window, most = ((size_t)16 << 20) / row / window * window;
    if (block > fit) block = fit > window ? fit : window;
    if (max_block > most) max_block = most > block ? most : block;
    size_t l = window;
    for (int k = 0; k < t->nds && l; k++) {
        size_t c = t->ds[k].chunk_rows;
        if (!c) continue;
        size_t g = gcd(l, c);
        l = l / g > max_block / c ? 0 : l / g * c;
    }
    if (!l || l > max_block) {
        t->block_rows = block;
        return;
    }
    while (l < block && l * 2 <= max_block) l *= 2;
    t->block_rows = l;
}

/* Look at one dataset (under the lock): what it holds, its shape, its
   chunks; opened for reading once every dataset passed. */
static nlsq_status open_dataset(h5_table *t, h5_dataset *d, const char *name, nlsq_error *err)
{
    char why[160];
    d->id = d->space = -1;
    if (!(d->path = strdup(name))) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", t->file);
    hid_t obj = H5Oopen(t->fid, name, H5P_DEFAULT);
    if (obj < 0) return error_fail(err, NLSQ_ERR_DATA, "%s: no dataset %s in the file", t->file, name);
    H5I_type_t kind = H5Iget_type(obj);
    if (kind != H5I_DATASET) {
        H5Oclose(obj);
        return error_fail(err, NLSQ_ERR_DATA, "%s: %s is %s, not a dataset", t->file, name,
                          kind == H5I_GROUP ? "a group"
                          : kind == H5I_DATATYPE ? "a named datatype"
                                                 : "not a dataset");
    }
    hid_t dcpl = H5Dget_create_plist(obj), tid = H5Dget_type(obj);
    nlsq_status st = NLSQ_OK;
    if (dcpl < 0 || tid < 0)
        st = error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s cannot be read: %s", t->file, name, h5_reason(why));
    else if (!numeric_type(tid)) {
        type_name(tid, why, sizeof why);
        st = error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s holds %s values, not numbers", t->file, name, why);
    } else
        st = check_filters(t, name, dcpl, err);
    if (st == NLSQ_OK) {
        type_name(tid, d->type, sizeof d->type);
        hid_t space = H5Dget_space(obj);
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        hsize_t dims[2] = {0, 0};
        if (rank < 0)
            st = error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s: its shape cannot be read: %s", t->file, name,
                            h5_reason(why));
        else if (H5Sget_simple_extent_type(space) == H5S_NULL)
            st = error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s is empty (no dataspace)", t->file, name);
        else if (rank == 0 || rank > 2)
            st = error_fail(err, NLSQ_ERR_DATA,
                            "%s: dataset %s has %d dimensions; a column is 1-D and a table 2-D (rows, columns)",
                            t->file, name, rank);
        else {
            H5Sget_simple_extent_dims(space, dims, NULL);
            if (dims[0] == 0 || (rank == 2 && dims[1] == 0))
                st = rank == 2 ? error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s is empty (shape %llu x %llu)", t->file,
                                            name, (unsigned long long)dims[0], (unsigned long long)dims[1])
                               : error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s is empty (0 rows)", t->file, name);
            else if (rank == 2 && dims[1] > MAX_COLUMNS)
                st = error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s has %llu columns; at most %d are read", t->file,
                                name, (unsigned long long)dims[1], MAX_COLUMNS);
        }
        if (space >= 0) H5Sclose(space);
        if (st == NLSQ_OK) {
            d->rank = rank;
            d->width = rank == 2 ? dims[1] : 1;
            if (t->nds > 1 && (size_t)dims[0] != t->nrows)
                st = error_fail(err, NLSQ_ERR_DATA,
                                "%s: dataset %s has %llu rows but %s has %zu: the columns must be "
                                "equally long",
                                t->file, name, (unsigned long long)dims[0], t->ds[0].path, t->nrows);
            t->nrows = (size_t)dims[0];
        }
        if (st == NLSQ_OK) {
            chunk_shape(d, dcpl, tid, rank);
            own_decoding(d, dcpl, tid, rank);
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (tid >= 0) H5Tclose(tid);
    H5Oclose(obj);
    return st;
}

/* Each dataset opened again with its chunk cache, once the block is known. */
static nlsq_status open_for_reading(h5_table *t, h5_dataset *d, nlsq_error *err)
{
    char why[160];
    hid_t dapl = chunk_cache_access(t, d);
    d->id = H5Dopen2(t->fid, d->path, dapl);
    if (dapl != H5P_DEFAULT) H5Pclose(dapl);
    if (d->id < 0 || (d->space = H5Dget_space(d->id)) < 0)
        return error_fail(err, NLSQ_ERR_DATA, "%s: dataset %s cannot be opened: %s", t->file, d->path, h5_reason(why));
    return NLSQ_OK;
}

/* ---- attributes and the NeXus default plot ------------------------------ */

/* An attribute's values as strings (a string, or an array of strings; a
   number is written out): count, or 0 when absent or unreadable. */
static int attr_strings(hid_t obj, const char *name, char **out, int max)
{
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t tid = H5Aget_type(a), space = H5Aget_space(a);
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : 0;
    int n = 0;
    if (tid >= 0 && npoints > 0 && npoints <= 64) {
        H5T_class_t cls = H5Tget_class(tid);
        if (cls == H5T_STRING && H5Tis_variable_str(tid) > 0) {
            char *vals[64] = {0};
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(tid));
            if (H5Aread(a, mt, vals) >= 0) {
                for (hssize_t i = 0; i < npoints && n < max; i++) out[n++] = strdup(vals[i] ? vals[i] : "");
                H5Dvlen_reclaim(mt, space, H5P_DEFAULT, vals);
            }
            H5Tclose(mt);
        } else if (cls == H5T_STRING) {
            size_t len = H5Tget_size(tid);
            char *buf = len < (1 << 16) ? calloc((size_t)npoints, len + 1) : NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, len + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            H5Tset_cset(mt, H5Tget_cset(tid)); /* HDF5 converts no UTF-8 to ASCII */
            if (buf && H5Aread(a, mt, buf) >= 0)
                for (hssize_t i = 0; i < npoints && n < max; i++) out[n++] = strdup(buf + (size_t)i * (len + 1));
            H5Tclose(mt);
            free(buf);
        } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
            double v[64];
            if (H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0)
                for (hssize_t i = 0; i < npoints && n < max; i++) {
                    char num[32];
                    snprintf(num, sizeof num, "%.17g", v[i]);
                    out[n++] = strdup(num);
                }
        }
    }
    if (tid >= 0) H5Tclose(tid);
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    /* a failed strdup leaves a NULL: dropped */
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (out[i]) out[kept++] = out[i];
    return kept;
}

static char *attr_string(hid_t obj, const char *name)
{
    char *one[1] = {NULL};
    return attr_strings(obj, name, one, 1) ? one[0] : NULL;
}

static void free_strings(char **s, int n)
{
    for (int i = 0; i < n; i++) free(s[i]);
}

/* The names of a group's links, in name order. */
typedef struct link_list {
    char **names;
    int n, cap;
} link_list;

static herr_t add_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g, (void)info;
    link_list *l = data;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **grown = cap <= 4096 ? realloc(l->names, (size_t)cap * sizeof *grown) : NULL;
        if (!grown) return 1;
        l->names = grown;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(name))) return 1;
    l->n++;
    return 0;
}

static void list_links(hid_t g, link_list *l)
{
    memset(l, 0, sizeof *l);
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_link, l);
}

static void free_links(link_list *l)
{
    free_strings(l->names, l->n);
    free(l->names);
}

/* The child group of g that @default names, else the first of class
   nx_class: its name (malloc'd), or NULL. */
static char *pick_group(hid_t g, const char *nx_class)
{
    link_list l;
    list_links(g, &l);
    char **classes = calloc((size_t)(l.n ? l.n : 1), sizeof *classes);
    char *def = attr_string(g, "default"), *pick = NULL;
    if (classes) {
        for (int i = 0; i < l.n; i++) {
            hid_t c = H5Oopen(g, l.names[i], H5P_DEFAULT);
            if (c < 0) continue;
            if (H5Iget_type(c) == H5I_GROUP) classes[i] = attr_string(c, "NX_class");
            H5Oclose(c);
        }
        /* @default naming something that is not a group is passed over */
        int i = nexus_pick_child(def, (const char *const *)l.names, (const char *const *)classes, l.n, nx_class);
        if (i >= 0 && def && strcmp(l.names[i], def) == 0 && !classes[i]) {
            hid_t c = H5Oopen(g, def, H5P_DEFAULT);
            int group = c >= 0 && H5Iget_type(c) == H5I_GROUP;
            if (c >= 0) H5Oclose(c);
            if (!group)
                i = nexus_pick_child(NULL, (const char *const *)l.names, (const char *const *)classes, l.n, nx_class);
        }
        if (i >= 0) pick = strdup(l.names[i]);
        free_strings(classes, l.n);
        free(classes);
    }
    free(def);
    free_links(&l);
    return pick;
}

/* A description of the NXdata group's members for nexus_find_plot. */
typedef struct nx_members {
    link_list links;
    nexus_member *m;
    char **sig, **axes;
} nx_members;

static int read_members(hid_t g, nx_members *x)
{
    list_links(g, &x->links);
    int n = x->links.n ? x->links.n : 1;
    x->m = calloc((size_t)n, sizeof *x->m);
    x->sig = calloc((size_t)n, sizeof *x->sig);
    x->axes = calloc((size_t)n, sizeof *x->axes);
    if (!x->m || !x->sig || !x->axes) return -1;
    for (int i = 0; i < x->links.n; i++) {
        nexus_member *m = &x->m[i];
        m->name = x->links.names[i];
        hid_t o = H5Oopen(g, m->name, H5P_DEFAULT);
        if (o < 0) continue;
        if (H5Iget_type(o) == H5I_DATASET) {
            m->is_dataset = 1;
            hid_t tid = H5Dget_type(o), space = H5Dget_space(o);
            m->numeric = tid >= 0 && numeric_type(tid);
            m->rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : 0;
            hsize_t dims[8] = {0};
            if (m->rank >= 1 && m->rank <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
            m->length = dims[0];
            if (tid >= 0) H5Tclose(tid);
            if (space >= 0) H5Sclose(space);
            m->signal_attr = x->sig[i] = attr_string(o, "signal");
            m->axes_attr = x->axes[i] = attr_string(o, "axes");
        }
        H5Oclose(o);
    }
    return 0;
}

static void free_members(nx_members *x)
{
    for (int i = 0; x->sig && i < x->links.n; i++) free(x->sig[i]);
    for (int i = 0; x->axes && i < x->links.n; i++) free(x->axes[i]);
    free(x->sig);
    free(x->axes);
    free(x->m);
    free_links(&x->links);
}

/* The file's numeric 1-D and 2-D datasets, for the message when there is
   no default plot. */
typedef struct listing {
    hid_t fid;
    char text[700];
    int shown, more;
} listing;

static herr_t list_dataset(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    listing *l = data;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t o = H5Oopen(l->fid, name, H5P_DEFAULT);
    if (o < 0) return 0;
    if (H5Iget_type(o) == H5I_DATASET) {
        hid_t tid = H5Dget_type(o), space = H5Dget_space(o);
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : 0;
        hsize_t dims[2] = {0, 0};
        if ((rank == 1 || rank == 2) && tid >= 0 && numeric_type(tid)) {
            H5Sget_simple_extent_dims(space, dims, NULL);
            size_t used = strlen(l->text);
            if (l->shown < MAX_LISTED && used < sizeof l->text - 100) {
                if (rank == 1)
                    snprintf(l->text + used, sizeof l->text - used, "%s/%s (%llu)", l->shown ? ", " : "", name,
                             (unsigned long long)dims[0]);
                else
                    snprintf(l->text + used, sizeof l->text - used, "%s/%s (%llu x %llu)", l->shown ? ", " : "", name,
                             (unsigned long long)dims[0], (unsigned long long)dims[1]);
                l->shown++;
            } else {
                l->more++;
            }
        }
        if (tid >= 0) H5Tclose(tid);
        if (space >= 0) H5Sclose(space);
    }
    H5Oclose(o);
    return 0;
}

static nlsq_status no_default(const h5_table *t, const char *reason, nlsq_error *err)
{
    listing l;
    memset(&l, 0, sizeof l);
    l.fid = t->fid;
    H5Lvisit(t->fid, H5_INDEX_NAME, H5_ITER_INC, list_dataset, &l);
    char more[48] = "";
    if (l.more) snprintf(more, sizeof more, " and %d more", l.more);
    if (!l.shown)
        return error_fail(err, NLSQ_ERR_DATA, "%s: %s, and the file holds no 1-D or 2-D numeric dataset", t->file,
                          reason);
    return error_fail(err, NLSQ_ERR_DATA,
                      "%s: %s; name the datasets (FILE:/path/x,/path/y, or --x/--y with paths): %s%s", t->file, reason,
                      l.text, more);
}

/* The NeXus default plot's datasets as paths: axes, signal, errors. */
static nlsq_status nexus_default(h5_table *t, char **paths, int *count, nlsq_error *err)
{
    *count = 0;
    hid_t root = H5Gopen2(t->fid, "/", H5P_DEFAULT);
    if (root < 0) return error_fail(err, NLSQ_ERR_DATA, "%s: the root group cannot be opened", t->file);
    char *entry = pick_group(root, "NXentry");
    H5Gclose(root);
    if (!entry) return no_default(t, "no NeXus entry (no @default on the root, no NXentry group)", err);
    char where[600];
    snprintf(where, sizeof where, "/%s", entry);
    free(entry);
    hid_t ge = H5Gopen2(t->fid, where, H5P_DEFAULT);
    char *data = ge >= 0 ? pick_group(ge, "NXdata") : NULL;
    if (ge >= 0) H5Gclose(ge);
    if (!data) {
        char reason[700];
        snprintf(reason, sizeof reason, "no NXdata group in the NeXus entry %s", where);
        return no_default(t, reason, err);
    }
    size_t used = strlen(where);
    snprintf(where + used, sizeof where - used, "/%s", data);
    free(data);
    hid_t gd = H5Gopen2(t->fid, where, H5P_DEFAULT);
    if (gd < 0) return error_fail(err, NLSQ_ERR_DATA, "%s: the NXdata group %s cannot be opened", t->file, where);
    nx_members x;
    memset(&x, 0, sizeof x);
    char *signal = attr_string(gd, "signal"), *axes[NEXUS_MAX_AXES];
    int naxes = attr_strings(gd, "axes", axes, NEXUS_MAX_AXES);
    nlsq_status st = NLSQ_OK;
    if (read_members(gd, &x) != 0) {
        st = error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", t->file);
    } else {
        nexus_group g = {signal, (const char *const *)axes, naxes, x.m, x.links.n};
        nexus_plot p;
        char why[400];
        if (nexus_find_plot(&g, &p, why, sizeof why) != 0) {
            char reason[1100];
            snprintf(reason, sizeof reason, "the NeXus default plot %s: %s", where, why);
            st = no_default(t, reason, err);
        } else {
            int pick[NEXUS_MAX_AXES + 2], n = 0;
            for (int k = 0; k < p.naxes; k++) pick[n++] = p.axes[k];
            pick[n++] = p.signal;
            if (p.errors >= 0) pick[n++] = p.errors;
            for (int k = 0; k < n && st == NLSQ_OK; k++) {
                size_t len = strlen(where) + strlen(x.m[pick[k]].name) + 2;
                if (!(paths[k] = malloc(len)))
                    st = error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", t->file);
                else
                    snprintf(paths[k], len, "%s/%s", where, x.m[pick[k]].name), (*count)++;
            }
        }
    }
    free_members(&x);
    free(signal);
    free_strings(axes, naxes);
    H5Gclose(gd);
    return st;
}

/* ---- the table ------------------------------------------------------------ */

static nlsq_status name_columns(h5_table *t, nlsq_error *err)
{
    t->names = calloc((size_t)t->ncols, sizeof *t->names);
    t->col_ds = malloc((size_t)t->ncols * sizeof *t->col_ds);
    t->col_in_ds = malloc((size_t)t->ncols * sizeof *t->col_in_ds);
    if (!t->names || !t->col_ds || !t->col_in_ds) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", t->file);
    int c = 0;
    for (int k = 0; k < t->nds; k++)
        for (hsize_t j = 0; j < t->ds[k].width; j++, c++) {
            t->col_ds[c] = k;
            t->col_in_ds[c] = (int)j;
            size_t len = strlen(t->ds[k].path) + 16;
            if (!(t->names[c] = malloc(len))) return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", t->file);
            /* a table's columns: PATH:1 ... PATH:c */
            if (t->ds[k].rank == 1)
                snprintf(t->names[c], len, "%s", t->ds[k].path);
            else
                snprintf(t->names[c], len, "%s:%d", t->ds[k].path, (int)j + 1);
        }
    return NLSQ_OK;
}

static void describe(h5_table *t)
{
    const char *base = strrchr(t->file, '/');
    base = base ? base + 1 : t->file;
    size_t used = (size_t)snprintf(t->desc, sizeof t->desc, "%.120s: %zu x %d from HDF5 (", base, t->nrows, t->ncols);
    for (int k = 0; k < t->nds && used < sizeof t->desc; k++) {
        int w = snprintf(t->desc + used, sizeof t->desc - used, "%s%s %s", k ? ", " : "", t->ds[k].path, t->ds[k].type);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used < sizeof t->desc - 1) snprintf(t->desc + used, sizeof t->desc - used, ")");
}

static void close_locked(h5_table *t)
{
    for (int k = 0; t->ds && k < t->nds; k++) {
        if (t->ds[k].space >= 0) H5Sclose(t->ds[k].space);
        if (t->ds[k].id >= 0) H5Dclose(t->ds[k].id);
        free(t->ds[k].path);
    }
    if (t->fid >= 0) H5Fclose(t->fid);
}

void h5_table_close(h5_table *t)
{
    if (!t) return;
    h5_guard g;
    h5_enter(&g);
    close_locked(t);
    h5_leave(&g);
    for (int c = 0; t->names && c < t->ncols; c++) free(t->names[c]);
    free(t->names);
    free(t->col_ds);
    free(t->col_in_ds);
    free(t->ds);
    free(t->scratch);
    for (chunk_buffers *b = t->spare, *next; b; b = next) {
        next = b->next;
        free(b->raw);
        free(b->a);
        free(b->b);
        free(b);
    }
    pthread_mutex_destroy(&t->spare_lock);
    if (t->fd >= 0) close(t->fd);
    free(t->file);
    free(t);
}

static nlsq_status open_file(h5_table *t, nlsq_error *err)
{
    char why[160];
    t->fd = open(t->file, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0 || fstat(t->fd, &t->st) != 0)
        return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: %s", t->file, strerror(errno));
    if (!S_ISREG(t->st.st_mode)) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: not a regular file", t->file);
    if ((t->fid = H5Fopen(t->file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return error_fail(err, NLSQ_ERR_DATA, "%s: not a readable HDF5 file (truncated or damaged?): %s", t->file,
                          h5_reason(why));
    return NLSQ_OK;
}

static nlsq_status open_locked(h5_table *t, const char *const *names, int count, const size_t sizes[3], nlsq_error *err)
{
    nlsq_status st = open_file(t, err);
    if (st != NLSQ_OK) return st;
    char *found[NEXUS_MAX_AXES + 2];
    int nfound = 0;
    if (count == 0) {
        if ((st = nexus_default(t, found, &nfound, err)) != NLSQ_OK) return st;
        names = (const char *const *)found;
        count = nfound;
    }
    if (!(t->ds = calloc((size_t)count, sizeof *t->ds)))
        st = error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", t->file);
    for (int k = 0; k < count && st == NLSQ_OK; k++) {
        t->nds = k + 1;
        st = open_dataset(t, &t->ds[k], names[k], err);
        t->ncols += (int)t->ds[k].width;
        if (st == NLSQ_OK && t->ncols > MAX_COLUMNS)
            st = error_fail(err, NLSQ_ERR_DATA, "%s: more than %d columns in the datasets named", t->file, MAX_COLUMNS);
    }
    free_strings(found, nfound);
    if (st != NLSQ_OK) return st;
    choose_block(t, sizes[0], sizes[1], sizes[2]);
    for (int k = 0; k < t->nds && st == NLSQ_OK; k++) st = open_for_reading(t, &t->ds[k], err);
    return st;
}

nlsq_status h5_table_open(const char *path, const char *const *names, int count, size_t window, size_t block,
                          size_t max_block, h5_table **out, nlsq_error *err)
{
    *out = NULL;
    const size_t sizes[3] = {window, block, max_block};
    if (count < 0) return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: a negative count of datasets", path);
    for (int k = 0; k < count; k++)
        if (!names || !names[k] || !names[k][0])
            return error_fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s: dataset name %d is %s", path, k,
                              !names || !names[k] ? "NULL" : "empty");
    h5_table *t = calloc(1, sizeof *t);
    if (!t || !(t->file = strdup(path))) {
        free(t);
        return error_fail(err, NLSQ_ERR_NOMEM, "%s: out of memory", path);
    }
    t->fid = -1;
    t->fd = -1;
    pthread_mutex_init(&t->spare_lock, NULL);
    h5_guard g;
    h5_enter(&g);
    nlsq_status st = open_locked(t, names, count, sizes, err);
    h5_leave(&g);
    if (st == NLSQ_OK) st = name_columns(t, err);
    if (st != NLSQ_OK) {
        h5_table_close(t);
        return st;
    }
    describe(t);
    *out = t;
    return NLSQ_OK;
}

int h5_table_num_columns(const h5_table *t)
{
    return t->ncols;
}
size_t h5_table_num_rows(const h5_table *t)
{
    return t->nrows;
}
size_t h5_table_block_rows(const h5_table *t)
{
    return t->block_rows;
}
const char *h5_table_column_name(const h5_table *t, int col)
{
    return col >= 0 && col < t->ncols ? t->names[col] : NULL;
}
const char *h5_table_describe(const h5_table *t)
{
    return t->desc;
}
const struct stat *h5_table_file_stat(const h5_table *t)
{
    return &t->st;
}

int h5_table_check(const h5_table *t, char *why, size_t why_size)
{
    struct stat now;
    if (fstat(t->fd, &now) != 0) {
        snprintf(why, why_size, "%s: %s", t->file, strerror(errno));
        return -1;
    }
    if (now.st_size == t->st.st_size && now.st_mtim.tv_sec == t->st.st_mtim.tv_sec &&
        now.st_mtim.tv_nsec == t->st.st_mtim.tv_nsec)
        return 0;
    snprintf(why, why_size,
             "%s changed under the fit: it was written to while the fit read it; the fit is stopped (restart it once "
             "the file is whole)",
             t->file);
    return -1;
}

/* One dataset's rows into the needed columns (under the lock). */
static int read_dataset(h5_table *t, int k, int col0, size_t first, size_t count, double *const *cols, char *why,
                        size_t why_size)
{
    h5_dataset *d = &t->ds[k];
    int need = 0;
    for (hsize_t j = 0; j < d->width; j++) need |= cols[col0 + (int)j] != NULL;
    if (!need) return 0;
    hsize_t start[2] = {first, 0}, n[2] = {count, d->width};
    double *dst = cols[col0];
    if (d->rank == 2) {
        size_t len = count * (size_t)d->width;
        if (len > t->scratch_len) {
            double *grown = realloc(t->scratch, len * sizeof *grown);
            if (!grown) {
                snprintf(why, why_size, "%s: out of memory for rows of %s", t->file, d->path);
                return -1;
            }
            t->scratch = grown;
            t->scratch_len = len;
        }
        dst = t->scratch;
    }
    hid_t mem = H5Screate_simple(d->rank, n, NULL);
    herr_t rc = mem < 0 ? -1 : H5Sselect_hyperslab(d->space, H5S_SELECT_SET, start, NULL, n, NULL);
    if (rc >= 0) rc = H5Dread(d->id, H5T_NATIVE_DOUBLE, mem, d->space, H5P_DEFAULT, dst);
    if (rc < 0) {
        char reason[160];
        /* the reason before another call clears the library's stack */
        snprintf(why, why_size, "%s: rows %zu to %zu of dataset %s cannot be read (the file is damaged?): %s", t->file,
                 first, first + count - 1, d->path, h5_reason(reason));
    }
    if (mem >= 0) H5Sclose(mem);
    if (rc < 0) return -1;
    if (d->rank == 2)
        for (hsize_t j = 0; j < d->width; j++) {
            double *out = cols[col0 + (int)j];
            if (!out) continue;
            for (size_t i = 0; i < count; i++) out[i] = t->scratch[i * d->width + j];
        }
    return 0;
}

#ifdef NLSQ_HAVE_ZLIB
/* One element of the file's type as a double. */
static double element(const unsigned char *p, const h5_dataset *d, int swap)
{
    unsigned char b[8];
    size_t n = d->elsize;
    for (size_t i = 0; i < n; i++) b[i] = swap ? p[n - 1 - i] : p[i];
    switch (d->kind * 16 + (int)n) {
    case 1: return (double)(int8_t)b[0];
    case 2: {
        int16_t v;
        memcpy(&v, b, 2);
        return v;
    }
    case 4: {
        int32_t v;
        memcpy(&v, b, 4);
        return v;
    }
    case 8: {
        int64_t v;
        memcpy(&v, b, 8);
        return (double)v;
    }
    case 17: return (double)b[0];
    case 18: {
        uint16_t v;
        memcpy(&v, b, 2);
        return v;
    }
    case 20: {
        uint32_t v;
        memcpy(&v, b, 4);
        return v;
    }
    case 24: {
        uint64_t v;
        memcpy(&v, b, 8);
        return (double)v;
    }
    case 36: {
        float v;
        memcpy(&v, b, 4);
        return v;
    }
    case 40: {
        double v;
        memcpy(&v, b, 8);
        return v;
    }
    default: return 0;
    }
}

/* HDF5's shuffle undone: byte j of element i was stored at j*n + i. */
static void unshuffle(const unsigned char *in, size_t len, size_t elsize, unsigned char *out)
{
    size_t n = len / elsize;
    /* written in order, read from elsize streams */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < elsize; j++) out[i * elsize + j] = in[j * n + i];
    memcpy(out + n * elsize, in + n * elsize, len - n * elsize);
}

/* A raw chunk through the filters, last applied first; the decoded bytes
   (in a or b), or NULL when it does not decode to a whole chunk. */
static const unsigned char *decode_chunk(const h5_dataset *d, const unsigned char *raw, size_t len, uint32_t mask,
                                         unsigned char *a, unsigned char *b)
{
    const unsigned char *data = raw;
    for (int i = d->nfilters - 1; i >= 0; i--) {
        if (mask & (1u << i)) continue; /* this chunk skipped the filter */
        unsigned char *to = data == a ? b : a;
        if (d->filters[i] == H5Z_FILTER_DEFLATE) {
            uLongf out = (uLongf)d->chunk_bytes;
            if (uncompress(to, &out, data, (uLong)len) != Z_OK || out != d->chunk_bytes) return NULL;
            len = out;
        } else {
            if (len != d->chunk_bytes) return NULL;
            unshuffle(data, len, d->elsize, to);
        }
        data = to;
    }
    return len == d->chunk_bytes ? data : NULL;
}

/* Back to the table's spares (NULL: nothing). */
static void buffers_give(h5_table *t, chunk_buffers *b)
{
    if (!b) return;
    pthread_mutex_lock(&t->spare_lock);
    b->next = t->spare;
    t->spare = b;
    pthread_mutex_unlock(&t->spare_lock);
}

/* A set of chunk buffers big enough for d's chunks, from the table's
   spares or new; NULL out of memory. */
static chunk_buffers *buffers_take(h5_table *t, const h5_dataset *d)
{
    pthread_mutex_lock(&t->spare_lock);
    chunk_buffers *b = t->spare;
    if (b) t->spare = b->next;
    pthread_mutex_unlock(&t->spare_lock);
    if (!b && !(b = calloc(1, sizeof *b))) return NULL;
    size_t raw = d->chunk_bytes + d->chunk_bytes / 8 + 4096, ab = d->chunk_bytes + 1;
    if (b->raw_cap < raw) {
        free(b->raw);
        b->raw_cap = (b->raw = malloc(raw)) ? raw : 0;
    }
    if (b->ab_cap < ab) {
        free(b->a);
        free(b->b);
        b->a = malloc(ab);
        b->b = malloc(ab);
        b->ab_cap = b->a && b->b ? ab : 0;
    }
    if (b->raw_cap && b->ab_cap) return b;
    buffers_give(t, b); /* kept for later, whatever it holds */
    return NULL;
}

/* Rows [first, first+count) of a dataset whose chunks are decoded here:
   each raw chunk read under the lock, inflated and converted outside it,
   so that the threads that read blocks inflate in parallel. A chunk the
   file does not hold (never written: the fill value) is read through the
   library. */
static int read_chunks(h5_table *t, h5_dataset *d, int k, int col0, size_t first, size_t count, double *const *cols,
                       char *why, size_t why_size)
{
    double *out = cols[col0];
    if (!out) return 0;
    size_t cr = d->chunk_rows;
    chunk_buffers *buf = buffers_take(t, d);
    unsigned char *raw = buf ? buf->raw : NULL, *a = buf ? buf->a : NULL, *b = buf ? buf->b : NULL;
    size_t cap = buf ? buf->raw_cap : 0;
    int rc = buf ? 0 : -1, swap = d->big_endian != host_big_endian();
    if (rc) snprintf(why, why_size, "%s: out of memory for a chunk of %s", t->file, d->path);
    for (size_t c = first / cr; rc == 0 && c * cr < first + count; c++) {
        size_t lo = c * cr < first ? first : c * cr, hi = (c + 1) * cr < first + count ? (c + 1) * cr : first + count;
        hsize_t offset = c * cr, nbytes = 0;
        uint32_t mask = 0;
        h5_guard g;
        h5_enter(&g);
        int got = H5Dget_chunk_storage_size(d->id, &offset, &nbytes) >= 0 && nbytes > 0;
        if (got && nbytes > cap) {
            unsigned char *grown = nbytes < ((hsize_t)1 << 31) ? realloc(raw, (size_t)nbytes) : NULL;
            if (grown) raw = buf->raw = grown, cap = buf->raw_cap = (size_t)nbytes;
            got = grown != NULL;
        }
        got = got && H5Dread_chunk(d->id, H5P_DEFAULT, &offset, &mask, raw) >= 0;
        if (!got) {
            /* through the library (a fill value, or its message) */
            double *one[MAX_COLUMNS] = {0};
            one[col0] = out + (lo - first);
            rc = read_dataset(t, k, col0, lo, hi - lo, one, why, why_size);
        }
        h5_leave(&g);
        if (!got) continue;
        const unsigned char *data = decode_chunk(d, raw, (size_t)nbytes, mask, a, b);
        if (!data) {
            snprintf(why, why_size,
                     "%s: rows %zu to %zu of dataset %s cannot be read (the file is damaged?): a chunk does not "
                     "decode",
                     t->file, lo, hi - 1, d->path);
            rc = -1;
            break;
        }
        const unsigned char *from = data + (lo - c * cr) * d->elsize;
        if (d->kind == 2 && d->elsize == 8 && !swap)
            memcpy(out + (lo - first), from, (hi - lo) * sizeof(double));
        else if (d->kind == 2 && d->elsize == 4 && !swap)
            for (size_t r = 0; r < hi - lo; r++) {
                float v;
                memcpy(&v, from + 4 * r, 4);
                out[lo - first + r] = v;
            }
        else
            for (size_t r = 0; r < hi - lo; r++) out[lo - first + r] = element(from + r * d->elsize, d, swap);
    }
    buffers_give(t, buf);
    return rc;
}
#endif

int h5_table_read(h5_table *t, size_t first, size_t count, double *const *cols, char *why, size_t why_size)
{
    if (count == 0) return 0;
    int rc = 0;
    for (int k = 0, c = 0; k < t->nds && rc == 0; c += (int)t->ds[k].width, k++) {
#ifdef NLSQ_HAVE_ZLIB
        if (t->ds[k].own_decode) {
            rc = read_chunks(t, &t->ds[k], k, c, first, count, cols, why, why_size);
            continue;
        }
#endif
        h5_guard g;
        h5_enter(&g);
        rc = read_dataset(t, k, c, first, count, cols, why, why_size);
        h5_leave(&g);
    }
    return rc;
}

int h5_table_parallel(const h5_table *t)
{
    for (int k = 0; k < t->nds; k++)
        if (t->ds[k].own_decode) return 1;
    return 0;
}

#endif
