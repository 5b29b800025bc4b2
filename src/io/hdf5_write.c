/*
 * Results into HDF5 (include/nlsq.h, "Results into HDF5"): a fit's result,
 * or a batch's table, as datasets and attributes of one group.
 *
 * The file appears whole or not at all where it is new: HDF5 writes a
 * temporary file made by outfile_open (core/outfile.c: the same names,
 * registry, stale sweep, modes and rename as every other output), which
 * is then committed. Appending writes in place into a group that did not
 * exist, deleted again on a failure.
 *
 * Every HDF5 call runs under hdf5_lock (Debian's libhdf5 is not
 * thread-safe), with HDF5's automatic error printing switched off and
 * restored afterwards; a failure becomes one message, with the innermost
 * reason HDF5 gives. The lock is released while a source is read and the
 * model evaluated (an HDF5 source takes the lock itself).
 */
#define _GNU_SOURCE /* memfd_create; gmtime_r, fsync */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "fit/source.h"
#include "nlsq.h"

nlsq_hdf5_write_options nlsq_hdf5_write_options_default(void)
{
    nlsq_hdf5_write_options o;
    memset(&o, 0, sizeof o);
    o.mode = NLSQ_HDF5_REPLACE;
    o.sigma_kind = -1;
    o.level = 0.95;
    return o;
}

#ifndef NLSQ_HAVE_HDF5

static nlsq_status not_built(const char *path, nlsq_error *err)
{
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
              "%s: this nlsq was built without HDF5; install libhdf5-dev and rebuild to write HDF5 files",
              path ? path : "(null)");
    return NLSQ_ERR_INVALID_ARGUMENT;
}

nlsq_status nlsq_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                   const nlsq_result *result, const nlsq_hdf5_write_options *opt, nlsq_error *err)
{
    (void)group, (void)model, (void)result, (void)opt;
    return not_built(path, err);
}

nlsq_status nlsq_batch_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                         const nlsq_batch_result *result, const nlsq_batch *batch, const double *ids,
                                         const char *const *names, const nlsq_hdf5_write_options *opt,
                                         nlsq_error *err)
{
    (void)group, (void)model, (void)result, (void)batch, (void)ids, (void)names, (void)opt;
    return not_built(path, err);
}

#else

#include <hdf5.h>

#include "io/hdf5_lock.h"

/* Rows of predictions computed and written at a time. */
#define PRED_WINDOW 65536

/* ---- the writer's state and its errors ----------------------------------- */

typedef struct h5w {
    const char *shown;   /* the path as given, for messages             */
    hid_t file, group;   /* the open file and the result's group        */
    hid_t str;           /* a variable-length UTF-8 string type         */
    outfile out;         /* a new file: its temporary (out.tmp)         */
    int is_new;          /* written to out.tmp (else appended in place) */
    char created[1024];  /* appending: the first group made, deleted on
                            failure ("" when none was made)             */
    int failed;          /* a failure was recorded in err               */
    nlsq_error *err;
    H5E_auto2_t saved_fn; /* HDF5's error printing, restored at the end */
    void *saved_data;
} h5w;

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

/* Records the first failure: "PATH: what: HDF5's reason". */
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

/* ---- datasets and attributes ------------------------------------------- */

/* A dataset of `type` and shape dims[rank] (rank 0: a scalar) from buf. */
static int put(h5w *w, hid_t loc, const char *name, hid_t type, hid_t mem, int rank, const hsize_t *dims,
               const void *buf)
{
    if (w->failed) return -1;
    hid_t space = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = space < 0 ? -1 : H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int empty = 0;
    for (int k = 0; k < rank; k++) empty |= dims[k] == 0;
    int rc = d < 0 || (!empty && H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    if (space >= 0) H5Sclose(space);
    return rc ? fail(w, "cannot write the dataset", name) : 0;
}

static int put_doubles(h5w *w, hid_t loc, const char *name, const double *v, int rank, const hsize_t *dims)
{
    return put(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank, dims, v);
}

static int put_double(h5w *w, hid_t loc, const char *name, double v)
{
    return put_doubles(w, loc, name, &v, 0, NULL);
}

static int put_int(h5w *w, hid_t loc, const char *name, long long v)
{
    return put(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, 0, NULL, &v);
}

static int put_vector(h5w *w, hid_t loc, const char *name, const double *v, size_t n)
{
    hsize_t dims[1] = {n};
    return put_doubles(w, loc, name, v, 1, dims);
}

static int put_strings(h5w *w, hid_t loc, const char *name, const char *const *v, size_t n)
{
    hsize_t dims[1] = {n};
    return put(w, loc, name, w->str, w->str, 1, dims, v);
}

static int put_string(h5w *w, hid_t loc, const char *name, const char *s)
{
    return put(w, loc, name, w->str, w->str, 0, NULL, &s);
}

static int attr(h5w *w, hid_t loc, const char *name, hid_t type, hid_t mem, hsize_t count, const void *buf)
{
    if (w->failed) return -1;
    hsize_t dims[1] = {count};
    hid_t space = count ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1 : H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, mem, buf) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    return rc ? fail(w, "cannot write the attribute", name) : 0;
}

