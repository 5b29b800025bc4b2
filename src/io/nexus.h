/*
 * The NeXus default plot, as pure functions over attribute values already
 * read (no HDF5 call here, so that the interpretation can be fuzzed on
 * its own): which child group @default names, how an @axes string splits,
 * and which datasets of an NXdata group are the axes, the signal and its
 * errors.
 */
#ifndef NLSQ_IO_NEXUS_H
#define NLSQ_IO_NEXUS_H

#include <stddef.h>

enum { NEXUS_NAME_MAX = 256, NEXUS_MAX_AXES = 8 };

/* One member of an NXdata group, as the reader found it. */
typedef struct nexus_member {
    const char *name;
    int is_dataset, numeric, rank;
    unsigned long long length; /* the first dimension */
    const char *signal_attr;   /* the older convention: @signal on the dataset ("1"), or NULL */
    const char *axes_attr;     /* the older convention: @axes on the signal ("x:y"), or NULL */
} nexus_member;

typedef struct nexus_group {
    const char *signal;      /* the group's @signal, or NULL */
    const char *const *axes; /* the group's @axes entries (a string is one entry) */
    int naxes;
    const nexus_member *members;
    int nmembers;
} nexus_group;

/* Member indices: the axes used as x (in order), the signal, its errors (-1: none). */
typedef struct nexus_plot {
    int axes[NEXUS_MAX_AXES], naxes;
    int signal, errors;
} nexus_plot;

/* The child a group's @default names when there is one of that name,
   else the first of class nx_class; -1 when neither. classes[i] may be
   NULL (no NX_class). */
int nexus_pick_child(const char *default_name, const char *const *names, const char *const *classes, int n,
                     const char *nx_class);
/* An @axes value split into names: at ':', ',' and blanks, brackets and
   quotes dropped ("[x, y]", "x:y", "'x'"); a name longer than
   NEXUS_NAME_MAX-1 is cut. The number of names (at most max). */
int nexus_split_axes(const char *text, char (*out)[NEXUS_NAME_MAX], int max);
/* The plot of an NXdata group: 0, or -1 with the reason in why. */
int nexus_find_plot(const nexus_group *g, nexus_plot *p, char *why, size_t why_size);

#endif
