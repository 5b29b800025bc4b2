/*
 * Writing HDF5 files (hdf5_write.h): the file appears whole or not at all
 * where it is new, and an appended group goes away again on a failure.
 *
 * A new file: HDF5 writes the temporary file that outfile_open makes
 * (core/outfile.c: the same names, registry, stale sweep, modes and
 * rename as every other output), committed at the end. An existing file
 * (append): looked at read-only first (a refusal leaves it untouched),
 * then opened for writing; the group's first missing component is
 * remembered, and deleted again on a failure.
 *
 * Every call runs under hdf5_lock (Debian's libhdf5 is not thread-safe)
 * with HDF5's automatic error printing off, restored before the lock is
 * let go; a failure becomes one message with HDF5's innermost reason (of
 * a system call, the system's words).
 */
#define _GNU_SOURCE /* memfd_create, vsnprintf */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "io/hdf5_write.h"

#ifndef NLSQ_HAVE_HDF5

struct h5w {
    int unused;
};

nlsq_status h5w_open(const char *path, const char *group, int mode, const char *const *inputs, size_t n_inputs,
                     h5w **out, nlsq_error *err)
{
    (void)group, (void)mode, (void)inputs, (void)n_inputs;
    *out = NULL;
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
              "%s: this nlsq was built without HDF5; install libhdf5-dev and rebuild to write HDF5 files",
              path ? path : "(null)");
    return NLSQ_ERR_INVALID_ARGUMENT;
}

/* Never reached without a writer: h5w_open gives none. */
nlsq_status h5w_close(h5w *w)
{
    (void)w;
    return NLSQ_ERR_INVALID_ARGUMENT;
}
int h5w_failed(const h5w *w)
{
    (void)w;
    return 1;
}
int h5w_fail(h5w *w, nlsq_status code, const char *fmt, ...)
{
    (void)w, (void)code, (void)fmt;
    return -1;
}
int h5w_group(h5w *w, const char *name)
{
    (void)w, (void)name;
    return -1;
}
int h5w_doubles(h5w *w, const char *name, const double *v, int rank, const size_t *dims)
{
    (void)w, (void)name, (void)v, (void)rank, (void)dims;
    return -1;
}
int h5w_double(h5w *w, const char *name, double v)
{
    (void)w, (void)name, (void)v;
    return -1;
}
int h5w_ints(h5w *w, const char *name, h5w_int_type type, const void *v, int rank, const size_t *dims)
{
    (void)w, (void)name, (void)type, (void)v, (void)rank, (void)dims;
    return -1;
}
int h5w_int(h5w *w, const char *name, long long v)
{
    (void)w, (void)name, (void)v;
    return -1;
}
int h5w_strings(h5w *w, const char *name, const char *const *v, size_t n)
{
    (void)w, (void)name, (void)v, (void)n;
    return -1;
}
int h5w_string(h5w *w, const char *name, const char *s)
{
    (void)w, (void)name, (void)s;
    return -1;
}
int h5w_attr_string(h5w *w, const char *obj, const char *name, const char *s)
{
    (void)w, (void)obj, (void)name, (void)s;
    return -1;
}
int h5w_attr_strings(h5w *w, const char *obj, const char *name, const char *const *v, size_t n)
{
    (void)w, (void)obj, (void)name, (void)v, (void)n;
    return -1;
}
int h5w_attr_double(h5w *w, const char *obj, const char *name, double v)
{
    (void)w, (void)obj, (void)name, (void)v;
    return -1;
}
int h5w_attr_int(h5w *w, const char *obj, const char *name, long long v)
{
    (void)w, (void)obj, (void)name, (void)v;
    return -1;
}
int h5w_column(h5w *w, const char *name, size_t rows)
{
    (void)w, (void)name, (void)rows;
    return -1;
}
int h5w_column_write(h5w *w, int slot, size_t first, size_t n, const double *v)
{
    (void)w, (void)slot, (void)first, (void)n, (void)v;
    return -1;
}

#else

#include <hdf5.h>

#include "io/hdf5_lock.h"

struct h5w {
    const char *shown;  /* the path as given, for messages             */
    hid_t file, group;  /* the open file and the result's group        */
    hid_t str;          /* a variable-length UTF-8 string type         */
    outfile out;        /* a new file: its temporary (out.tmp)         */
    int is_new;         /* written to out.tmp (else appended in place) */
    char created[1024]; /* appending: the first group made, deleted on
                             failure ("" when none was made)             */
    int failed;         /* a failure was recorded in err               */
    nlsq_error *err;
    hid_t columns[H5W_MAX_COLUMNS];
    char column_names[H5W_MAX_COLUMNS][64]; /* for messages */
    int ncolumns;
    H5E_auto2_t saved_fn; /* HDF5's error printing, while a call runs    */
    void *saved_data;
};

