/*
 * The fuzz targets without libFuzzer: every file of the directories (or
 * files) named on the command line, in name order, through the target's
 * LLVMFuzzerTestOneInput once. This is how the seed corpora run as
 * ordinary tests (ctest, make asan) with any compiler; a crash, a
 * sanitizer report or an abort in a target fails the test.
 */
#define _GNU_SOURCE /* scandir, alphasort */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input file through the target; 0, or -1 when it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *more = realloc(buf, cap *= 2);
            if (!more) free(buf);
            buf = more;
        }
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (!bad) LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return bad ? -1 : 0;
}

static int only_files(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    int inputs = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[a]) != 0) return fprintf(stderr, "replay: cannot read %s\n", argv[a]), 1;
            inputs++;
            continue;
        }
        struct dirent **list;
        int n = scandir(argv[a], &list, only_files, alphasort);
        if (n < 0) return fprintf(stderr, "replay: cannot list %s\n", argv[a]), 1;
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], list[k]->d_name);
            if (run_file(path) != 0) return fprintf(stderr, "replay: cannot read %s\n", path), 1;
            inputs++;
            free(list[k]);
        }
        free(list);
    }
    printf("replay: %d inputs, no crash\n", inputs);
    return inputs > 0 ? 0 : 1;
}
