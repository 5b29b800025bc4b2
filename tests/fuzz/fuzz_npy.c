/*
 * libFuzzer target over .npy files: the header (magic, version, header
 * length, the dict: descr, fortran_order, shape) and the data behind it,
 * opened as the library opens any .npy (nlsq_source_open_npy: checked,
 * then mapped). A file that opens must be readable to its last row:
 * a header that claims more data than the file holds must be refused at
 * open, not found out later by a SIGBUS or a read past the mapping.
 */
#include "fuzz_util.h"

#include "nlsq.h"

/* The first and last rows of every column, and a window in the middle. */
static void read_rows(nlsq_source *s)
{
    enum { WINDOW = 256 };
    double v[WINDOW];
    nlsq_error err;
    size_t rows = nlsq_source_num_rows(s);
    size_t starts[3] = {0, rows / 2, rows > WINDOW ? rows - WINDOW : 0};
    for (int c = 0; c < nlsq_source_num_columns(s); c++)
        for (int k = 0; k < 3; k++) {
            size_t first = starts[k], count = rows - first < WINDOW ? rows - first : WINDOW;
            if (nlsq_source_read(s, c, first, count, v, &err) != NLSQ_OK) {
                fprintf(stderr, "an opened .npy could not be read (column %d, rows %zu+%zu): %s\n", c, first, count,
                        err.message);
                abort();
            }
        }
    (void)nlsq_source_describe(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = fuzz_lowest_fd();
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) abort();
    nlsq_source *s = NULL;
    nlsq_error err;
    if (nlsq_source_open_npy(path, &s, &err) == NLSQ_OK) {
        read_rows(s);
        nlsq_source_free(s);
    } else if (s || !err.message[0]) {
        fprintf(stderr, "a refused .npy without a message, or with a source\n");
        abort();
    }
    close(fd);
    fuzz_check_fds(fds);
    return 0;
}
