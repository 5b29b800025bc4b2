/*
 * The command's output files, through the library's nlsq_output_* (every
 * file nlsq writes follows the same rules: whole or not at all, symlinks
 * followed, FIFOs and devices written in place, "-" the standard output).
 * What the command adds: every output is checked before any work is done,
 * against the inputs too, and each message names the option.
 */
#define _POSIX_C_SOURCE 200809L /* fstat */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "present.h"

/* Whether two outputs are one file: the same name, or the same existing
   file by device and inode. The standard output may take several. */
static int same_output(const char *a, const char *b)
{
    if (strcmp(a, "-") == 0 || strcmp(b, "-") == 0) return 0;
    struct stat sa, sb;
    return strcmp(a, b) == 0 || (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
                                 sa.st_ino == sb.st_ino && S_ISREG(sa.st_mode));
}

int outputs_check(const output_file *outs, size_t nouts, const char *const *inputs, size_t ninputs)
{
    /* "-" as an input is the standard input: /dev/stdin names the file the
       shell redirected it from, so `nlsq fit - --predict d.csv < d.csv`
       is refused as any other input would be. */
    const char *named[MAX_DATA_FILES];
    char files[MAX_DATA_FILES][1024];
    size_t n = 0;
    for (size_t i = 0; i < ninputs && n < MAX_DATA_FILES; i++) {
        if (!inputs[i]) continue;
        /* "FILE:NAMES" (datasets of an HDF5 file, members of an .npz):
           the file itself */
        struct stat st;
        const char *colon = strrchr(inputs[i], ':');
        if (colon && stat(inputs[i], &st) != 0 && (size_t)(colon - inputs[i]) < sizeof files[n]) {
            snprintf(files[n], sizeof files[n], "%.*s", (int)(colon - inputs[i]), inputs[i]);
            for (char *c; stat(files[n], &st) != 0 && (c = strrchr(files[n], ':')) != NULL;) *c = '\0';
            named[n] = files[n];
            n++;
            continue;
        }
        named[n++] = strcmp(inputs[i], "-") == 0 ? "/dev/stdin" : inputs[i];
    }
    for (size_t i = 0; i < nouts; i++) {
        if (!outs[i].path) continue;
        nlsq_error err;
        if (nlsq_output_check(outs[i].path, named, n, &err) != NLSQ_OK)
            return die("%s: %s", outs[i].option, err.message);
        for (size_t j = 0; j < i; j++)
            if (outs[j].path && same_output(outs[i].path, outs[j].path))
                return die("%s %s: is also the %s file", outs[i].option, outs[i].path, outs[j].option);
    }
    return 0;
}

int output_must_be_file(const char *what, const char *path)
{
    struct stat st, out;
    if (!path) return 0;
    int standard_output = strcmp(path, "-") == 0 || (stat(path, &st) == 0 && fstat(STDOUT_FILENO, &out) == 0 &&
                                                     st.st_dev == out.st_dev && st.st_ino == out.st_ino);
    if (!standard_output && (stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return 0; /* missing, a file, or a directory (refused by outputs_check) */
    return die("%s %s: is %s (what is written there is read back: give a file name)", what, path,
               standard_output ? "the standard output" : "not a regular file");
}

nlsq_output *output_open(const char *what, const char *path)
{
    nlsq_output *o = NULL;
    nlsq_error err;
    /* what the command printed before goes first when the output is the
       standard output, or a file that shares its descriptor's place */
    fflush(stdout);
    if (nlsq_output_open(path, &o, &err) != NLSQ_OK) die("%s: %s", what, err.message);
    return o;
}

int output_commit(const char *what, nlsq_output *o)
{
    nlsq_error err;
    return nlsq_output_commit(o, &err) == NLSQ_OK ? 0 : die("%s: %s", what, err.message);
}