/* ---- the lock, and HDF5's error printing off while it is held ---------- */

static void enter(h5w *w)
{
    hdf5_lock();
    H5Eget_auto2(H5E_DEFAULT, &w->saved_fn, &w->saved_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void leave(h5w *w)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, w->saved_fn, w->saved_data);
    hdf5_unlock();
}

/* ---- errors ---------------------------------------------------------------- */

/* The innermost description HDF5 left on its error stack; of a system
   call's failure ("file write failed: time = ..., errno = 28, error
   message = 'No space left on device', ...") only the system's words. */
static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n != 0 || !e->desc) return 0;
    const char *sys = strstr(e->desc, "error message = '");
    if (sys) {
        sys += strlen("error message = '");
        const char *end = strchr(sys, '\'');
        snprintf((char *)data, 160, "%.*s", end ? (int)(end - sys) : 120, sys);
    } else {
        snprintf((char *)data, 160, "%s", e->desc);
    }
    return 0;
}

/* Records the first failure of an HDF5 call: "PATH: what NAME: reason". */
static int fail(h5w *w, const char *what, const char *name)
{
    if (w->failed) return -1;
    char why[160] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, why);
    H5Eclear2(H5E_DEFAULT);
    error_set(w->err, NLSQ_ERR_IO, 0, 0, "%s: %s%s%s%s%s", w->shown, what, name ? " " : "", name ? name : "",
              why[0] ? ": " : "", why);
    w->failed = 1;
    return -1;
}

int h5w_failed(const h5w *w)
{
    return w->failed;
}

