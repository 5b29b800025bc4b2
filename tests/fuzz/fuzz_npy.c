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
        fuzz_read_rows(s, "an opened .npy");
        nlsq_source_free(s);
    } else if (s || !err.message[0]) {
        fprintf(stderr, "a refused .npy without a message, or with a source\n");
        abort();
    }
    close(fd);
    fuzz_check_fds(fds);
    return 0;
}
