/*
 * Text tables read whole into memory as sources: what a front end uses for
 * a small file, standard input, or a table it holds as text (the command's
 * bundled example). The rules are the text reader's (src/io/table.c), the
 * same as the column cache's, so a table gives the same numbers either way.
 */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"
#include "source.h"

static nlsq_status adopt(table *t, const char *name, nlsq_source **out, nlsq_error *err)
{
    *out = source_adopt_table(t, name);
    if (*out) return NLSQ_OK;
    table_free(t);
    error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", name);
    return NLSQ_ERR_NOMEM;
}

static nlsq_status read_stream(FILE *f, const char *name, const nlsq_text_options *opt, nlsq_source **out,
                               nlsq_error *err)
{
    table t;
    memset(&t, 0, sizeof t);
    nlsq_status st = table_read_stream(f, name, opt ? opt->delimiter : 0, &t, err);
    if (st != NLSQ_OK) {
        table_free(&t);
        return st;
    }
    return adopt(&t, name, out, err);
}

nlsq_status nlsq_source_load_text(const char *path, const nlsq_text_options *opt, nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!path || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_load_text: %s is NULL", !path ? "path" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "r");
    if (!f) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s", path, strerror(errno));
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_status st = read_stream(f, path, opt, out, err);
    struct stat origin; /* outputs must not overwrite it */
    if (st == NLSQ_OK && !from_stdin && fstat(fileno(f), &origin) == 0) source_set_origin(*out, &origin);
    if (!from_stdin) fclose(f);
    return st;
}

nlsq_status nlsq_source_load_text_buffer(const char *text, size_t len, const char *name, const nlsq_text_options *opt,
                                         nlsq_source **out, nlsq_error *err)
{
    error_clear(err);
    if (!text || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_source_load_text_buffer: %s is NULL",
                  !text ? "text" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (!name) name = "text";
    if (len == 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "%s: no rows of numbers", name);
        return NLSQ_ERR_DATA;
    }
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: %s", name, strerror(errno));
        return NLSQ_ERR_NOMEM;
    }
    nlsq_status st = read_stream(f, name, opt, out, err);
    fclose(f);
    return st;
}
