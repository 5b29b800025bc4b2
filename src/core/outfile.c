/*
 * Output files that appear whole or not at all, and never in the wrong
 * place. Every file the library or the command writes goes through here:
 * checkpoints, column caches, compiled kernels, predictions, plots, tables.
 *
 * The rules, each learnt from a file that was lost:
 *   - A regular file (or a missing one) is written to a temporary file in
 *     the same directory, fsync'ed and renamed over it, then the directory
 *     fsync'ed: a crash or an error leaves the old file, or none.
 *   - A symbolic link is followed to its target, and the target is what is
 *     replaced: the user asked for the file the link names, and replacing
 *     the link by a file would cut it (think of /dev/stdout).
 *   - A FIFO or a character device is written in place: there is nothing
 *     to rename over, and a rename would put a regular file where the pipe
 *     or the terminal was.
 *   - A directory, a read-only regular file (its owner's "keep me"), or
 *     any other kind of file is refused.
 *   - "-", and any path that is this process's standard output
 *     (/dev/stdout, or the file the shell redirected it to), is the stdout
 *     stream: a second descriptor would write at offset 0 over the
 *     report, and a rename would leave the report in an unlinked file.
 * An output is refused when it is one of the inputs, judged by device and
 * inode rather than by name (outfile_check), before any work is done.
 *
 * Temporary files are named <target>.tmp-<host>-<pid>-XXXXXX. A process
 * killed by SIGKILL cannot remove its own, so every open removes those of
 * its target whose process, on this host, no longer exists. SIGINT and
 * SIGTERM are the command's to catch: its handler calls
 * nlsq_output_remove_temporaries, which unlinks every temporary file this
 * process has open, from a registry that a signal handler can read.
 */
#define _GNU_SOURCE /* mkostemp */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ---- the registry of temporary files ------------------------------------ */

/*
 * The one piece of process-wide mutable state in the library, because a
 * signal handler can reach nothing else. A slot is claimed (FREE ->
 * FILLING) by compare-and-swap, its path written, then published (ARMED);
 * the handler unlinks only ARMED slots, and unlink is async-signal-safe.
 * When all slots are taken a file goes unregistered: the next run's stale
 * sweep still removes it.
 */
enum { SLOT_FREE, SLOT_FILLING, SLOT_ARMED };
#define TEMP_SLOTS 64

static struct temp_slot {
    atomic_int state;
    char path[PATH_MAX];
} temp_slots[TEMP_SLOTS];

int tempfile_register(const char *path)
{
    if (strlen(path) >= PATH_MAX) return -1;
    for (int i = 0; i < TEMP_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (atomic_compare_exchange_strong(&temp_slots[i].state, &expect, SLOT_FILLING)) {
            strcpy(temp_slots[i].path, path);
            atomic_store(&temp_slots[i].state, SLOT_ARMED);
            return i;
        }
    }
    return -1;
}

void tempfile_release(int slot)
{
    if (slot >= 0 && slot < TEMP_SLOTS) atomic_store(&temp_slots[slot].state, SLOT_FREE);
}

void nlsq_output_remove_temporaries(void)
{
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (atomic_load(&temp_slots[i].state) == SLOT_ARMED) unlink(temp_slots[i].path);
}

/* ---- temporary names and the stale sweep -------------------------------- */

/* Eight hex digits of the host name: a temporary file on a shared disk is
   judged dead only by a process on the host that made it. */
static unsigned host_tag(void)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    return (unsigned)(hash_fnv64(HASH_FNV_SEED, host, strlen(host)) & 0xffffffffu);
}

