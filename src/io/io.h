/* Reading data files: text tables and .npy. */
#ifndef NLSQ_IO_IO_H
#define NLSQ_IO_IO_H

#include <stddef.h>
#include <stdio.h>

#include "nlsq.h"

/* A table of numbers read from a text file: ncols columns of nrows. */
typedef struct table {
    int ncols;
    size_t nrows;
    char **names; /* header names, or "1", "2", ... without a header */
    double **cols;
} table;

/*
 * Read a text table from an open stream into memory: comma-, semicolon-,
 * tab- or whitespace-separated numbers — the delimiter found on the first
 * data line unless `delim` forces one (',', ';', '\t' or ' ' for runs of
 * blanks) — double-quoted fields ("" inside for a quote), '#' comment
 * lines and blank lines skipped, CRLF line ends, an optional header row (a
 * first row that is not all numbers), and empty, NA or nan fields read as
 * NaN. `path` names the stream in messages, which name the line and field.
 * `head` (head_len bytes, may be 0) is what the caller already read from
 * the stream, to tell a .npy from text: it is read first, so a pipe is
 * read once. Refused, with the line and field: a NUL byte, text after a
 * closing quote, an unterminated quote, more than 256 columns, a number
 * beyond the range of a double, a line over 1 MiB. A UTF-8 byte order
 * mark at the start is skipped.
 * (Files are read through sources: .npy and large text files are mapped,
 * not read into memory; see fit/source.h.)
 */
nlsq_status table_read_stream(FILE *f, const void *head, size_t head_len, const char *path, char delim, table *t,
                              nlsq_error *err);
void table_free(table *t);

/* A .npy header, read from the start of f: the data follow at data_offset. */
typedef struct npy_info {
    size_t data_offset, rows, cols;
    int elsize;  /* 8 or 4 */
    int swap;    /* the file's byte order is not the host's */
    int fortran; /* column after column */
} npy_info;

nlsq_status npy_header(FILE *f, const char *path, npy_info *info, nlsq_error *err);
/* One element (8: double, 4: float) at p, byte-swapped if asked. */
double npy_element(const unsigned char *p, int size, int swap);

/* The text reader, row by row: row(ctx, n, fields, values) is called with
   the names (values NULL) for a header row and with the values for every
   data row; a nonzero return stops the read with NLSQ_ERR_NOMEM. */
typedef int (*table_row_fn)(void *ctx, int ncols, char **names, const double *values);
nlsq_status table_scan(FILE *f, const char *path, char delim, table_row_fn row, void *ctx, nlsq_error *err);
nlsq_status table_scan_from(FILE *f, const void *head, size_t head_len, const char *path, char delim, table_row_fn row,
                            void *ctx, nlsq_error *err);

#endif
