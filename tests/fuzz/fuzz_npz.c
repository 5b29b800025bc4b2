/*
 * libFuzzer target over .npz archives (src/io/zip.c, src/io/npz.c): the
 * end records (plain and ZIP64), the central and local headers, the
 * members' .npy headers, deflate streams, CRCs and declared sizes. Each
 * input is opened whole (every member) and by name (x, y); an input of odd
 * length sends deflated members through the column cache (in the scratch
 * directory, emptied after each input) rather than memory. A source that
 * opens must be readable to its last row; a refusal must carry a message.
 */
#include "fuzz_util.h"

#include "nlsq.h"

static void open_and_read(const char *path, const char *const *members, int count)
{
    nlsq_source *s = NULL;
    nlsq_error err;
    if (nlsq_source_open_npz(path, members, count, &s, &err) == NLSQ_OK) {
        fuzz_read_rows(s, "an opened .npz");
        nlsq_source_free(s);
    } else if (s || !err.message[0]) {
        fprintf(stderr, "a refused .npz without a message, or with a source\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *scratch = fuzz_scratch();
    setenv("XDG_CACHE_HOME", scratch, 1);
    setenv("NLSQ_NPZ_INFLATE_MEMORY", size % 2 ? "0" : "64M", 1);
    int fds = fuzz_lowest_fd();
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) abort();
    static const char *const xy[] = {"x", "y"};
    open_and_read(path, NULL, 0);
    open_and_read(path, xy, 2);
    close(fd);
    fuzz_check_fds(fds);
    /* the caches of this input, and their directories (the scratch
       directory is removed at exit, and only when it is empty) */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/nlsq/columns", scratch);
    fuzz_empty_dir(dir);
    rmdir(dir);
    snprintf(dir, sizeof dir, "%s/nlsq", scratch);
    fuzz_empty_dir(dir);
    rmdir(dir);
    return 0;
}