int tempfile_name(const char *target, char *out, size_t size)
{
    int n = snprintf(out, size, "%s.tmp-%08x-%ld-XXXXXX", target, host_tag(), (long)getpid());
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* A temporary file of an older nlsq (TARGET.tmp-XXXXXX, no host or
   process in the name) is judged dead by its age: every writer of one
   wrote it continuously (a checkpoint in milliseconds, a column cache row
   after row, a kernel within the compiler's two minutes), so one untouched
   for an hour has no writer left. */
#define LEGACY_TEMP_AGE_S 3600

/* Whether `tail` (what follows ".tmp-") is HOST-PID-XXXXXX with an
   optional suffix a tool needs (a compiler's ".c"); *tag and *pid get
   its host and process. */
static int parse_temp_tail(const char *tail, unsigned *tag, long *pid)
{
    int used = 0;
    if (sscanf(tail, "%8x-%ld-%n", tag, pid, &used) != 2 || used == 0 || *pid <= 0) return 0;
    const char *rest = tail + used;
    size_t n = strlen(rest);
    if (n < 6) return 0;
    if (n == 6) return 1;
    if (rest[6] != '.' || n > 6 + 1 + 8) return 0;
    for (const char *p = rest + 7; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) return 0;
    return n > 7;
}

/* mkostemp's six letters and digits; one at least not a lower-case
   letter, so that a user's "results.tmp-backup" is never taken for one
   (a real one is all lower-case once in 200: left, harmlessly). */
static int is_legacy_tail(const char *tail)
{
    if (strlen(tail) != 6) return 0;
    int mixed = 0;
    for (const char *p = tail; *p; p++) {
        int lower = *p >= 'a' && *p <= 'z', upper = *p >= 'A' && *p <= 'Z', digit = *p >= '0' && *p <= '9';
        if (!lower && !upper && !digit) return 0;
        mixed |= !lower;
    }
    return mixed;
}

temp_state tempfile_state(const char *name, const char *base, const struct stat *st)
{
    const char *mark = NULL;
    if (base) {
        size_t n = strlen(base);
        if (strncmp(name, base, n) == 0 && strncmp(name + n, ".tmp-", 5) == 0) mark = name + n;
    } else {
        for (const char *p = strstr(name, ".tmp-"); p; p = strstr(p + 1, ".tmp-")) mark = p;
    }
    if (!mark || mark == name) return TEMP_NONE;
    const char *tail = mark + 5;
    unsigned file_tag;
    long pid;
    if (parse_temp_tail(tail, &file_tag, &pid)) {
        if (file_tag != host_tag()) return TEMP_LIVE; /* another host's: not ours to judge */
        return kill((pid_t)pid, 0) != 0 && errno == ESRCH ? TEMP_STALE : TEMP_LIVE;
    }
    if (is_legacy_tail(tail)) return st && time(NULL) - st->st_mtime > LEGACY_TEMP_AGE_S ? TEMP_STALE : TEMP_LIVE;
    return TEMP_NONE;
}

/* Split path into its directory and last component. */
static void split_path(const char *path, char *dir, size_t dir_size, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dir_size, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dir_size, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

/* Remove the stale temporaries in dir of base (NULL: of any target). */
static int sweep(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".tmp-")) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        if (tempfile_state(e->d_name, base, &st) == TEMP_STALE && unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
    }
    closedir(d);
    return removed;
}

int tempfile_sweep(const char *target)
{
    char dir[PATH_MAX];
    const char *base;
    split_path(target, dir, sizeof dir, &base);
    return *base ? sweep(dir, base) : 0;
}

int tempfile_sweep_dir(const char *dir)
{
    return sweep(dir, NULL);
}

/* ---- where an output goes ----------------------------------------------- */

/* Whether path is this process's standard output (/dev/stdout, /dev/fd/1,
   or the very file the shell redirected it to): then it is written through
   the stdout stream, as "-" is, so that its lines and the command's other
   output keep their order and the shell's file is neither replaced (the
   other output would go to the unlinked inode) nor overwritten from its
   start by a second descriptor. */
static int is_standard_output(const char *path)
{
    struct stat p, o;
    return stat(path, &p) == 0 && fstat(STDOUT_FILENO, &o) == 0 && p.st_dev == o.st_dev && p.st_ino == o.st_ino &&
           p.st_rdev == o.st_rdev;
}

/* Follow `path` through symbolic links (at most 40, as the kernel does) to
   the name to write; a dangling link gives the missing target's name.
   Only a regular or missing file is resolved by name: anything else (a
   FIFO, a device, a directory) is kept as `path` and opened through the
   kernel's own lookup, because the links of /proc/self/fd (behind
   /dev/stdout and /dev/fd/N) name a pipe or a socket as "pipe:[1234]",
   which is no path. */
static int resolve_target(const char *path, char *out, size_t size, char *why, size_t why_size)
{
    char cur[PATH_MAX];
    if ((size_t)snprintf(cur, sizeof cur, "%s", path) >= sizeof cur) goto too_long;
    struct stat followed;
    if (stat(path, &followed) == 0 && !S_ISREG(followed.st_mode)) {
        if ((size_t)snprintf(out, size, "%s", cur) >= size) goto too_long;
        return 0;
    }
    for (int hops = 0; hops < 40; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            if ((size_t)snprintf(out, size, "%s", cur) >= size) goto too_long;
            return 0;
        }
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            snprintf(why, why_size, "%s: %s", path, strerror(errno));
            return -1;
        }
        link[n] = '\0';
        if (link[0] == '/') {
            memcpy(cur, link, (size_t)n + 1);
        } else {
            char dir[PATH_MAX];
            const char *base;
            split_path(cur, dir, sizeof dir, &base);
            char next[PATH_MAX];
            if ((size_t)snprintf(next, sizeof next, "%s/%s", dir, link) >= sizeof next) goto too_long;
            memcpy(cur, next, strlen(next) + 1);
        }
    }
    snprintf(why, why_size, "%s: too many levels of symbolic links", path);
    return -1;