static int attr_string(h5w *w, hid_t loc, const char *name, const char *s)
{
    return attr(w, loc, name, w->str, w->str, 0, &s);
}

static int attr_double(h5w *w, hid_t loc, const char *name, double v)
{
    return attr(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v);
}

static int attr_int(h5w *w, hid_t loc, const char *name, long long v)
{
    return attr(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, 0, &v);
}

static hid_t subgroup(h5w *w, const char *name)
{
    if (w->failed) return -1;
    hid_t g = H5Gcreate2(w->group, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) fail(w, "cannot make the group", name);
    return g;
}

/* ---- opening and closing ------------------------------------------------ */

/* The group path as HDF5 takes it: "/" for NULL or "", a leading '/'
   added, trailing ones dropped; NULL for an empty component ("a//b"). */
static int group_path(const char *group, char *out, size_t size)
{
    const char *g = group ? group : "/";
    while (*g == '/') g++;
    if ((size_t)snprintf(out, size, "/%s", g) >= size) return -1;
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') out[--len] = '\0';
    return strstr(out, "//") ? -1 : 0;
}

/* Whether the file is one of the inputs or one the source reads. */
static int is_input(const struct stat *st, const nlsq_hdf5_write_options *o, const char **which)
{
    for (size_t i = 0; o->inputs && i < o->n_inputs; i++) {
        struct stat in;
        if (o->inputs[i] && stat(o->inputs[i], &in) == 0 && in.st_dev == st->st_dev && in.st_ino == st->st_ino) {
            *which = o->inputs[i];
            return 1;
        }
    }
    *which = "the fit's data";
    return o->source && source_reads_file(o->source, st);
}

/* Before anything is written: the path can take an HDF5 file. */
static nlsq_status check_path(const char *path, const nlsq_hdf5_write_options *o, nlsq_error *err)
{
    char why[sizeof err->message];
    if (strcmp(path, "-") == 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "-: an HDF5 file cannot be the standard output (it is written by seeking); "
                                          "name a file");
        return NLSQ_ERR_IO;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        const char *which;
        if (is_input(&st, o, &which)) {
            error_set(err, NLSQ_ERR_IO, 0, 0, "%s: is the input %s; refusing to overwrite it", path, which);
            return NLSQ_ERR_IO;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
            error_set(err, NLSQ_ERR_IO, 0, 0, "%s: is not a regular file (an HDF5 file is written by seeking)", path);
            return NLSQ_ERR_IO;
        }
        if (o->mode == NLSQ_HDF5_CREATE && S_ISREG(st.st_mode)) {
            error_set(err, NLSQ_ERR_IO, 0, 0, "%s: exists; refusing to replace it (mode create)", path);
            return NLSQ_ERR_IO;
        }
    }
    if (outfile_check(path, o->inputs, o->inputs ? o->n_inputs : 0, why, sizeof why) != 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s", why);
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
        error_set(w->err, NLSQ_ERR_IO, 0, 0, "%s: is not a regular file", path);
        w->failed = 1;
        return -1;
    }
    hid_t fapl = file_access();
    w->file = H5Fcreate(w->out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return w->file < 0 ? fail(w, "cannot create the HDF5 file", NULL) : 0;
}

static int find_new_group(h5w *w, const char *gpath);

/* An existing file, to append to: the group's first missing component is
   remembered so that a failure can delete what was made. */
static int open_existing(h5w *w, const char *path, const char *gpath)
{
#if H5_VERSION_GE(1, 12, 0)
    htri_t is_hdf5 = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is_hdf5 = H5Fis_hdf5(path);
#endif
    if (is_hdf5 <= 0) {
        H5Eclear2(H5E_DEFAULT);
        error_set(w->err, NLSQ_ERR_IO, 0, 0, "%s: is not an HDF5 file; refusing to append to it", path);
        w->failed = 1;
        return -1;
    }
    /* looked at read-only first: a refusal leaves the file untouched
       (opening for writing marks the superblock) */
    hid_t fapl = file_access();
    w->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    int rc = w->file < 0 ? fail(w, "cannot open the HDF5 file", NULL) : find_new_group(w, gpath);
    if (w->file >= 0) H5Fclose(w->file);
    w->file = rc ? -1 : H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (rc) return -1;
    return w->file < 0 ? fail(w, "cannot open the HDF5 file to append", NULL) : 0;
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
        if (!next) break;
        p = next;
    }
    error_set(w->err, NLSQ_ERR_IO, 0, 0,
              "%s: the group %s exists already; appending writes into a new group (name another)", w->shown, gpath);
    w->failed = 1;
    return -1;
}

