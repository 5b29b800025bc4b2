/*
 * NumPy .npy files (format versions 1, 2 and 3): float64 or float32, either
 * byte order, 1-D (one column) or 2-D (rows x columns), C or Fortran order.
 * The header is a Python dict literal; only the three keys the format
 * defines are read, and anything else is refused with a message that says
 * what was found.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "model/model.h"

static nlsq_status npy_fail(nlsq_error *err, const char *path, const char *what)
{
    error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: %s", path, what);
    return NLSQ_ERR_DATA;
}

/* The value text after 'key': in the header dict, or NULL. */
static const char *header_value(const char *h, const char *key)
{
    const char *k = strstr(h, key);
    if (!k) return NULL;
    const char *colon = strchr(k + strlen(key), ':');
    if (!colon) return NULL;
    colon++;
    while (*colon == ' ') colon++;
    return colon;
}

static int host_little_endian(void)
{
    uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

double npy_element(const unsigned char *p, int size, int swap)
{
    unsigned char b[8];
    for (int i = 0; i < size; i++) b[i] = swap ? p[size - 1 - i] : p[i];
    if (size == 8) {
        double d;
        memcpy(&d, b, 8);
        return d;
    }
    float f;
    memcpy(&f, b, 4);
    return f;
}

nlsq_status npy_header(FILE *f, const char *path, npy_info *info, nlsq_error *err)
{
    unsigned char pre[12];
    char *header = NULL;
    nlsq_status st = NLSQ_OK;
    memset(info, 0, sizeof *info);
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return npy_fail(err, path, "not a .npy file (no \\x93NUMPY magic)");
    int major = pre[6];
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8, pre_len = 10;
    if (major >= 2) {
        if (fread(pre + 10, 1, 2, f) != 2) return npy_fail(err, path, "truncated header");
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        pre_len = 12;
    }
    if (major < 1 || major > 3 || hlen > 1 << 20) return npy_fail(err, path, "unsupported .npy version or header size");
    header = malloc(hlen + 1);
    if (!header || fread(header, 1, hlen, f) != hlen) {
        free(header);
        return npy_fail(err, path, "truncated header");
    }
    header[hlen] = '\0';
    const char *descr = header_value(header, "'descr'"), *order = header_value(header, "'fortran_order'");
    const char *shape = header_value(header, "'shape'");
    if (!descr || !order || !shape || *descr != '\'') {
        st = npy_fail(err, path, "header lacks descr, fortran_order or shape");
        goto done;
    }
    int size = !strncmp(descr + 1, "<f8", 3) || !strncmp(descr + 1, ">f8", 3) ? 8
             : !strncmp(descr + 1, "<f4", 3) || !strncmp(descr + 1, ">f4", 3) ? 4
                                                                              : 0;
    if (!size) {
        char what[80];
        int dl = (int)strcspn(descr + 1, "'");
        snprintf(what, sizeof what, "dtype '%.*s' is not float64 or float32", dl > 12 ? 12 : dl, descr + 1);
        st = npy_fail(err, path, what);
        goto done;
    }
    unsigned long long dims[2] = {0, 1};
    int ndim = 0;
    const char *s = shape + 1;
    while (*shape == '(' && *s && *s != ')' && ndim < 3) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s) break;
        if (ndim < 2) dims[ndim] = v;
        ndim++;
        s = end;
        while (*s == ',' || *s == ' ') s++;
    }
    if (ndim < 1 || ndim > 2 || dims[1] == 0 || dims[1] > 256 || dims[0] > ((unsigned long long)1 << 50)) {
        st = npy_fail(err, path, "shape must be (rows,) or (rows, columns) with at most 256 columns");
        goto done;
    }
    info->elsize = size;
    info->swap = (descr[1] == '<') != host_little_endian();
    info->fortran = !strncmp(order, "True", 4);
    info->rows = (size_t)dims[0];
    info->cols = (size_t)dims[1];
    info->data_offset = pre_len + hlen;
done:
    free(header);
    return st;
}
