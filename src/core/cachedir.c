/* The private cache directory that compiled kernels (CPU and GPU) and
   column caches share. Private because a kernel found there is loaded and
   run: a directory others can write would let them run code as us. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Whether st is a directory of ours that no one else may write. */
static int is_private_dir(const struct stat *st)
{
    return S_ISDIR(st->st_mode) && st->st_uid == geteuid() && !(st->st_mode & 022);
}

/* Follow the symbolic link `path` (lstat in *st) to its directory: every
   link on the way must be ours (another's could be turned elsewhere
   later), and the directory ours and private. 0 with the directory's
   stat in *st, or -1 with the reason. */
static int follow_private_link(const char *path, struct stat *st, char *why, size_t why_size)
{
    char cur[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", path);
    for (int hops = 0; S_ISLNK(st->st_mode); hops++) {
        if (st->st_uid != geteuid()) {
            snprintf(why, why_size, "the kernel cache %s is a symbolic link (%s) owned by another user; not used", path,
                     cur);
            return -1;
        }
        char link[PATH_MAX];
        ssize_t n = hops < 40 ? readlink(cur, link, sizeof link - 1) : -1;
        if (n < 0) {
            snprintf(why, why_size, "the kernel cache %s: %s", path, hops < 40 ? strerror(errno) : "too many links");
            return -1;
        }
        link[n] = '\0';
        char next[PATH_MAX];
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash)
            snprintf(next, sizeof next, "%s", link);
        else if ((size_t)snprintf(next, sizeof next, "%.*s/%s", (int)(slash - cur), cur, link) >= sizeof next) {
            snprintf(why, why_size, "the kernel cache %s: the path is too long", path);
            return -1;
        }
        memcpy(cur, next, strlen(next) + 1);
        if (lstat(cur, st) != 0) {
            snprintf(why, why_size, "the kernel cache %s is a symbolic link to %s: %s", path, cur, strerror(errno));
            return -1;
        }
    }
    if (!S_ISDIR(st->st_mode)) {
        snprintf(why, why_size, "the kernel cache %s is a symbolic link to %s, which is not a directory", path, cur);
        return -1;
    }
    if (!is_private_dir(st)) {
        snprintf(why, why_size,
                 "the kernel cache %s is a symbolic link to %s, which is not private (owner or mode); not used", path,
                 cur);
        return -1;
    }
    return 0;
}

int cache_private_dir(const char *path, int create, char *why, size_t why_size)
{
    if (create && mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_size, "cannot make the kernel cache %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        snprintf(why, why_size, "the kernel cache %s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(st.st_mode)) return follow_private_link(path, &st, why, why_size);
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "the kernel cache %s is not a directory", path);
        return -1;
    }
    if (!is_private_dir(&st)) {
        snprintf(why, why_size, "the kernel cache %s is not private (owner or mode); not used", path);
        return -1;
    }
    return 0;
}

/* mkdir that accepts an existing directory; 0, or -1 with the reason. */
static int make_parent(const char *path, char *why, size_t why_size)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
    snprintf(why, why_size, "cannot make %s: %s", path, strerror(errno));
    return -1;
}

int cache_directory(char *dir, size_t dir_size, char *why, size_t why_size)
{
    char parent[PATH_MAX];
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg == '/') {
        snprintf(parent, sizeof parent, "%s", xdg);
    } else if (home && *home == '/') {
        if ((size_t)snprintf(parent, sizeof parent, "%s/.cache", home) >= sizeof parent) {
            snprintf(why, why_size, "no kernel cache: $HOME is too long");
            return -1;
        }
    } else {
        snprintf(why, why_size, "no kernel cache: neither XDG_CACHE_HOME nor HOME is set");
        return -1;
    }
    if (make_parent(parent, why, why_size) != 0) return -1;
    if ((size_t)snprintf(dir, dir_size, "%s/nlsq", parent) >= dir_size) {
        snprintf(why, why_size, "no kernel cache: the path %s/nlsq is too long", parent);
        return -1;
    }
    return cache_private_dir(dir, 1, why, why_size);
}

int cache_file_path(const char *subdir, const char *key1, const char *key2, const char *suffix, char *out, size_t size,
                    char *why, size_t why_size)
{
    char dir[PATH_MAX];
    if (cache_directory(dir, sizeof dir - 64, why, why_size) != 0) return -1;
    size_t used = strlen(dir);
    snprintf(dir + used, sizeof dir - used, "/%s", subdir);
    if (cache_private_dir(dir, 1, why, why_size) != 0) return -1;
    hash128 h = hash128_start();
    hash128_str(&h, key1);
    hash128_str(&h, key2);
    char hex[33];
    hash128_hex(&h, hex);
    if ((size_t)snprintf(out, size, "%s/%s%s", dir, hex, suffix) >= size) {
        snprintf(why, why_size, "the cache path %s/%s%s is too long", dir, hex, suffix);
        return -1;
    }
    return 0;
}

nlsq_status cache_report(const char *who, cache_scan_fn scan, int clear, nlsq_cache_info *out, nlsq_error *err)
{
    error_clear(err);
    if (!out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: out is NULL", who);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    char why[600];
    if (scan(clear, out, why, sizeof why) != 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s", why);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return NLSQ_OK;
}