/* The file and the group; 0, or -1 with err set. Called under the lock. */
static int writer_open(h5w *w, const char *path, const char *gpath, const nlsq_hdf5_write_options *o)
{
    H5Eget_auto2(H5E_DEFAULT, &w->saved_fn, &w->saved_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    w->str = H5Tcopy(H5T_C_S1);
    if (w->str < 0 || H5Tset_size(w->str, H5T_VARIABLE) < 0 || H5Tset_cset(w->str, H5T_CSET_UTF8) < 0)
        return fail(w, "cannot make a string type", NULL);
    struct stat st;
    int append = o->mode == NLSQ_HDF5_APPEND && stat(path, &st) == 0;
    if ((append ? open_existing(w, path, gpath) : open_new(w, path)) != 0) return -1;
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

static void fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

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

/* Closes everything; a new file is committed (renamed into place) or
   discarded, an appended group deleted after a failure. Restores HDF5's
   error printing. Called under the lock. */
static nlsq_status writer_close(h5w *w, const char *path)
{
    if (w->group >= 0) H5Gclose(w->group);
    if (w->failed && !w->is_new && w->file >= 0 && w->created[0]) {
        if (H5Ldelete(w->file, w->created, H5P_DEFAULT) < 0) {
            size_t used = strlen(w->err->message);
            snprintf(w->err->message + used, sizeof w->err->message - used,
                     "; the partly written group %s could not be deleted", w->created);
        }
    }
    if (w->file >= 0 && !w->failed && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        fail(w, "cannot write the HDF5 file", NULL);
    /* appending: the deletion is written back, and the file closed as
       usual where that works (the close also clears the superblock's
       "open for writing" mark); a new file's temporary is thrown away */
    int stuck = w->file >= 0 && w->failed && !w->is_new && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0;
    if (stuck) {
        size_t used = strlen(w->err->message);
        snprintf(w->err->message + used, sizeof w->err->message - used,
                 "; HDF5 could not write back the group's deletion either: check the file (h5dump, h5clear)");
    }
    if (w->file >= 0 && w->failed && (w->is_new || stuck)) discard_writes(w->file);
    if (w->file >= 0 && H5Fclose(w->file) < 0 && !w->failed) fail(w, "cannot close the HDF5 file", NULL);
    if (w->str >= 0) H5Tclose(w->str);
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, w->saved_fn, w->saved_data);
    if (w->is_new) {
        char why[sizeof w->err->message];
        if (w->failed)
            outfile_discard(&w->out);
        else if (outfile_commit(&w->out, why, sizeof why) != 0) {
            error_set(w->err, NLSQ_ERR_IO, 0, 0, "%s", why);
            w->failed = 1;
        }
    } else if (!w->failed && w->file >= 0) {
        fsync_path(path);
    }
    return w->failed ? w->err->code : NLSQ_OK;
}

/* ---- the attributes every result has --------------------------------------- */

static const char *loss_name(nlsq_loss l)
{
    static const char *names[] = {"linear", "soft_l1", "huber", "cauchy", "arctan"};
    return (int)l >= 0 && l <= NLSQ_LOSS_ARCTAN ? names[l] : "unknown";
}

static const char *method_name(nlsq_method m)
{
    static const char *names[] = {"auto", "trf", "lm", "dogbox"};
    return (int)m >= 0 && m <= NLSQ_DOGBOX ? names[m] : "unknown";
}

static const char *sigma_name(int kind)
{
    static const char *names[] = {"none", "scalar", "per_point", "covariance"};
    return kind >= 0 && kind <= NLSQ_SIGMA_COVARIANCE ? names[kind] : "unknown";
}

static const char *nan_policy_name(nlsq_nan_policy p)
{
    static const char *names[] = {"raise", "omit", "ignore"};
    return (int)p >= 0 && p <= NLSQ_NAN_IGNORE ? names[p] : "unknown";
}

/* How the points were weighted: as told, else from the columns or data. */
static int sigma_kind(const nlsq_hdf5_write_options *o)
{
    if (o->sigma_kind >= 0) return o->sigma_kind;
    if (o->data) return (int)o->data->sigma_kind;
    if (o->source) {
        nlsq_columns c = o->columns ? *o->columns : nlsq_columns_default();
        return c.sigma >= 0 ? NLSQ_SIGMA_PER_POINT : c.sigma_value > 0 ? NLSQ_SIGMA_SCALAR : NLSQ_SIGMA_NONE;
    }
    return -1;
}

/* "model": the given text, else the model formatted. */
static int attr_model(h5w *w, const nlsq_model *model, const nlsq_hdf5_write_options *o)
{
    if (o->model_text) return attr_string(w, w->group, "model", o->model_text);
    size_t len = nlsq_model_format(model, -1, NULL, 0);
    char *text = malloc(len + 1);
    if (!text) {
        error_set(w->err, NLSQ_ERR_NOMEM, 0, 0, "out of memory writing %s", w->shown);
        w->failed = 1;
        return -1;
    }
    nlsq_model_format(model, -1, text, len + 1);
    int rc = attr_string(w, w->group, "model", text);
    free(text);
    return rc;
}

static int attrs_common(h5w *w, const nlsq_model *model, nlsq_method method, int absolute_sigma,
                        const nlsq_hdf5_write_options *o, const char *kind)
{
    char created[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    attr_int(w, w->group, kind, 1);
    attr_model(w, model, o);
    attr_string(w, w->group, "nlsq_version", nlsq_version());
    attr_string(w, w->group, "created", created);
    attr_string(w, w->group, "method", method_name(method));
    attr_int(w, w->group, "absolute_sigma", absolute_sigma != 0);
    attr_string(w, w->group, "sigma", sigma_name(sigma_kind(o)));
    if (o->data_name) attr_string(w, w->group, "data", o->data_name);
    if (o->fit) {
        const nlsq_options *f = o->fit;
        attr_string(w, w->group, "loss", loss_name(f->loss));
        attr_double(w, w->group, "f_scale", f->f_scale);
        /* the tolerances in effect (negative asks for the defaults) */
        attr_double(w, w->group, "ftol", f->ftol >= 0 ? f->ftol : NLSQ_DEFAULT_FTOL);
        attr_double(w, w->group, "xtol", f->xtol >= 0 ? f->xtol : NLSQ_DEFAULT_XTOL);
        attr_double(w, w->group, "gtol", f->gtol >= 0 ? f->gtol : method == NLSQ_LM ? 0 : NLSQ_DEFAULT_GTOL);
        attr_int(w, w->group, "max_nfev", f->max_nfev);
        attr_string(w, w->group, "nan_policy", nan_policy_name(f->nan_policy));
    }
    return w->failed ? -1 : 0;
}

/* lower, upper, p0 and fixed from the fit's options, where given. */
static int put_fit_arrays(h5w *w, int n, const nlsq_hdf5_write_options *o)
{
    const nlsq_options *f = o->fit;
    if (!f) return 0;
    if (f->lower) put_vector(w, w->group, "lower", f->lower, (size_t)n);
    if (f->upper) put_vector(w, w->group, "upper", f->upper, (size_t)n);
    if (f->p0) put_vector(w, w->group, "p0", f->p0, (size_t)n);
    hsize_t dims[1] = {(hsize_t)n};
    if (f->fixed) put(w, w->group, "fixed", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, dims, f->fixed);
    return w->failed ? -1 : 0;
}

/* ---- one fit's result --------------------------------------------------------- */

static int put_names(h5w *w, const nlsq_model *model, int n)
{
    const char **names = malloc((n > 0 ? (size_t)n : 1) * sizeof *names);
    if (!names) {
        error_set(w->err, NLSQ_ERR_NOMEM, 0, 0, "out of memory writing %s", w->shown);
        return w->failed = 1, -1;
    }
    for (int j = 0; j < n; j++) names[j] = nlsq_model_param_name(model, j);
    int rc = put_strings(w, w->group, "names", names, (size_t)n);
    free(names);
    return rc;
}

/* The correlation matrix as the report computes it (NaN without pcov). */
static void correlation_matrix(const nlsq_result *r, double *c)
{
    int n = r->n;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double va = r->pcov[a * n + a], vb = r->pcov[b * n + b];
            c[a * n + b] = !r->pcov_valid ? NAN : va > 0 && vb > 0 ? r->pcov[a * n + b] / sqrt(va * vb) : 0;
        }
}

/* Intervals at o->level (none for 0, or when the fit has no quantile). */
static int put_intervals(h5w *w, const nlsq_result *r, double level)
{
    if (!(level > 0 && level < 1)) return 0;
    double *lo = malloc(2 * (size_t)r->n * sizeof *lo);
    if (!lo) {
        error_set(w->err, NLSQ_ERR_NOMEM, 0, 0, "out of memory writing %s", w->shown);
        return w->failed = 1, -1;
    }
    nlsq_error e;
    if (nlsq_result_intervals(r, level, lo, lo + r->n, &e) == NLSQ_OK) {
        put_vector(w, w->group, "interval_lower", lo, (size_t)r->n);
        put_vector(w, w->group, "interval_upper", lo + r->n, (size_t)r->n);
        attr_double(w, w->group, "level", level);
    }
    free(lo);
    return w->failed ? -1 : 0;
}

/* The warnings of the text report, in its words. */
static int put_warnings(h5w *w, const nlsq_result *r)
{
    char not_conv[300];
    const char *list[3];
    size_t k = 0;
    int high = 0;
    for (int a = 0; r->pcov_valid && a < r->n; a++)
        for (int b = a + 1; b < r->n; b++) {
            double va = r->pcov[a * r->n + a], vb = r->pcov[b * r->n + b];
            high |= va > 0 && vb > 0 && fabs(r->pcov[a * r->n + b] / sqrt(va * vb)) > 0.99;
        }
    if (!r->success) {
        snprintf(not_conv, sizeof not_conv, "the fit did not converge (%s)", r->message);
        list[k++] = not_conv;
    }
    if (!r->pcov_valid) list[k++] = "the covariance of the parameters could not be estimated";
    if (high) list[k++] = "a correlation above 0.99: the model may have more parameters than the data can determine";
    return put_strings(w, w->group, "warnings", list, k);
}

static const char *const finding_keys[] = {"not_converged",  "no_influence",   "not_moved",
                                           "rank_deficient", "no_explanation", "ill_conditioned",
                                           "correlated",     "at_bound",       "residual_structure"};
enum { NFINDINGS = sizeof finding_keys / sizeof finding_keys[0] };

static int put_diagnostics(h5w *w, const nlsq_result *r)
{
    const nlsq_diagnostics *d = &r->diag;
    hid_t g = subgroup(w, "diagnostics");
    if (g < 0) return -1;
    const char *keys[NFINDINGS];
    const char *sentences[NFINDINGS];
    size_t k = 0;
    for (unsigned b = 0; b < NFINDINGS; b++)
        if (d->flags & (1u << b)) {
            sentences[k] = nlsq_diagnostic_str((nlsq_diagnostic)(1u << b));
            keys[k++] = finding_keys[b];
        }
    put_int(w, g, "trusted", d->trusted);
    put_int(w, g, "flags", d->flags);
    put_strings(w, g, "findings", keys, k);
    put_strings(w, g, "finding_messages", sentences, k);
    put_int(w, g, "rank", d->rank);
    put_double(w, g, "cond", d->cond);
    put_vector(w, g, "influence", d->influence, (size_t)r->n);
    hsize_t dims[2] = {(hsize_t)r->n, 2};
    put(w, g, "param_flags", H5T_STD_U32LE, H5T_NATIVE_UINT, 1, dims, d->param_flags);
    dims[0] = (hsize_t)d->n_correlated; /* pairs: k x 2 */
    put(w, g, "correlated", H5T_STD_I32LE, H5T_NATIVE_INT, 2, dims, d->correlated);
    put_vector(w, g, "correlated_value", d->correlation, (size_t)d->n_correlated);
    put_int(w, g, "residuals_tested", d->residuals_tested);
    put_int(w, g, "runs", (long long)d->runs);
    put_int(w, g, "n_pos", (long long)d->n_pos);
    put_int(w, g, "n_neg", (long long)d->n_neg);
    put_double(w, g, "runs_z", d->runs_z);
    put_double(w, g, "lag1", d->lag1);
    H5Gclose(g);
    return w->failed ? -1 : 0;
}

static int put_result(h5w *w, const nlsq_model *model, const nlsq_result *r, const nlsq_hdf5_write_options *o)
{
    int n = r->n;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)n};
    double *corr = malloc((n > 0 ? (size_t)n * (size_t)n : 1) * sizeof *corr);
    if (!corr) {
        error_set(w->err, NLSQ_ERR_NOMEM, 0, 0, "out of memory writing %s", w->shown);
        return w->failed = 1, -1;
    }
    correlation_matrix(r, corr);
    attrs_common(w, model, r->method, r->absolute_sigma, o, "nlsq_result");
    put_names(w, model, n);
    put_vector(w, w->group, "popt", r->popt, (size_t)n);
    put_vector(w, w->group, "perr", r->perr, (size_t)n);
    put_doubles(w, w->group, "pcov", r->pcov, 2, dims);
    put_doubles(w, w->group, "correlation", corr, 2, dims);
    free(corr);
    put(w, w->group, "active_mask", H5T_STD_I8LE, H5T_NATIVE_SCHAR, 1, dims, r->active_mask);
    put_intervals(w, r, o->level);
    put_fit_arrays(w, n, o);
    struct {
        const char *name;
        double v;
    } nums[] = {{"cost", r->cost}, {"chi2", r->chi2}, {"redchi", r->redchi},        {"r2", r->r2},
                {"aic", r->aic},   {"bic", r->bic},   {"grad_norm", r->grad_norm}};
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) put_double(w, w->group, nums[k].name, nums[k].v);
    struct {
        const char *name;
        long long v;
    } ints[] = {{"n", n},
                {"n_free", r->n_free},
                {"m", (long long)r->m},
                {"dof", r->dof},
                {"nfev", r->nfev},
                {"njev", r->njev},
                {"nit", r->nit},
                {"status", r->status},
                {"success", r->success},
                {"pcov_valid", r->pcov_valid},
                {"pcov_rank", r->pcov_rank},
                {"passes", r->passes},
                {"jit_passes", r->jit_passes},
                {"threads", r->threads}};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) put_int(w, w->group, ints[k].name, ints[k].v);
    put_string(w, w->group, "message", r->message);
    put_string(w, w->group, "method", method_name(r->method));
    put_string(w, w->group, "backend", r->backend);
    put_string(w, w->group, "device", r->device);
    put_warnings(w, r);
    put_diagnostics(w, r);
    return w->failed ? -1 : 0;
}

