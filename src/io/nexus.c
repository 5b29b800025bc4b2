/*
 * The NeXus default plot from attribute values (see nexus.h). The rules
 * followed: the root's @default names an NXentry, the entry's @default an
 * NXdata (else the first group of that class); the NXdata's @signal names
 * the signal and @axes one entry per dimension of the signal, "." for a
 * dimension without an axis; the signal's uncertainties are the dataset
 * "<signal>_errors", or "errors". The older conventions are accepted too:
 * the attribute signal=1 on the signal dataset, and @axes ("x:y") on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nexus.h"

int nexus_pick_child(const char *default_name, const char *const *names, const char *const *classes, int n,
                     const char *nx_class)
{
    if (default_name && *default_name)
        for (int i = 0; i < n; i++)
            if (names[i] && strcmp(names[i], default_name) == 0) return i;
    for (int i = 0; i < n; i++)
        if (classes[i] && strcmp(classes[i], nx_class) == 0) return i;
    return -1;
}

static int is_separator(char c)
{
    return c == ':' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '[' || c == ']' ||
           c == '\'' || c == '"';
}

int nexus_split_axes(const char *text, char (*out)[NEXUS_NAME_MAX], int max)
{
    int n = 0;
    const char *s = text ? text : "";
    while (*s && n < max) {
        while (*s && is_separator(*s)) s++;
        if (!*s) break;
        size_t len = 0;
        while (s[len] && !is_separator(s[len])) len++;
        size_t keep = len < NEXUS_NAME_MAX - 1 ? len : NEXUS_NAME_MAX - 1;
        memcpy(out[n], s, keep);
        out[n][keep] = '\0';
        n++;
        s += len;
    }
    return n;
}

static int member_named(const nexus_group *g, const char *name)
{
    for (int i = 0; name && i < g->nmembers; i++)
        if (g->members[i].name && strcmp(g->members[i].name, name) == 0) return i;
    return -1;
}

/* A dataset member fit to be a column: numeric, 1-D. */
static int usable(const nexus_group *g, int i, const char *role, char *why, size_t why_size)
{
    const nexus_member *m = &g->members[i];
    if (!m->is_dataset)
        snprintf(why, why_size, "the %s '%s' is a group, not a dataset", role, m->name);
    else if (!m->numeric)
        snprintf(why, why_size, "the %s '%s' is not numeric", role, m->name);
    else if (m->rank != 1)
        snprintf(why, why_size, "the %s '%s' is %d-D; only a 1-D signal is plotted as y", role, m->name, m->rank);
    else
        return 1;
    return 0;
}

static int find_signal(const nexus_group *g, char *why, size_t why_size)
{
    if (g->signal && *g->signal) {
        int i = member_named(g, g->signal);
        if (i < 0) snprintf(why, why_size, "@signal names '%s', which is not in the group", g->signal);
        return i;
    }
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i].signal_attr && atoi(g->members[i].signal_attr) == 1) return i;
    snprintf(why, why_size, "no @signal on the group and no dataset with signal=1");
    return -1;
}

int nexus_find_plot(const nexus_group *g, nexus_plot *p, char *why, size_t why_size)
{
    memset(p, 0, sizeof *p);
    p->errors = -1;
    if ((p->signal = find_signal(g, why, why_size)) < 0 || !usable(g, p->signal, "signal", why, why_size)) return -1;
    /* the axes: the group's @axes, else the signal's own (older) */
    char names[NEXUS_MAX_AXES][NEXUS_NAME_MAX];
    int naxes = 0;
    if (g->naxes > 0) {
        for (int k = 0; k < g->naxes && naxes < NEXUS_MAX_AXES; k++) {
            /* one string may hold several ("x:y"), as older files write */
            naxes += nexus_split_axes(g->axes[k], names + naxes, NEXUS_MAX_AXES - naxes);
        }
    } else if (g->members[p->signal].axes_attr) {
        naxes = nexus_split_axes(g->members[p->signal].axes_attr, names, NEXUS_MAX_AXES);
    }
    /* a 1-D signal has one dimension: the first entry is its axis */
    if (naxes < 1 || strcmp(names[0], ".") == 0) {
        snprintf(why, why_size, "the signal '%s' has no axis (@axes %s): name the x and y datasets",
                 g->members[p->signal].name, naxes < 1 ? "is missing" : "is \".\"");
        return -1;
    }
    int a = member_named(g, names[0]);
    if (a < 0) {
        snprintf(why, why_size, "@axes names '%s', which is not in the group", names[0]);
        return -1;
    }
    if (!usable(g, a, "axis", why, why_size)) return -1;
    p->axes[p->naxes++] = a;
    /* the uncertainties */
    char errname[NEXUS_NAME_MAX + 8];
    snprintf(errname, sizeof errname, "%s_errors", g->members[p->signal].name);
    int e = member_named(g, errname);
    if (e < 0) e = member_named(g, "errors");
    if (e >= 0 && e != p->signal && g->members[e].is_dataset && g->members[e].numeric && g->members[e].rank == 1)
        p->errors = e;
    return 0;
}
