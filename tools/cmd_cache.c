/* nlsq cache [clear]: where compiled kernels and text tables' column
   caches are kept, how many, and removing them. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void show(const char *what, const char *whats, double unit, const char *unit_name, int clear,
                 const nlsq_cache_info *ci)
{
    const char *noun = ci->count == 1 ? what : whats;
    if (clear)
        printf("removed %d %s (%.1f %s) from %s", ci->count, noun, (double)ci->bytes / unit, unit_name, ci->dir);
    else
        printf("%s: %d %s, %.1f %s", ci->dir, ci->count, noun, (double)ci->bytes / unit, unit_name);
    /* files being written, or left by a killed run: not caches */
    if (ci->temporaries)
        printf("%s %d temporary file%s (%.1f %s)", clear ? ", and" : "; and", ci->temporaries,
               ci->temporaries == 1 ? "" : "s", (double)ci->temporary_bytes / unit, unit_name);
    putchar('\n');
}

int cmd_cache(const cli_env *env, int argc, char **argv)
{
    (void)env; /* runs alone */
    const char *pos[1];
    int npos, rc = options_parse(command_find("cache"), argc, argv, NULL, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    int clear = npos == 1 && strcmp(pos[0], "clear") == 0;
    if (npos == 1 && !clear) return die("usage: nlsq cache [clear]");
    nlsq_cache_info ci;
    nlsq_error err;
    if ((clear ? nlsq_kernel_cache_clear : nlsq_kernel_cache_info)(&ci, &err) != NLSQ_OK) return die("%s", err.message);
    show("compiled kernel", "compiled kernels", 1e3, "kB", clear, &ci);
    if ((clear ? nlsq_column_cache_clear : nlsq_column_cache_info)(&ci, &err) != NLSQ_OK) return die("%s", err.message);
    show("column cache of text tables", "column caches of text tables", 1e6, "MB", clear, &ci);
    return 0;
}