/* ---- predictions, window by window ---------------------------------------------- */

typedef struct pred_plan {
    int k;                /* variables                                  */
    size_t rows;
    int xc[64], yc, sc;   /* a source's columns; sc -1: no sigma        */
    const nlsq_data *data; /* or the data in memory                     */
    nlsq_source *src;
    hid_t sets[64 + 4];   /* x..., y, fit, residual, sigma              */
    int nsets;
} pred_plan;

/* Which columns the predictions read; 0, or -1 with err set. */
static int plan_predictions(h5w *w, const nlsq_model *model, const nlsq_hdf5_write_options *o, pred_plan *p)
{
    memset(p, 0, sizeof *p);
    p->k = nlsq_model_num_vars(model);
    if (p->k > 64) {
        error_set(w->err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: predictions of more than 64 variables", w->shown);
        return w->failed = 1, -1;
    }
    if (o->data) {
        p->data = o->data;
        p->rows = o->data->m;
        p->sc = o->data->sigma_kind == NLSQ_SIGMA_PER_POINT && o->data->sigma ? 0 : -1;
        return 0;
    }
    if (!o->source) {
        error_set(w->err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "%s: predictions need the fit's data (options source and columns, or data)", w->shown);
        return w->failed = 1, -1;
    }
    nlsq_columns c = o->columns ? *o->columns : nlsq_columns_default();
    int ncols = nlsq_source_num_columns(o->source);
    for (int v = 0; v < p->k; v++) p->xc[v] = c.x ? c.x[v] : v;
    p->yc = c.y >= 0 ? c.y : (p->k ? p->xc[p->k - 1] + 1 : 0);
    p->sc = c.sigma;
    for (int v = 0; v <= p->k; v++) {
        int col = v < p->k ? p->xc[v] : p->yc;
        if (col < 0 || col >= ncols) {
            error_set(w->err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: predictions: column %d is not in the data (%d columns)",
                      w->shown, col, ncols);
            return w->failed = 1, -1;
        }
    }
    p->src = o->source;
    p->rows = nlsq_source_num_rows(o->source);
    return 0;
}

/* The datasets, made at their full length (contiguous, allocated as
   written); called under the lock. */
static int create_prediction_sets(h5w *w, const nlsq_model *model, const pred_plan *p0, pred_plan *p, hid_t g)
{
    (void)p0;
    hsize_t dims[1] = {p->rows};
    hid_t space = H5Screate_simple(1, dims, NULL);
    if (space < 0) return fail(w, "cannot make a dataspace", NULL);
    char name[32];
    int total = p->k + 3 + (p->sc >= 0);
    for (int s = 0; s < total; s++) {
        if (s < p->k && p->k == 1)
            snprintf(name, sizeof name, "x");
        else if (s < p->k)
            snprintf(name, sizeof name, "x%d", s);
        else
            snprintf(name, sizeof name, "%s", (const char *[]){"y", "fit", "residual", "sigma"}[s - p->k]);
        p->sets[s] = H5Dcreate2(g, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (p->sets[s] < 0) {
            H5Sclose(space);
            return fail(w, "cannot make the dataset predictions/", name);
        }
        p->nsets = s + 1;
        if (s < p->k) attr_string(w, p->sets[s], "variable", nlsq_model_var_name(model, s));
    }
    H5Sclose(space);
    return w->failed ? -1 : 0;
}

/* Rows [first, first+n) of the inputs into buf (x rows, y, sigma). */
static int read_window(h5w *w, const pred_plan *p, size_t first, size_t n, double *x, double *y, double *sig)
{
    nlsq_error e;
    if (p->data) {
        for (int v = 0; v < p->k; v++) memcpy(x + (size_t)v * n, p->data->x + (size_t)v * p->rows + first, n * sizeof *x);
        memcpy(y, p->data->y + first, n * sizeof *y);
        if (sig) memcpy(sig, p->data->sigma + first, n * sizeof *sig);
        return 0;
    }
    int bad = nlsq_source_read(p->src, p->yc, first, n, y, &e) != NLSQ_OK;
    for (int v = 0; v < p->k && !bad; v++) bad = nlsq_source_read(p->src, p->xc[v], first, n, x + (size_t)v * n, &e) != NLSQ_OK;
    if (!bad && sig) bad = nlsq_source_read(p->src, p->sc, first, n, sig, &e) != NLSQ_OK;
    if (bad) {
        error_set(w->err, e.code, 0, 0, "%s: predictions: %s", w->shown, e.message);
        return w->failed = 1, -1;
    }
    return 0;
}

static int write_window(h5w *w, const pred_plan *p, size_t first, size_t n, const double *const *bufs)
{
    hsize_t start[1] = {first}, count[1] = {n};
    hid_t mem = H5Screate_simple(1, count, NULL);
    for (int s = 0; s < p->nsets && !w->failed; s++) {
        hid_t space = H5Dget_space(p->sets[s]);
        if (space < 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(p->sets[s], H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, bufs[s]) < 0)
            fail(w, "cannot write the predictions", NULL);
        if (space >= 0) H5Sclose(space);
    }
    H5Sclose(mem);
    return w->failed ? -1 : 0;
}

/* The predictions group; entered and left under the lock, which is let go
   while the data are read and the model evaluated. */
static int put_predictions(h5w *w, const nlsq_model *model, const nlsq_result *r, const nlsq_hdf5_write_options *o)
{
    pred_plan p;
    if (plan_predictions(w, model, o, &p) != 0) return -1;
    hid_t g = subgroup(w, "predictions");
    if (g < 0) return -1;
    int rc = create_prediction_sets(w, model, &p, &p, g);
    size_t win = p.rows < PRED_WINDOW ? (p.rows ? p.rows : 1) : PRED_WINDOW;
    size_t per_row = (size_t)(p.k > 0 ? p.k : 0) + 4;
    double *buf = rc ? NULL : malloc(win * per_row * sizeof *buf);
    if (!rc && !buf) {
        error_set(w->err, NLSQ_ERR_NOMEM, 0, 0, "out of memory writing %s", w->shown);
        w->failed = 1, rc = -1;
    }
    for (size_t first = 0; !rc && first < p.rows; first += win) {
        size_t n = p.rows - first < win ? p.rows - first : win;
        double *x = buf, *y = buf + (size_t)p.k * n, *f = y + n, *res = f + n, *sig = p.sc >= 0 ? res + n : NULL;
        nlsq_error e;
        hdf5_unlock();
        rc = read_window(w, &p, first, n, x, y, sig);
        if (!rc && nlsq_model_eval(model, r->popt, x, n, f, NULL, &e) != NLSQ_OK) {
            error_set(w->err, e.code, 0, 0, "%s: predictions: %s", w->shown, e.message);
            w->failed = 1, rc = -1;
        }
        for (size_t i = 0; !rc && i < n; i++) res[i] = y[i] - f[i];
        hdf5_lock();
        const double *bufs[64 + 4];
        for (int v = 0; v < p.k; v++) bufs[v] = x + (size_t)v * n;
        bufs[p.k] = y, bufs[p.k + 1] = f, bufs[p.k + 2] = res, bufs[p.k + 3] = sig;
        if (!rc) rc = write_window(w, &p, first, n, bufs);
    }
    free(buf);
    for (int s = 0; s < p.nsets; s++) H5Dclose(p.sets[s]);
    H5Gclose(g);
    return rc;
}

/* ---- the public calls -------------------------------------------------------------- */

/* Arguments, the group's path and the target; NLSQ_OK or the error. */
static nlsq_status begin(const char *path, const char *group, const void *model, const void *result,
                         const nlsq_hdf5_write_options *o, char *gpath, size_t gsize, nlsq_error *err)
{
    if (!path || !model || !result) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "writing HDF5: path, model or result is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if ((int)o->mode < NLSQ_HDF5_REPLACE || o->mode > NLSQ_HDF5_APPEND) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: unknown mode %d", path, (int)o->mode);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (group_path(group, gpath, gsize) != 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the group name '%s' is empty between two '/' or too long",
                  path, group);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return check_path(path, o, err);
}

static void writer_init(h5w *w, const char *path, nlsq_error *err)
{
    memset(w, 0, sizeof *w);
    w->shown = path;
    w->file = w->group = w->str = -1;
    w->out.slot = -1;
    w->err = err;
}

nlsq_status nlsq_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                   const nlsq_result *result, const nlsq_hdf5_write_options *opt, nlsq_error *err)
{
    nlsq_error local;
    if (!err) err = &local;
    nlsq_hdf5_write_options o = opt ? *opt : nlsq_hdf5_write_options_default();
    char gpath[1024];
    nlsq_status st = begin(path, group, model, result, &o, gpath, sizeof gpath, err);
    if (st != NLSQ_OK) return st;
    if (o.predictions && !o.data && !o.source) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "%s: predictions need the fit's data (options source and columns, or data)", path);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    h5w w;
    writer_init(&w, path, err);
    hdf5_lock();
    if (writer_open(&w, path, gpath, &o) == 0 && put_result(&w, model, result, &o) == 0 && o.predictions)
        put_predictions(&w, model, result, &o);
    st = writer_close(&w, path);
    hdf5_unlock();
    return st;
}

