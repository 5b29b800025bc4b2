/* Reading data files and writing reports. */
#ifndef NLSQ_IO_IO_H
#define NLSQ_IO_IO_H

#include <stddef.h>

#include "nlsq.h"

/* A table of numbers read from a text file: ncols columns of nrows. */
typedef struct table {
    int ncols;
    size_t nrows;
    char **names;     /* header names, or "1", "2", ... without a header */
    double **cols;
    int has_header;
} table;

/*
 * Read comma-, semicolon-, tab- or whitespace-separated numbers (the
 * delimiter is found on the first data line), '#' comment lines and blank
 * lines skipped, an optional header row (a first row that is not all
 * numbers). "-" reads standard input. Errors name the file, line and
 * column.
 */
nlsq_status table_read(const char *path, table *t, nlsq_error *err);
void table_free(table *t);
/* A column by header name or 1-based number; -1 if none. */
int table_find(const table *t, const char *name_or_index);

#endif
