/*
 * The core: what every layer may use and what uses nothing of ours — the
 * error record, the version, the clock, the machine's memory and cores,
 * hashing, and the private cache directory. Lower than src/linalg and
 * src/model; it includes only nlsq.h for nlsq_error and nlsq_status.
 */
#ifndef NLSQ_CORE_CORE_H
#define NLSQ_CORE_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#include "nlsq.h"

/* ---- error.c: the error record ------------------------------------------ */

/* Fill err (when not NULL) with code, the 1-based line and column in the
   model text (0 when not about the text) and a printf-style message. */
void error_set(nlsq_error *err, nlsq_status code, int line, int column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* The same with no position, returning code: `return error_fail(err,
   NLSQ_ERR_DATA, "%s: ...", path)` where a failure is reported and returned. */
nlsq_status error_fail(nlsq_error *err, nlsq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void error_clear(nlsq_error *err);

/* ---- host.c: the clock, memory and cores -------------------------------- */

/* Seconds on the monotonic clock (only differences mean anything). */
double host_seconds(void);
/* Bytes of physical memory free now; SIZE_MAX when the system won't say. */
size_t host_available_memory(void);
/* Threads to run on: `requested` when positive, else $NLSQ_THREADS when a
   positive number, else the online cores; within [1, min(1024, most)]. */
int host_threads(long requested, long most);

/* ---- hash.c: hashing for cache keys and checksums ----------------------- */

/* FNV-1a, 64 bits, continued from h (start from HASH_FNV_SEED). Checksums
   of checkpoints and names of column caches: stable across versions. */
#define HASH_FNV_SEED 0xcbf29ce484222325ULL
uint64_t hash_fnv64(uint64_t h, const void *data, size_t n);

/* 128 bits for file names of compiled kernels: two FNV-1a streams with
   different seeds, each finished by a splitmix64 mix, against accidental
   collisions (the cache directory's permissions keep others' files out). */
typedef struct hash128 {
    uint64_t a, b;
} hash128;

hash128 hash128_start(void);
void hash128_bytes(hash128 *h, const void *data, size_t n);
/* A string and its NUL, so consecutive fields cannot run together. */
void hash128_str(hash128 *h, const char *s);
/* 32 lower-case hex digits and a NUL into out[33]. */
void hash128_hex(const hash128 *h, char out[33]);

/* ---- cachedir.c: where compiled kernels and column caches live ---------- */

/* $XDG_CACHE_HOME/nlsq, else ~/.cache/nlsq: made (mode 0700) if missing and
   refused unless it is a directory of ours that no one else may write.
   0, or -1 with the reason in why. */
int cache_directory(char *dir, size_t dir_size, char *why, size_t why_size);
/* The same check for a directory inside it (made when `create`). */
int cache_private_dir(const char *path, int create, char *why, size_t why_size);
/* DIR/subdir/HEX<suffix>, subdir made private, HEX the 128-bit hash of
   key1 and key2 (what the file is made from, and how); 0, or -1 with the
   reason in why. */
int cache_file_path(const char *subdir, const char *key1, const char *key2, const char *suffix, char *out, size_t size,
                    char *why, size_t why_size);

/* A cache's scan (jit_cache_scan, colcache_scan): its directory, its
   caches and temporary files (out, zeroed by the caller), removing the
   caches and the stale temporaries with `clear`; 0, or -1 with the reason
   in why. */
typedef int (*cache_scan_fn)(int clear, nlsq_cache_info *out, char *why, size_t why_size);
/* The public nlsq_*_cache_info/_clear on top of a scan; `who` names the
   function in messages. */
nlsq_status cache_report(const char *who, cache_scan_fn scan, int clear, nlsq_cache_info *out, nlsq_error *err);

/* ---- outfile.c: files that appear whole or not at all ------------------ */

typedef enum { OUTFILE_REPLACE, OUTFILE_IN_PLACE, OUTFILE_STDOUT } outfile_kind;

/* An output being written (see outfile.c for the rules). Its storage is
   its own: opening allocates nothing but the stream. */
typedef struct outfile {
    FILE *f;
    outfile_kind kind;
    int slot;              /* in the temporary-file registry, or -1   */
    char target[PATH_MAX]; /* the file replaced or written in place   */
    char tmp[PATH_MAX];    /* the temporary file (OUTFILE_REPLACE)    */
} outfile;

/* 0, or -1 with the reason (naming path) in why. */
int outfile_check(const char *path, const char *const *inputs, size_t n_inputs, char *why, size_t why_size);
int outfile_open(outfile *o, const char *path, char *why, size_t why_size);
/* Flush, check, fsync, rename; 0, or -1 with the reason (the temporary
   file removed). Either way the stream is closed. */
int outfile_commit(outfile *o, char *why, size_t why_size);
void outfile_discard(outfile *o);

/* For files made another way (a compiler's output, a file written with
   write(2)): TARGET.tmp-HOST-PID-XXXXXX into out, for mkostemp; then
   register it so that nlsq_output_remove_temporaries removes it on a
   signal, and release the slot once it is renamed or removed. */
int tempfile_name(const char *target, char *out, size_t size);
int tempfile_register(const char *path); /* a slot, or -1 when full */
void tempfile_release(int slot);
/* Whether a file named `name` (its lstat in st, or NULL) is a temporary
   of the target named base (NULL: of any target): TEMP_LIVE when its
   process may still run (or it was made on another host), TEMP_STALE when
   it was made on this host by a process that no longer exists, or by an
   older nlsq (no host and process in the name) and untouched for an
   hour. */
typedef enum { TEMP_NONE, TEMP_LIVE, TEMP_STALE } temp_state;
struct stat;
temp_state tempfile_state(const char *name, const char *base, const struct stat *st);
/* Remove the stale temporary files of target (of a whole directory), ours
   and regular files only; how many were removed. */
int tempfile_sweep(const char *target);
int tempfile_sweep_dir(const char *dir);

#endif