/* ---- a batch's table --------------------------------------------------------------- */

static const char *const batch_columns[] = {"status", "chi2",   "redchi", "points",     "nfev",      "trusted",
                                            "findings", "cost", "nit",    "pcov_valid", "diag_flags", "pcov"};

/* A parameter named as a column, or the error of one named NAME_err. */
static int name_clash(const nlsq_model *model, int n, char *why, size_t size)
{
    for (int j = 0; j < n; j++) {
        const char *a = nlsq_model_param_name(model, j);
        for (size_t c = 0; c < sizeof batch_columns / sizeof batch_columns[0]; c++)
            if (strcmp(a, batch_columns[c]) == 0 || strcmp(a, "id") == 0) {
                snprintf(why, size, "the parameter %s has the name of a column of the table", a);
                return 1;
            }
        for (int k = 0; k < n; k++) {
            const char *b = nlsq_model_param_name(model, k);
            size_t lb = strlen(b);
            if (strncmp(a, b, lb) == 0 && strcmp(a + lb, "_err") == 0) {
                snprintf(why, size, "the parameter %s has the name of %s's error column", a, b);
                return 1;
            }
        }
    }
    return 0;
}

/* Column j of an nfits x n row-major table into col. */
static void column_of(const double *table, size_t nfits, int n, int j, double *col)
{
    for (size_t i = 0; i < nfits; i++) col[i] = table[i * (size_t)n + (size_t)j];
}

