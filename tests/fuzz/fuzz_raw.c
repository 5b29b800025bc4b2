/*
 * libFuzzer target over raw binary data: the --raw spec
 * (DTYPE:NCOLS[:ORDER[:OFFSET]], parsed by the command, tools/load.c) and
 * the file it describes (nlsq_source_open_raw: offset, row count from the
 * file size, byte order, planar or interleaved). The bytes up to the first
 * newline are the spec, the rest the file. The data are loaded as `nlsq
 * fit` loads them (the tools sources are compiled into this target), and a
 * file that opens must be readable to its last row.
 */
#include "fuzz_util.h"

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = fuzz_lowest_fd();
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || (size_t)(nl - data) > 200) return 0;
    char spec[201], path[64];
    memcpy(spec, data, (size_t)(nl - data));
    spec[nl - data] = '\0';
    int fd = fuzz_memfile(nl + 1, size - (size_t)(nl - data) - 1, path, sizeof path);
    if (fd < 0) abort();
    cli c;
    cli_init(&c, NULL);
    c.raw = spec;
    c.data = path;
    c.model = "a*x+b";
    dataset d;
    if (dataset_load(&c, 1, &d) == 0) {
        size_t rows = nlsq_source_num_rows(d.src);
        for (int col = 0; col < nlsq_source_num_columns(d.src); col++) {
            double *v = column_read(d.src, col, 0, rows);
            if (!v) {
                fprintf(stderr, "an opened raw file could not be read (column %d of %zu rows)\n", col, rows);
                abort();
            }
            free(v);
        }
    }
    dataset_free(&d);
    close(fd);
    fuzz_check_fds(fds);
    return 0;
}
