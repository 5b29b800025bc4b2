/*
 * libFuzzer target over the text table reader, both ways a table is read:
 * whole into memory (nlsq_source_load_text_buffer) and streamed through a
 * column cache (nlsq_source_open_text, which converts the text into a .npy
 * and a .names file and maps them). The first byte picks the delimiter
 * (found, ',', ';', tab or blanks); the rest is the file, with anything in
 * it: quotes, a BOM, NUL bytes, CR, ragged rows.
 *
 * The library promises the same numbers either way (src/fit/source_load.c),
 * so besides "no crash, no leak" the two must agree: both refuse, or both
 * give the same columns, names and bits.
 */
#include "fuzz_util.h"

#include <assert.h>

#include "nlsq.h"

static const char DELIMS[] = {0, ',', ';', '\t', ' '};

/* Every value of every column, or NULL (out of memory: the caller skips). */
static double *read_all(nlsq_source *s, size_t *count)
{
    size_t rows = nlsq_source_num_rows(s), cols = (size_t)nlsq_source_num_columns(s);
    *count = rows * cols;
    double *v = malloc((*count ? *count : 1) * sizeof *v);
    if (!v) return NULL;
    nlsq_error err;
    for (size_t c = 0; c < cols; c++)
        if (nlsq_source_read(s, (int)c, 0, rows, v + c * rows, &err) != NLSQ_OK) {
            fprintf(stderr, "reading column %zu back failed: %s\n", c, err.message);
            abort();
        }
    return v;
}

static void same_tables(nlsq_source *a, nlsq_source *b)
{
    if (nlsq_source_num_rows(a) != nlsq_source_num_rows(b) ||
        nlsq_source_num_columns(a) != nlsq_source_num_columns(b)) {
        fprintf(stderr, "in memory %zu x %d, through the column cache %zu x %d\n", nlsq_source_num_rows(a),
                nlsq_source_num_columns(a), nlsq_source_num_rows(b), nlsq_source_num_columns(b));
        abort();
    }
    for (int c = 0; c < nlsq_source_num_columns(a); c++)
        if (strcmp(nlsq_source_column_name(a, c), nlsq_source_column_name(b, c)) != 0) {
            fprintf(stderr, "column %d named '%s' in memory, '%s' through the cache\n", c + 1,
                    nlsq_source_column_name(a, c), nlsq_source_column_name(b, c));
            abort();
        }
    size_t na, nb;
    double *va = read_all(a, &na), *vb = read_all(b, &nb);
    if (va && vb && memcmp(va, vb, na * sizeof *va) != 0) {
        fprintf(stderr, "the values differ between memory and the column cache\n");
        abort();
    }
    free(va);
    free(vb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = fuzz_lowest_fd();
    if (size == 0) return 0;
    nlsq_text_options opt = nlsq_text_options_default();
    opt.delimiter = DELIMS[data[0] % sizeof DELIMS];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    nlsq_source *mem = NULL, *cached = NULL;
    nlsq_error e1, e2;
    nlsq_status s1 = nlsq_source_load_text_buffer(text, len, "fuzz.csv", &opt, &mem, &e1);
    if (s1 == NLSQ_OK) assert(mem && nlsq_source_num_columns(mem) >= 1 && nlsq_source_num_rows(mem) >= 1);
    if (s1 != NLSQ_OK) assert(!mem && e1.message[0]);

    /* the same bytes as a file, through a column cache in the scratch directory */
    char path[64], cache[4200];
    int fd = fuzz_memfile((const uint8_t *)text, len, path, sizeof path);
    if (fd < 0) abort();
    snprintf(cache, sizeof cache, "%s/cache.npy", fuzz_scratch());
    opt.cache_path = cache;
    nlsq_status s2 = nlsq_source_open_text(path, &opt, &cached, &e2);
    close(fd);
    /* an empty file is refused before it is read in memory; the cache may say so differently */
    if (len > 0 && (s1 == NLSQ_OK) != (s2 == NLSQ_OK)) {
        fprintf(stderr, "in memory: %s; through the column cache: %s\n", s1 == NLSQ_OK ? "read" : e1.message,
                s2 == NLSQ_OK ? "read" : e2.message);
        abort();
    }
    if (s1 == NLSQ_OK && s2 == NLSQ_OK) same_tables(mem, cached);
    nlsq_source_free(mem);
    nlsq_source_free(cached);
    fuzz_empty_dir(fuzz_scratch());
    fuzz_check_fds(fds);
    return 0;
}
