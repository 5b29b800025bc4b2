/*
 * Output files that appear whole or not at all: write to a temporary file
 * in the same directory (so rename is atomic), fsync, then rename over the
 * destination. An error or a crash leaves the old file, or none.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "present.h"

int outfile_open(outfile *o, const char *path)
{
    memset(o, 0, sizeof *o);
    size_t n = strlen(path);
    o->path = strdup(path);
    o->tmp = malloc(n + 16);
    if (!o->path || !o->tmp) {
        free(o->path);
        free(o->tmp);
        errno = ENOMEM;
        return -1;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(o->tmp);
    if (fd >= 0) { /* mkstemp makes 0600; give the file the usual mode */
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
    }
    if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->path);
        free(o->tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int outfile_commit(outfile *o)
{
    int rc = 0;
    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0) rc = -1;
    if (fclose(o->f) != 0) rc = -1;
    if (rc == 0 && rename(o->tmp, o->path) != 0) rc = -1;
    if (rc != 0) unlink(o->tmp);
    free(o->path);
    free(o->tmp);
    return rc;
}

void outfile_abort(outfile *o)
{
    fclose(o->f);
    unlink(o->tmp);
    free(o->path);
    free(o->tmp);
}