too_long:
    snprintf(why, why_size, "%s: the path is too long", path);
    return -1;
}

/* What is at the resolved target: -1 refused (why says so), 0 missing or
   a regular file (replace it atomically), 1 a FIFO or character device
   (write in place). A regular file its owner made read-only is refused
   although the rename would replace it: the mode says "keep me". */
static int target_kind(const char *shown, const char *target, struct stat *st, char *why, size_t why_size)
{
    if (stat(target, st) != 0) {
        if (errno == ENOENT) return 0;
        snprintf(why, why_size, "%s: %s", shown, strerror(errno));
        return -1;
    }
    if (S_ISREG(st->st_mode)) {
        if (access(target, W_OK) == 0) return 0;
        snprintf(why, why_size, "%s: %s (the file is read-only)", shown, strerror(errno));
        return -1;
    }
    if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode)) return 1;
    snprintf(why, why_size, "%s: %s", shown, S_ISDIR(st->st_mode) ? "is a directory" : "is not a regular file");
    return -1;
}

/* Whether the directory a new file would go into exists and takes it. */
static int check_directory(const char *shown, const char *target, char *why, size_t why_size)
{
    char dir[PATH_MAX];
    const char *base;
    split_path(target, dir, sizeof dir, &base);
    struct stat st;
    if (*base == '\0') {
        snprintf(why, why_size, "%s: is a directory", shown);
        return -1;
    }
    if (stat(dir, &st) != 0) {
        snprintf(why, why_size, "%s: the directory %s: %s", shown, dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "%s: %s is not a directory", shown, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(why, why_size, "%s: cannot write in %s: %s", shown, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int outfile_check(const char *path, const char *const *inputs, size_t n_inputs, char *why, size_t why_size)
{
    if (strcmp(path, "-") == 0 || is_standard_output(path)) return 0;
    char target[PATH_MAX];
    if (resolve_target(path, target, sizeof target, why, why_size) != 0) return -1;
    struct stat st;
    int kind = target_kind(path, target, &st, why, why_size);
    if (kind < 0) return -1;
    if (kind == 1) {
        if (access(target, W_OK) != 0) {
            snprintf(why, why_size, "%s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (check_directory(path, target, why, why_size) != 0) return -1;
    if (stat(target, &st) != 0) return 0; /* a new file is no one's input */
    for (size_t i = 0; i < n_inputs; i++) {
        struct stat in;
        if (inputs[i] && strcmp(inputs[i], "-") != 0 && stat(inputs[i], &in) == 0 && in.st_dev == st.st_dev &&
            in.st_ino == st.st_ino) {
            snprintf(why, why_size, "%s: is the input %s; refusing to overwrite it", path, inputs[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

static void fsync_parent(const char *target)
{
    char dir[PATH_MAX];
    const char *base;
    split_path(target, dir, sizeof dir, &base);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* not every file system can; the rename stands anyway */
        close(fd);
    }
}

static int open_in_place(outfile *o, const char *shown, char *why, size_t why_size)
{
    int fd = open(o->target, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
        snprintf(why, why_size, "%s: %s", shown, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return 0;
}

/* The process's umask, read without changing it where Linux tells it
   (/proc/self/status, since 4.7): umask(0) and back would, for that
   moment, give the files other threads create (a compile in the
   background, a caller's) no umask at all. */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned mask;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "Umask: %o", &mask) == 1) {
            fclose(f);
            return (mode_t)mask;
        }
    }
    if (f) fclose(f);
    mode_t old = umask(022); /* an older kernel: the race is unavoidable */
    umask(old);
    return old;
}

/* The new file gets the old one's permissions, or the usual 0666 less the
   umask (mkostemp makes 0600). */
static void set_mode(int fd, const char *target)
{
    struct stat st;
    fchmod(fd, stat(target, &st) == 0 ? st.st_mode & 07777 : 0666 & ~current_umask());
}

static int open_temporary(outfile *o, const char *shown, char *why, size_t why_size)
{
    tempfile_sweep(o->target);
    if (tempfile_name(o->target, o->tmp, sizeof o->tmp) != 0) {
        snprintf(why, why_size, "%s: the path is too long", shown);
        return -1;
    }
    int fd = mkostemp(o->tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_size, "%s: cannot write in its directory: %s", shown, strerror(errno));
        return -1;
    }
    o->slot = tempfile_register(o->tmp);
    set_mode(fd, o->target);
    if (!(o->f = fdopen(fd, "w"))) {
        snprintf(why, why_size, "%s: %s", shown, strerror(errno));
        close(fd);
        unlink(o->tmp);
        tempfile_release(o->slot);
        return -1;
    }
    return 0;
}

int outfile_open(outfile *o, const char *path, char *why, size_t why_size)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    if (strcmp(path, "-") == 0 || is_standard_output(path)) {
        o->f = stdout;
        o->kind = OUTFILE_STDOUT;
        snprintf(o->target, sizeof o->target, "the standard output");
        return 0;
    }
    if (resolve_target(path, o->target, sizeof o->target, why, why_size) != 0) return -1;
    struct stat st;
    int kind = target_kind(path, o->target, &st, why, why_size);
    if (kind < 0) return -1;
    o->kind = kind == 1 ? OUTFILE_IN_PLACE : OUTFILE_REPLACE;
    return kind == 1 ? open_in_place(o, path, why, why_size) : open_temporary(o, path, why, why_size);
}

int outfile_commit(outfile *o, char *why, size_t why_size)
{
    int ok = fflush(o->f) == 0 && !ferror(o->f);
    int e = errno;
    if (o->kind == OUTFILE_STDOUT) {
        if (!ok) snprintf(why, why_size, "writing the standard output: %s", strerror(e ? e : EIO));
        return ok ? 0 : -1;
    }
    if (ok && o->kind == OUTFILE_REPLACE && fsync(fileno(o->f)) != 0) ok = 0, e = errno;
    if (fclose(o->f) != 0 && ok) ok = 0, e = errno;
    o->f = NULL;
    if (o->kind == OUTFILE_IN_PLACE) {
        if (!ok) snprintf(why, why_size, "writing %s: %s", o->target, strerror(e ? e : EIO));
        return ok ? 0 : -1;
    }
    if (ok && rename(o->tmp, o->target) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(o->tmp);
        snprintf(why, why_size, "writing %s: %s", o->target, strerror(e ? e : EIO));
    }
    tempfile_release(o->slot);
    if (ok) fsync_parent(o->target);
    return ok ? 0 : -1;
}

void outfile_discard(outfile *o)
{
    if (o->kind == OUTFILE_STDOUT || !o->f) return;
    fclose(o->f);
    o->f = NULL;
    if (o->kind == OUTFILE_REPLACE) {
        unlink(o->tmp);
        tempfile_release(o->slot);
    }
}

/* ---- the public API ----------------------------------------------------- */

struct nlsq_output {
    outfile file;
};

nlsq_status nlsq_output_check(const char *path, const char *const *inputs, size_t n_inputs, nlsq_error *err)
{
    char why[sizeof err->message];
    if (!path) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_output_check: path is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (outfile_check(path, inputs, n_inputs, why, sizeof why) != 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s", why);
        return NLSQ_ERR_IO;
    }
    return NLSQ_OK;
}

nlsq_status nlsq_output_open(const char *path, nlsq_output **out, nlsq_error *err)
{
    char why[sizeof err->message];
    if (!path || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_output_open: path or out is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    nlsq_output *o = malloc(sizeof *o);
    if (!o) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory opening %s", path);
        return NLSQ_ERR_NOMEM;
    }
    if (outfile_open(&o->file, path, why, sizeof why) != 0) {
        free(o);
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s", why);
        return NLSQ_ERR_IO;
    }
    *out = o;
    return NLSQ_OK;
}

FILE *nlsq_output_stream(nlsq_output *o)
{
    return o ? o->file.f : NULL;
}

nlsq_status nlsq_output_commit(nlsq_output *o, nlsq_error *err)
{
    char why[sizeof err->message];
    if (!o) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_output_commit: the output is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    int rc = outfile_commit(&o->file, why, sizeof why);
    free(o);
    if (rc != 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "%s", why);
        return NLSQ_ERR_IO;
    }
    return NLSQ_OK;
}

void nlsq_output_discard(nlsq_output *o)
{
    if (!o) return;
    outfile_discard(&o->file);
    free(o);
}