static int put_batch_ids(h5w *w, size_t nfits, const double *ids, const char *const *names, long long *scratch)
{
    hsize_t dims[1] = {nfits};
    if (ids) return put_doubles(w, w->group, "id", ids, 1, dims);
    if (names) return put_strings(w, w->group, "id", names, nfits);
    for (size_t i = 0; i < nfits; i++) scratch[i] = (long long)i;
    return put(w, w->group, "id", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, dims, scratch);
}

/* The free parameters of fit i. */
static int free_params(const nlsq_batch_result *r, const nlsq_batch *b, const nlsq_hdf5_write_options *o, size_t i)
{
    const unsigned char *fixed = b && b->fixed ? b->fixed + i * (size_t)r->n : o->fit ? o->fit->fixed : NULL;
    int count = r->n;
    for (int j = 0; fixed && j < r->n; j++) count -= fixed[j] != 0;
    return count;
}

/* The findings' keys joined by '+', as the CSV writes them, into one
   buffer of nfits strings. */
static char *findings_text(const nlsq_batch_result *r, const char **out)
{
    enum { ROOM = 160 };
    char *text = malloc(r->nfits * ROOM + 1);
    for (size_t i = 0; text && i < r->nfits; i++) {
        char *s = text + i * ROOM;
        size_t used = 0;
        s[0] = '\0';
        for (unsigned b = 0; r->diag_flags && b < NFINDINGS; b++)
            if (r->diag_flags[i] & (1u << b))
                used += (size_t)snprintf(s + used, ROOM - used, "%s%s", used ? "+" : "", finding_keys[b]);
        out[i] = s;
    }
    return text;
}

