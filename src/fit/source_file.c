/*
 * Any data file as a source, told by its first bytes rather than by its
 * name (a ".h5" may be a NeXus file, a ".dat" may be a .npy): HDF5, .npz,
 * .npy, else a text table. A spec "PATH:NAMES" names what to read inside
 * an HDF5 file or an archive; the split is made at the last ':' whose left
 * side is an existing file, so a file name holding ':' still opens whole.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "source.h"

enum file_kind { FILE_TEXT, FILE_NPY, FILE_NPZ, FILE_HDF5 };

static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* HDF5's signature lies at 0, 512, 1024, 2048, ... (after a user block). */
static int has_hdf5_signature(FILE *f)
{
    unsigned char sig[8];
    for (long at = 0; at <= (1L << 30); at = at ? 2 * at : 512) {
        if (fseek(f, at, SEEK_SET) != 0 || fread(sig, 1, sizeof sig, f) != sizeof sig) return 0;
        if (memcmp(sig, hdf5_signature, sizeof sig) == 0) return 1;
    }
    return 0;
}

static enum file_kind file_kind_of(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return FILE_TEXT; /* the text reader names the reason */
    unsigned char head[6] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    enum file_kind k = FILE_TEXT;
    if (got == 6 && memcmp(head, "\x93NUMPY", 6) == 0)
        k = FILE_NPY;
    else if (got >= 4 && (memcmp(head, "PK\x03\x04", 4) == 0 || memcmp(head, "PK\x05\x06", 4) == 0))
        k = FILE_NPZ;
    else if (has_hdf5_signature(f))
        k = FILE_HDF5;
    fclose(f);
    return k;
}

static int is_regular(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The names after the path, split at ',' into names[] (pointing into
   list, which is modified); their count, or -1 when one is empty. */
static int split_names(char *list, char **names, int max)
{
    int n = 0;
    for (char *s = list;; s++) {
        char *comma = strchr(s, ',');
        if (comma) *comma = '\0';
        if (!*s || n == max) return -1;
        names[n++] = s;
        if (!comma) return n;
        s = comma;
    }
}

enum { MAX_NAMES = 256 };

nlsq_status nlsq_source_open_file(const char *spec, const nlsq_text_options *opt, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!spec || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_open_file: %s is NULL", !spec ? "spec" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    char *path = strdup(spec);
    if (!path) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", spec);
        return NLSQ_ERR_NOMEM;
    }
    /* the last ':' with an existing file on its left */
    char *list = NULL;
    if (!is_regular(path))
        for (char *c = path + strlen(path); c-- > path + 1;) {
            if (*c != ':') continue;
            *c = '\0';
            if (is_regular(path)) {
                list = c + 1;
                break;
            }
            *c = ':';
        }
    nlsq_status st;
    enum file_kind kind = file_kind_of(path);
    char *names[MAX_NAMES];
    int count = 0;
    if (list && (count = split_names(list, names, MAX_NAMES)) < 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: an empty name, or more than %d, in the list after '%s:'",
                  spec, MAX_NAMES, path);
        st = NLSQ_ERR_INVALID_ARGUMENT;
    } else if (list && kind != FILE_HDF5 && kind != FILE_NPZ) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "%s: names after ':' select datasets of an HDF5 file or members of an .npz, and %s is neither", spec,
                  path);
        st = NLSQ_ERR_INVALID_ARGUMENT;
    } else if (kind == FILE_HDF5) {
        st = nlsq_source_open_hdf5(path, (const char *const *)names, count, out, err);
    } else if (kind == FILE_NPZ) {
        st = nlsq_source_open_npz(path, (const char *const *)names, count, out, err);
    } else if (kind == FILE_NPY) {
        st = nlsq_source_open_npy(path, out, err);
    } else {
        st = nlsq_source_open_text(path, opt, out, err);
    }
    free(path);
    return st;
}
