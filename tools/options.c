/*
 * The option parser: every command's options come from its tables
 * (cli.h), so a value is checked once, where it is parsed, by its kind —
 * a count refuses 0.5, 1e20 and nan with the same message for every
 * option — and no command repeats a check.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nlsq: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static void *field(void *args, const option *o)
{
    return (char *)args + o->at;
}

/* "a, b or c" from the choices' words. */
static void list_choices(const option *o, char *buf, size_t size)
{
    if (o->choices_text) {
        snprintf(buf, size, "%s", o->choices_text);
        return;
    }
    buf[0] = '\0';
    for (int k = 0; o->choices[k].word; k++) {
        const char *sep = k == 0 ? "" : o->choices[k + 1].word ? ", " : " or ";
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", sep, o->choices[k].word);
    }
}

static int parse_count(const option *o, const char *v, int *out)
{
    long max = o->max > 0 ? o->max : INT_MAX;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno == ERANGE || n < 1 || n > max)
        return die("%s needs a count from 1 to %ld, got '%s'", o->name, max, v);
    *out = (int)n;
    return 0;
}

static int parse_number(const option *o, const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    int ok = end != v && !*end && isfinite(d) && (o->kind == ARG_POSITIVE ? d > 0 : d >= 0);
    if (!ok)
        return die("%s needs a %s, got '%s'", o->name, o->kind == ARG_POSITIVE ? "positive number" : "number >= 0", v);
    *out = d;
    return 0;
}

static int parse_choice(const option *o, const char *v, int *out)
{
    for (int k = 0; o->choices[k].word; k++)
        if (strcmp(v, o->choices[k].word) == 0) {
            *out = o->choices[k].value;
            return 0;
        }
    char words[200];
    list_choices(o, words, sizeof words);
    return die("%s takes %s, got '%s'", o->name, words, v);
}

static int store(const option *o, const char *v, void *args)
{
    switch (o->kind) {
    case ARG_FLAG: *(int *)field(args, o) = o->set; return 0;
    case ARG_TEXT: *(const char **)field(args, o) = v; return 0;
    case ARG_COUNT: return parse_count(o, v, field(args, o));
    case ARG_NONNEG:
    case ARG_POSITIVE: return parse_number(o, v, field(args, o));
    case ARG_CHOICE: return parse_choice(o, v, field(args, o));
    case ARG_CUSTOM: return o->parse(o, v, args);
    }
    return die("%s: an option of no known kind", o->name);
}

static const option *find_in(const option_group *const *groups, const char *name)
{
    for (int g = 0; groups && groups[g]; g++)
        for (const option *o = groups[g]->options; o->name; o++)
            if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

/* An option this command does not take: name the command that does. */
static int unknown_option(const command *cmd, const char *name)
{
    for (const command *other = commands; other->name; other++)
        if (other != cmd && find_in(other->groups, name))
            return die("%s is not an option of nlsq %s (it is among the options of nlsq %s)", name, cmd->name,
                       other->name);
    return die("unknown option '%s' for nlsq %s (see nlsq help %s; an argument that starts with '-' goes after --)",
               name, cmd->name, cmd->name);
}

/* Whether an argument is meant as an option: "--name", or a dash and
   letters ("-h", a mistyped "-model"). Anything else that starts with a
   dash is an argument: a model text such as '-a*x', a number like -1.5;
   and "-" is standard input. */
static int looks_like_option(const char *a)
{
    if (a[0] != '-' || a[1] == '\0') return 0;
    if (a[1] == '-') return 1;
    for (const char *s = a + 1; *s; s++)
        if (!isalpha((unsigned char)*s) && *s != '-') return 0;
    return 1;
}

int options_parse(const command *cmd, int argc, char **argv, void *args, const char **pos, int max_pos, int *npos)
{
    *npos = 0;
    int options_ended = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_ended && strcmp(a, "--") == 0) {
            options_ended = 1; /* what follows is arguments, even "--x" */
            continue;
        }
        if (!options_ended && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            help_command(stdout, cmd);
            return -1;
        }
        if (options_ended || !looks_like_option(a)) {
            if (*npos == max_pos) {
                if (max_pos == 0) return die("nlsq %s takes no argument, got '%s'", cmd->name, a);
                return die("too many arguments for nlsq %s: '%s' (usage: nlsq %s %s)", cmd->name, a, cmd->name,
                           cmd->synopsis);
            }
            pos[(*npos)++] = a;
            continue;
        }
        const option *o = find_in(cmd->groups, a);
        if (!o) return unknown_option(cmd, a);
        const char *v = NULL;
        if (o->arg) {
            if (i + 1 >= argc) return die("option %s needs a value", a);
            v = argv[++i];
        }
        int rc = store(o, v, args);
        if (rc) return rc;
    }
    return 0;
}
