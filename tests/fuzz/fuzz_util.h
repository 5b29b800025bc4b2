/*
 * What the reader and loader fuzz targets share: fuzz bytes as a file
 * without touching the disk (a memfd, named by /proc/self/fd/N, which the
 * library opens, stats and maps like any regular file), and a private
 * scratch directory for the targets that must write files (column caches),
 * removed at exit. Nothing here may leak a descriptor or leave a file.
 */
#ifndef NLSQ_TESTS_FUZZ_UTIL_H
#define NLSQ_TESTS_FUZZ_UTIL_H

#define _GNU_SOURCE /* memfd_create, mkdtemp */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nlsq.h"

/* A memfd holding data[0..size); its path goes to path. -1 on failure. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t path_size)
{
    int fd = memfd_create("nlsq-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

/* The lowest free file descriptor. Taken before and after an input: if
   the input left one open, the lowest free one has moved up. (Compared
   within one input only: libFuzzer opens files of its own between them.) */
static inline int fuzz_lowest_fd(void)
{
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe >= 0) close(probe);
    return probe;
}

static inline void fuzz_check_fds(int before)
{
    int after = fuzz_lowest_fd();
    if (after > before) {
        fprintf(stderr, "the input left a file descriptor open (lowest free %d, was %d)\n", after, before);
        abort();
    }
}

/* Remove every file in dir (not recursive: the targets make no subdirectories). */
static inline void fuzz_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *de = readdir(d); de; de = readdir(d)) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char p[4096];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < sizeof p) unlink(p);
    }
    closedir(d);
}

/* The scratch directory (made once, in $TMPDIR or /tmp; under /dev/shm
   when it exists, so that the fuzz loop does not wear the disk). */
static char fuzz_scratch_path[4096];

static inline void fuzz_scratch_remove(void)
{
    if (!fuzz_scratch_path[0]) return;
    fuzz_empty_dir(fuzz_scratch_path);
    rmdir(fuzz_scratch_path);
}

static inline const char *fuzz_scratch(void)
{
    if (fuzz_scratch_path[0]) return fuzz_scratch_path;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fuzz_scratch_path, sizeof fuzz_scratch_path, "%s/nlsq-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_scratch_path)) {
        perror("nlsq fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_scratch_remove);
    return fuzz_scratch_path;
}

/* A source that opened must be readable to its last row: the first and
   last rows of every column and a window in the middle, else abort with
   `what` ("an opened .npy") in the message. */
static inline void fuzz_read_rows(nlsq_source *s, const char *what)
{
    enum { WINDOW = 256 };
    double v[WINDOW];
    nlsq_error err;
    size_t rows = nlsq_source_num_rows(s);
    size_t starts[3] = {0, rows / 2, rows > WINDOW ? rows - WINDOW : 0};
    for (int c = 0; c < nlsq_source_num_columns(s); c++) {
        if (!nlsq_source_column_name(s, c)) abort();
        for (int k = 0; k < 3; k++) {
            size_t first = starts[k], count = rows - first < WINDOW ? rows - first : WINDOW;
            if (nlsq_source_read(s, c, first, count, v, &err) != NLSQ_OK) {
                fprintf(stderr, "%s could not be read (column %d, rows %zu+%zu): %s\n", what, c, first, count,
                        err.message);
                abort();
            }
        }
    }
    (void)nlsq_source_describe(s);
}

#endif
