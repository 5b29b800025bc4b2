/* ZIP archives (the container of NumPy's .npz): the central directory,
   read and checked; the members' data located. */
#ifndef NLSQ_IO_ZIP_H
#define NLSQ_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "nlsq.h"

enum { ZIP_STORED = 0, ZIP_DEFLATED = 8 };

typedef struct zip_entry {
    char *name;               /* as in the central directory, NUL-terminated */
    uint64_t size, comp_size; /* uncompressed and stored bytes             */
    uint64_t local_offset;    /* the local file header                      */
    uint64_t data_offset;     /* the member's bytes (after the local header) */
    uint32_t crc;             /* CRC-32 of the uncompressed bytes           */
    int method;               /* ZIP_STORED, ZIP_DEFLATED, or another       */
    unsigned flags;           /* general purpose bit flag                   */
} zip_entry;

typedef struct zip_archive {
    zip_entry *e;
    size_t n;
    uint64_t file_size;
} zip_archive;

/*
 * Read the central directory of the archive open on fd (path names it in
 * messages): the end record (and the ZIP64 one when present), every
 * central file header (ZIP64 sizes and offsets from its extra field) and
 * every local header, whose own name and extra lengths place the data.
 * Every offset and length is checked against the file's size; members
 * that overlap one another or the central directory, multi-disk
 * archives, encrypted members and names holding a NUL are refused.
 * NLSQ_ERR_DATA with the reason ("PATH: ..."), or NLSQ_ERR_NOMEM.
 */
nlsq_status zip_read(int fd, const char *path, zip_archive *z, nlsq_error *err);
void zip_free(zip_archive *z);

#endif