static int put_batch(h5w *w, const nlsq_model *model, const nlsq_batch_result *r, const nlsq_batch *b,
                     const double *ids, const char *const *names, const nlsq_hdf5_write_options *o)
{
    size_t nf = r->nfits, room = nf ? nf : 1;
    int n = r->n;
    hsize_t dims[3] = {nf, (hsize_t)n, (hsize_t)n};
    double *col = malloc(room * sizeof *col);
    long long *ints = malloc(room * sizeof *ints);
    const char **strs = malloc(room * sizeof *strs);
    const char **cols = malloc((size_t)(2 * n + 8) * sizeof *cols);
    char *errnames = malloc((size_t)(n ? n : 1) * 300);
    char *text = strs ? findings_text(r, strs) : NULL;
    if (!col || !ints || !strs || !cols || !errnames || !text) {
        error_set(w->err, NLSQ_ERR_NOMEM, 0, 0, "out of memory writing %s", w->shown);
        w->failed = 1;
    }
    if (!w->failed) {
        attrs_common(w, model, r->method, o->fit ? o->fit->absolute_sigma : 0, o, "nlsq_batch_result");
        put_batch_ids(w, nf, ids, names, ints);
        size_t nc = 0;
        cols[nc++] = "id";
        for (int j = 0; j < n; j++) {
            char *en = errnames + (size_t)j * 300;
            snprintf(en, 300, "%s_err", nlsq_model_param_name(model, j));
            cols[nc++] = nlsq_model_param_name(model, j);
            cols[nc++] = en;
            column_of(r->popt, nf, n, j, col);
            put_doubles(w, w->group, cols[nc - 2], col, 1, dims);
            if (r->perr) column_of(r->perr, nf, n, j, col);
            for (size_t i = 0; !r->perr && i < nf; i++) col[i] = NAN;
            put_doubles(w, w->group, en, col, 1, dims);
        }
        for (size_t c = 0; c < 7; c++) cols[nc++] = batch_columns[c];
        for (size_t i = 0; i < nf; i++) ints[i] = r->status[i];
        put(w, w->group, "status", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, dims, ints);
        put_doubles(w, w->group, "chi2", r->chi2, 1, dims);
        for (size_t i = 0; i < nf; i++) {
            int k = free_params(r, b, o, i);
            col[i] = r->m[i] > (size_t)k ? r->chi2[i] / (double)(r->m[i] - (size_t)k) : NAN;
        }
        put_doubles(w, w->group, "redchi", col, 1, dims);
        for (size_t i = 0; i < nf; i++) ints[i] = (long long)r->m[i];
        put(w, w->group, "points", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, dims, ints);
        put(w, w->group, "nfev", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dims, r->nfev);
        for (size_t i = 0; i < nf; i++) ((signed char *)col)[i] = r->diag_flags ? !(r->diag_flags[i] & NLSQ_DIAG_UNTRUSTED) : -1;
        put(w, w->group, "trusted", H5T_STD_I8LE, H5T_NATIVE_SCHAR, 1, dims, col);
        put_strings(w, w->group, "findings", strs, nf);
        put_doubles(w, w->group, "cost", r->cost, 1, dims);
        put(w, w->group, "nit", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dims, r->nit);
        put(w, w->group, "pcov_valid", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, dims, r->pcov_valid);
        if (r->diag_flags) put(w, w->group, "diag_flags", H5T_STD_U32LE, H5T_NATIVE_UINT, 1, dims, r->diag_flags);
        if (r->pcov) put_doubles(w, w->group, "pcov", r->pcov, 3, dims);
        attr(w, w->group, "columns", w->str, w->str, nc, cols);
    }
    free(col);
    free(ints);
    free(strs);
    free(cols);
    free(errnames);
    free(text);
    return w->failed ? -1 : 0;
}

nlsq_status nlsq_batch_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                         const nlsq_batch_result *result, const nlsq_batch *batch, const double *ids,
                                         const char *const *names, const nlsq_hdf5_write_options *opt,
                                         nlsq_error *err)
{
    nlsq_error local;
    if (!err) err = &local;
    nlsq_hdf5_write_options o = opt ? *opt : nlsq_hdf5_write_options_default();
    o.predictions = 0;
    char gpath[1024], why[200];
    nlsq_status st = begin(path, group, model, result, &o, gpath, sizeof gpath, err);
    if (st != NLSQ_OK) return st;
    if (name_clash(model, result->n, why, sizeof why)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", path, why);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    h5w w;
    writer_init(&w, path, err);
    hdf5_lock();
    if (writer_open(&w, path, gpath, &o) == 0) put_batch(&w, model, result, batch, ids, names, &o);
    st = writer_close(&w, path);
    hdf5_unlock();
    return st;
}

#endif /* NLSQ_HAVE_HDF5 */
