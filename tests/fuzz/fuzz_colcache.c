/*
 * libFuzzer target over the column cache's identity file (NAME.npy.names:
 * the text file's identity line, then one column name a line), the file
 * that decides whether a cache is trusted (src/fit/colcache.c). A table is
 * converted once into the scratch directory; every input then replaces
 * the .names file and opens the table again. The first byte's bit 0
 * starts the file with the true identity line (so the names are read);
 * otherwise it is all fuzz bytes.
 *
 * Whatever the .names file holds, the open must succeed with the table's
 * own numbers, and with its own names unless the file carried the true
 * identity: a damaged or foreign identity only means the cache is rebuilt.
 */
#include "fuzz_util.h"

#include "nlsq.h"

static const char TABLE[] = "t,v,w\n0,1,2\n1,3,5\n2,5,8\n3,7,11\n";

typedef struct fixture {
    char csv[4200], cache[4200], names[4300];
    char identity[512];
} fixture;

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static nlsq_source *open_table(const fixture *fx)
{
    nlsq_text_options opt = nlsq_text_options_default();
    opt.cache_path = fx->cache;
    nlsq_source *s = NULL;
    nlsq_error err;
    if (nlsq_source_open_text(fx->csv, &opt, &s, &err) != NLSQ_OK) {
        fprintf(stderr, "the table could not be opened: %s\n", err.message);
        abort();
    }
    return s;
}

/* The numbers always; the names unless the .names file carried the true
   identity (then its names are the cache's, whatever they say). */
static void check_table(nlsq_source *s, int trusted_names)
{
    static const char *names[] = {"t", "v", "w"};
    static const double w[] = {2, 5, 8, 11};
    double got[4];
    nlsq_error err;
    if (nlsq_source_num_columns(s) != 3 || nlsq_source_num_rows(s) != 4) abort();
    for (int c = 0; c < 3 && !trusted_names; c++)
        if (strcmp(nlsq_source_column_name(s, c), names[c]) != 0) {
            fprintf(stderr, "column %d is named '%s' after a damaged .names file\n", c + 1,
                    nlsq_source_column_name(s, c));
            abort();
        }
    if (nlsq_source_read(s, 2, 0, 4, got, &err) != NLSQ_OK || memcmp(got, w, sizeof w) != 0) abort();
}

/* The table, converted once; its identity line kept for the inputs. */
static const fixture *setup(void)
{
    static fixture fx;
    if (fx.identity[0]) return &fx;
    const char *dir = fuzz_scratch();
    snprintf(fx.csv, sizeof fx.csv, "%s/table.csv", dir);
    snprintf(fx.cache, sizeof fx.cache, "%s/table.npy", dir);
    snprintf(fx.names, sizeof fx.names, "%s.names", fx.cache);
    write_file(fx.csv, TABLE, sizeof TABLE - 1);
    nlsq_source_free(open_table(&fx));
    FILE *f = fopen(fx.names, "r");
    if (!f || !fgets(fx.identity, sizeof fx.identity, f)) {
        fprintf(stderr, "no identity line in %s\n", fx.names);
        abort();
    }
    fclose(f);
    return &fx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = fuzz_lowest_fd();
    if (size == 0) return 0;
    const fixture *fx = setup();
    size_t id_len = data[0] & 1 ? strlen(fx->identity) : 0;
    char *text = malloc(id_len + size);
    if (!text) return 0;
    memcpy(text, fx->identity, id_len);
    memcpy(text + id_len, data + 1, size - 1);
    write_file(fx->names, text, id_len + size - 1);
    free(text);
    nlsq_source *s = open_table(fx);
    check_table(s, data[0] & 1);
    nlsq_source_free(s);
    fuzz_check_fds(fds);
    return 0;
}
