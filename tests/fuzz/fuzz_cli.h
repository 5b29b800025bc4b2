/*
 * What the fuzz targets over the command's own code share: arguments made
 * from fuzz bytes. The bytes are split at newlines into arguments; one
 * that starts with a control character picks with it one of the
 * command's options (the rest is that option's value), so that the
 * fuzzer spends its time on values rather than on spelling option names;
 * any other is taken as it is (seeds read like command lines).
 */
#ifndef NLSQ_TESTS_FUZZ_CLI_H
#define NLSQ_TESTS_FUZZ_CLI_H

#include <stdint.h>
#include <string.h>

#include "cli.h"

enum { MAX_ARGS = 64 };

/* The command's options in one list: up to max of them. */
static inline int list_options(const command *cmd, const option **out, int max)
{
    int n = 0;
    for (int g = 0; cmd->groups && cmd->groups[g]; g++)
        for (const option *o = cmd->groups[g]->options; o->name && n < max; o++) out[n++] = o;
    return n;
}

/* The arguments from the bytes after the `argc` already in argv[] (the
   first being the command's name), in buf (NUL-ended pieces; size + 1
   bytes); the new argc. */
static inline int make_argv(const command *cmd, int argc, const uint8_t *data, size_t size, char *buf, char **argv)
{
    const option *opts[128];
    int nopt = list_options(cmd, opts, 128);
    char *w = buf;
    size_t i = 0;
    while (i < size && argc < MAX_ARGS - 2) {
        size_t j = i;
        while (j < size && data[j] != '\n') j++;
        if (j > i && data[i] < 0x20 && nopt > 0) {
            const option *o = opts[data[i] % nopt];
            argv[argc++] = (char *)o->name;
            i++;
            if (!o->arg) {
                i = j + 1;
                continue;
            }
        }
        memcpy(w, data + i, j - i);
        w[j - i] = '\0';
        argv[argc++] = w;
        w += j - i + 1;
        i = j + 1;
    }
    argv[argc] = NULL;
    return argc;
}

#endif