int h5w_fail(h5w *w, nlsq_status code, const char *fmt, ...)
{
    if (w->failed) return -1;
    char msg[sizeof w->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_set(w->err, code, 0, 0, "%s: %s", w->shown, msg);
    w->failed = 1;
    return -1;
}

/* ---- datasets and attributes ------------------------------------------- */

static hid_t space_of(int rank, const size_t *dims)
{
    hsize_t d[8];
    if (rank == 0) return H5Screate(H5S_SCALAR);
    for (int k = 0; k < rank && k < 8; k++) d[k] = dims[k];
    return H5Screate_simple(rank, d, NULL);
}

/* A dataset of file type `type` and shape dims[rank] from buf (in `mem`). */
static int put(h5w *w, const char *name, hid_t type, hid_t mem, int rank, const size_t *dims, const void *buf)
{
    if (w->failed) return -1;
    enter(w);
    hid_t space = space_of(rank, dims);
    hid_t d = space < 0 ? -1 : H5Dcreate2(w->group, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int empty = 0;
    for (int k = 0; k < rank; k++) empty |= dims[k] == 0;
    int rc = d < 0 || (!empty && H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    if (space >= 0) H5Sclose(space);
    if (rc) fail(w, "cannot write the dataset", name);
    leave(w);
    return rc;
}

int h5w_doubles(h5w *w, const char *name, const double *v, int rank, const size_t *dims)
{
    return put(w, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank, dims, v);
}

int h5w_double(h5w *w, const char *name, double v)
{
    return h5w_doubles(w, name, &v, 0, NULL);
}

int h5w_ints(h5w *w, const char *name, h5w_int_type type, const void *v, int rank, const size_t *dims)
{
    if (w->failed) return -1;
    enter(w); /* the type identifiers are set when the library starts */
    hid_t file = type == H5W_I8  ? H5T_STD_I8LE
               : type == H5W_U8  ? H5T_STD_U8LE
               : type == H5W_I32 ? H5T_STD_I32LE
               : type == H5W_U32 ? H5T_STD_U32LE
                                 : H5T_STD_I64LE;
    hid_t mem = type == H5W_I8  ? H5T_NATIVE_SCHAR
              : type == H5W_U8  ? H5T_NATIVE_UCHAR
              : type == H5W_I32 ? H5T_NATIVE_INT
              : type == H5W_U32 ? H5T_NATIVE_UINT
                                : H5T_NATIVE_LLONG;
    leave(w);
    return put(w, name, file, mem, rank, dims, v);
}

int h5w_int(h5w *w, const char *name, long long v)
{
    return h5w_ints(w, name, H5W_I64, &v, 0, NULL);
}

int h5w_strings(h5w *w, const char *name, const char *const *v, size_t n)
{
    return put(w, name, w->str, w->str, 1, &n, v);
}

int h5w_string(h5w *w, const char *name, const char *s)
{
    return put(w, name, w->str, w->str, 0, NULL, &s);
}

int h5w_group(h5w *w, const char *name)
{
    if (w->failed) return -1;
    enter(w);
    hid_t g = H5Gcreate2(w->group, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        fail(w, "cannot make the group", name);
    else
        H5Gclose(g);
    leave(w);
    return g < 0 ? -1 : 0;
}

static int attr(h5w *w, const char *obj, const char *name, hid_t type, hid_t mem, int rank, size_t count,
                const void *buf)
{
    if (w->failed) return -1;
    enter(w);
    hid_t space = space_of(rank, &count);
    hid_t a = space < 0 ? -1
                        : H5Acreate_by_name(w->group, obj ? obj : ".", name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                                            H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, mem, buf) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    if (rc) fail(w, "cannot write the attribute", name);
    leave(w);
    return rc;
}

int h5w_attr_string(h5w *w, const char *obj, const char *name, const char *s)
{
    return attr(w, obj, name, w->str, w->str, 0, 0, &s);
}

int h5w_attr_strings(h5w *w, const char *obj, const char *name, const char *const *v, size_t n)
{
    return attr(w, obj, name, w->str, w->str, 1, n, v);
}

int h5w_attr_double(h5w *w, const char *obj, const char *name, double v)
{
    if (w->failed) return -1;
    enter(w);
    hid_t file = H5T_IEEE_F64LE, mem = H5T_NATIVE_DOUBLE;
    leave(w);
    return attr(w, obj, name, file, mem, 0, 0, &v);
}

int h5w_attr_int(h5w *w, const char *obj, const char *name, long long v)
{
    if (w->failed) return -1;
    enter(w);
    hid_t file = H5T_STD_I64LE, mem = H5T_NATIVE_LLONG;
    leave(w);
    return attr(w, obj, name, file, mem, 0, 0, &v);
}

/* ---- columns written in pieces --------------------------------------------- */

int h5w_column(h5w *w, const char *name, size_t rows)
{
    if (w->failed) return -1;
    if (w->ncolumns == H5W_MAX_COLUMNS) return h5w_fail(w, NLSQ_ERR_LIMIT, "more than %d columns", H5W_MAX_COLUMNS);
    enter(w);
    hid_t space = space_of(1, &rows);
    /* contiguous, allocated as written: the file grows with the rows */
    hid_t d = space < 0 ? -1 : H5Dcreate2(w->group, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    if (d < 0) fail(w, "cannot make the dataset", name);
    leave(w);
    if (d < 0) return -1;
    w->columns[w->ncolumns] = d;
    snprintf(w->column_names[w->ncolumns], sizeof w->column_names[0], "%s", name);
    return w->ncolumns++;
}

int h5w_column_write(h5w *w, int slot, size_t first, size_t n, const double *v)
{
    if (w->failed || slot < 0 || slot >= w->ncolumns) return -1;
    if (n == 0) return 0;
    enter(w);
    hsize_t start[1] = {first}, count[1] = {n};
    hid_t mem = H5Screate_simple(1, count, NULL);
    hid_t space = H5Dget_space(w->columns[slot]);
    if (mem < 0 || space < 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dwrite(w->columns[slot], H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, v) < 0)
        fail(w, "cannot write", w->column_names[slot]);
    if (space >= 0) H5Sclose(space);
    if (mem >= 0) H5Sclose(mem);
    leave(w);
    return w->failed ? -1 : 0;
}

/* ---- opening ------------------------------------------------------------------ */

/* The group path as HDF5 takes it: "/" for NULL or "", a leading '/'
   added, trailing ones dropped; -1 for an empty component ("a//b"). */
static int group_path(const char *group, char *out, size_t size)
{
    const char *g = group ? group : "/";
    while (*g == '/') g++;
    if ((size_t)snprintf(out, size, "/%s", g) >= size) return -1;
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') out[--len] = '\0';
    if (strstr(out, "//")) return -1;
    /* HDF5 has no parent or current group in a path: "." and ".." would
       be made as groups of that name, not what the user meant */
    for (const char *c = out + 1; *c;) {
        size_t n = strcspn(c, "/");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return -1;
        c += n + (c[n] == '/');
    }
    return 0;
}

/* Before anything is written: the path can take an HDF5 file. */
static nlsq_status check_path(const char *path, int mode, const char *const *inputs, size_t n_inputs, nlsq_error *err)
{
    char why[sizeof err->message];
    if (strcmp(path, "-") == 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0,
                  "-: an HDF5 file cannot be the standard output (it is written by seeking); name a file");
        return NLSQ_ERR_IO;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s: is not a regular file (an HDF5 file is written by seeking)", path);
        return NLSQ_ERR_IO;
    }
    if (outfile_check(path, inputs, inputs ? n_inputs : 0, why, sizeof why) != 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s", why);
        return NLSQ_ERR_IO;
    }
    if (mode == NLSQ_HDF5_CREATE && stat(path, &st) == 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s: exists; refusing to replace it (mode create)", path);
        return NLSQ_ERR_IO;
    }
    return NLSQ_OK;
}

static hid_t file_access(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    return fapl;
}

/* A new file: HDF5 writes outfile_open's temporary file. */
static int open_new(h5w *w, const char *path)
{
    char why[sizeof w->err->message];
    if (outfile_open(&w->out, path, why, sizeof why) != 0) {
        error_set(w->err, NLSQ_ERR_IO, 0, 0, "%s", why);
        w->failed = 1;
        return -1;
    }
    w->is_new = 1;
    if (w->out.kind != OUTFILE_REPLACE) { /* checked before; a race made it a pipe */
        outfile_discard(&w->out);
        w->is_new = 0;
        return h5w_fail(w, NLSQ_ERR_IO, "is not a regular file");
    }
    hid_t fapl = file_access();
    w->file = H5Fcreate(w->out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return w->file < 0 ? fail(w, "cannot create the HDF5 file", NULL) : 0;
}

/* The first component of gpath that does not exist yet into w->created;
   -1 with err set when the whole group exists. */
static int find_new_group(h5w *w, const char *gpath)
{
    char part[1024];
    const char *p = gpath;
    while (p) {
        const char *next = strchr(p + 1, '/');
        size_t len = next ? (size_t)(next - gpath) : strlen(gpath);
        snprintf(part, sizeof part, "%.*s", (int)len, gpath);
        htri_t there = strcmp(part, "/") == 0 ? 1 : H5Lexists(w->file, part, H5P_DEFAULT);
        if (there < 0) return fail(w, "cannot look for the group", part);
        if (!there) {
            snprintf(w->created, sizeof w->created, "%s", part);
            return 0;
        }
        /* a dataset on the way cannot hold the group (HDF5's own reason,
           "message type not found", would not say so) */
        H5G_info_t info;
        if (next && strcmp(part, "/") != 0 && H5Gget_info_by_name(w->file, part, &info, H5P_DEFAULT) < 0)
            return h5w_fail(w, NLSQ_ERR_IO, "%s is not a group, so it cannot hold the group %s", part, gpath);
        p = next;
    }
    return h5w_fail(w, NLSQ_ERR_IO, "the group %s exists already; appending writes into a new group (name another)",
                    gpath);
}

/* An existing file, to append to: looked at read-only first, so that a
   refusal leaves it untouched (opening for writing marks the superblock). */
static int open_existing(h5w *w, const char *path, const char *gpath)
{
#if H5_VERSION_GE(1, 12, 0)
    htri_t is_hdf5 = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is_hdf5 = H5Fis_hdf5(path);
#endif
    if (is_hdf5 <= 0) return h5w_fail(w, NLSQ_ERR_IO, "is not an HDF5 file; refusing to append to it");
    hid_t fapl = file_access();
    w->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    int rc = w->file < 0 ? fail(w, "cannot open the HDF5 file", NULL) : find_new_group(w, gpath);
    if (w->file >= 0) H5Fclose(w->file);
    w->file = rc ? -1 : H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (rc) return -1;
    return w->file < 0 ? fail(w, "cannot open the HDF5 file to append", NULL) : 0;
}

static int open_group(h5w *w, const char *gpath)
{
    if (strcmp(gpath, "/") == 0) {
        w->group = H5Gopen2(w->file, "/", H5P_DEFAULT);
    } else {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        w->group = H5Gcreate2(w->file, gpath, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        H5Pclose(lcpl);
    }
    return w->group < 0 ? fail(w, "cannot make the group", gpath) : 0;
}

nlsq_status h5w_open(const char *path, const char *group, int mode, const char *const *inputs, size_t n_inputs,
                     h5w **out, nlsq_error *err)
{
    *out = NULL;
    char gpath[1024];
    if (group_path(group, gpath, sizeof gpath) != 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "%s: the group name '%s' is empty between two '/', has a '.' or '..' part, or is too long", path,
                  group);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_status st = check_path(path, mode, inputs, n_inputs, err);
    if (st != NLSQ_OK) return st;
    h5w *w = calloc(1, sizeof *w);
    if (!w) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory writing %s", path);
        return NLSQ_ERR_NOMEM;
    }
    w->shown = path;
    w->file = w->group = w->str = -1;
    w->out.slot = -1;
    w->err = err;
    enter(w);
    struct stat sb;
    w->str = H5Tcopy(H5T_C_S1);
    if (w->str < 0 || H5Tset_size(w->str, H5T_VARIABLE) < 0 || H5Tset_cset(w->str, H5T_CSET_UTF8) < 0)
        fail(w, "cannot make a string type", NULL);
    else if ((mode == NLSQ_HDF5_APPEND && stat(path, &sb) == 0 ? open_existing(w, path, gpath) : open_new(w, path)) ==
             0)
        open_group(w, gpath);
    leave(w);
    if (w->failed) return h5w_close(w);
    *out = w;
    return NLSQ_OK;
}

/* ---- closing ------------------------------------------------------------------ */

/*
 * After a failure, HDF5's closing flush is pointed at an anonymous memory
 * file: HDF5 1.10's H5Fclose, when its flush fails (the disk that was full
 * still is), leaves a dangling identifier that crashes the library at the
 * process's exit. What it would write belongs to a temporary file that is
 * deleted anyway, or (appending) could not be written: the group's
 * deletion was flushed before, where it could be.
 */
static void discard_writes(hid_t file)
{
    hid_t fapl = H5Fget_access_plist(file);
    void *handle = NULL;
    int sink = memfd_create("nlsq-hdf5-discard", MFD_CLOEXEC);
    if (fapl >= 0 && sink >= 0 && H5Fget_vfd_handle(file, fapl, &handle) >= 0 && handle)
        dup2(sink, *(int *)handle); /* the sec2 driver's handle is its descriptor */
    if (sink >= 0) close(sink);
    if (fapl >= 0) H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
}

static void fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Whether the file opens (read-only) and holds no link `group`: what an
   append that could not write back its clean-up left. */
static int reopens_without(const char *path, const char *group)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int fine = f >= 0 && H5Lexists(f, group, H5P_DEFAULT) == 0;
    if (f >= 0) H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return fine;
}

static void append_message(h5w *w, const char *text)
{
    size_t used = strlen(w->err->message);
    snprintf(w->err->message + used, sizeof w->err->message - used, "%s", text);
}

nlsq_status h5w_close(h5w *w)
{
    enter(w);
    for (int k = 0; k < w->ncolumns; k++) H5Dclose(w->columns[k]);
    if (w->group >= 0) H5Gclose(w->group);
    if (w->failed && !w->is_new && w->file >= 0 && w->created[0] && H5Ldelete(w->file, w->created, H5P_DEFAULT) < 0)
        append_message(w, "; the partly written group could not be deleted");
    if (w->file >= 0 && !w->failed && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        fail(w, "cannot write the HDF5 file", NULL);
    /* appending: the deletion written back and the file closed as usual
       where that works (the close clears the superblock's "open for
       writing" mark); a new file's temporary is thrown away */
    int stuck = w->file >= 0 && w->failed && !w->is_new && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0;
    if (w->file >= 0 && w->failed && (w->is_new || stuck)) discard_writes(w->file);
    if (w->file >= 0 && H5Fclose(w->file) < 0 && !w->failed) fail(w, "cannot close the HDF5 file", NULL);
    if (stuck)
        append_message(w, reopens_without(w->shown, w->created)
                              ? "; the file, read again, opens without the group"
                              : "; HDF5 could not write back the group's deletion: check the file (h5dump)");
    if (w->str >= 0) H5Tclose(w->str);
    leave(w);
    if (w->is_new) {
        char why[sizeof w->err->message];
        if (w->failed) {
            outfile_discard(&w->out);
        } else if (outfile_commit(&w->out, why, sizeof why) != 0) {
            error_set(w->err, NLSQ_ERR_IO, 0, 0, "%s", why);
            w->failed = 1;
        }
    } else if (!w->failed && w->file >= 0) {
        fsync_path(w->shown);
    }
    nlsq_status st = w->failed ? w->err->code : NLSQ_OK;
    free(w);
    return st;
}

#endif /* NLSQ_HAVE_HDF5 */
