/* NumPy .npz archives, the reading below sources: members found by name,
   deflated members inflated (npz.c). The sources are made in
   fit/source_npz.c. */
#ifndef NLSQ_IO_NPZ_H
#define NLSQ_IO_NPZ_H

#include <stdio.h>

#include "io.h"
#include "zip.h"

enum { NPZ_MAX_MEMBERS = 256, NPZ_LABEL = 400 };

/* The member's name without its ".npy" (malloc'ed), or NULL out of memory. */
char *npz_member_name(const char *entry);

/* The entries asked for (members[0..count), named with or without ".npy";
   count 0: every .npy member in the archive's order) into chosen[] (room
   for NPZ_MAX_MEMBERS), their number into *n. A member not there is
   NLSQ_ERR_INVALID_ARGUMENT naming those that are. */
nlsq_status npz_choose(const char *path, const zip_archive *z, const char *const *members, int count,
                       const zip_entry **chosen, int *n, nlsq_error *err);

/* How much memory a deflated member may take inflated as float64 columns:
   $NLSQ_NPZ_INFLATE_MEMORY (bytes, or with K, M or G), default 64 MiB. */
nlsq_status npz_memory_limit(size_t *limit, nlsq_error *err);

/*
 * A deflated member read from its start (fd: the archive; label names
 * the member in messages): at most the size the central directory
 * declares, and at its end the stream must end there and the CRC-32
 * match. Without zlib in the build, open fails with
 * NLSQ_ERR_INVALID_ARGUMENT naming zlib1g-dev.
 */
typedef struct npz_inflater npz_inflater;
nlsq_status npz_inflate_open(int fd, const zip_entry *e, const char *label, npz_inflater **out, nlsq_error *err);
void npz_inflate_close(npz_inflater *f);
/* The .npy header at the member's start, parsed by the .npy reader (same
   rules and messages) and checked against the declared size. */
nlsq_status npz_inflate_header(npz_inflater *f, npy_info *info, nlsq_error *err);
/* After the header: the data as float64 columns into t (its names
   numbered), the rest of the member read and checked. */
nlsq_status npz_inflate_table(npz_inflater *f, const npy_info *info, table *t, nlsq_error *err);
/* The whole member, from its first byte, into out (cache names it in
   messages), checked at its end. */
nlsq_status npz_inflate_copy(npz_inflater *f, FILE *out, const char *cache, nlsq_error *err);

#endif
