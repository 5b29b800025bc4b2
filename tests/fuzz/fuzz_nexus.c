/*
 * libFuzzer target over the NeXus default-plot logic (src/io/nexus.c):
 * arbitrary attribute values and group members, as the HDF5 reader would
 * hand them over: @default and NX_class (nexus_pick_child), @axes strings
 * (nexus_split_axes) and the NXdata group's @signal, @axes and members
 * with their older signal=1 / axes attributes (nexus_find_plot). What it
 * picks must be a member that can be a column; a refusal must say why.
 *
 * HDF5 files themselves are not fuzzed here: opened from memory (the
 * core driver), Debian's HDF5 1.10.8 crashes (SIGSEGV in H5F__accum_read
 * under H5HL_protect) within seconds of libFuzzer mutating a 6 kB file,
 * which no caller can prevent; the malformed files of tests/test_hdf5*
 * are the reader's checks.
 *
 * The input, as lines: the group's @signal ("-": none), its @axes entries
 * separated by '|', then one member a line: NAME<TAB>FLAGS<TAB>SIGNAL<TAB>AXES,
 * FLAGS holding 'd' (a dataset), 'n' (numeric) and a digit (the rank);
 * SIGNAL doubles as the member's NX_class for nexus_pick_child, with the
 * group's @signal as @default.
 */
#include "fuzz_util.h"

#include "io/nexus.h"

enum { MAX_MEMBERS = 64, MAX_GROUP_AXES = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of text (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **at, char *end)
{
    if (*at >= end) return NULL;
    char *line = *at, *nl = memchr(line, '\n', (size_t)(end - line));
    if (!nl) nl = end;
    *nl = '\0';
    *at = nl + 1;
    return line;
}

/* The next TAB-separated field of a line (the line's rest when last). */
static char *next_field(char **s)
{
    if (!*s) return NULL;
    char *f = *s, *tab = strchr(f, '\t');
    if (tab) {
        *tab = '\0';
        *s = tab + 1;
    } else {
        *s = NULL;
    }
    return f;
}

static void check_split(const char *text)
{
    char out[NEXUS_MAX_AXES][NEXUS_NAME_MAX];
    int n = nexus_split_axes(text, out, NEXUS_MAX_AXES);
    if (n < 0 || n > NEXUS_MAX_AXES) abort();
    for (int i = 0; i < n; i++)
        if (!out[i][0] || strlen(out[i]) >= NEXUS_NAME_MAX || strpbrk(out[i], ":, \t[]'\"")) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *at = text, *end = text + size;
    char *signal = next_line(&at, end), *axes_line = next_line(&at, end);
    if (signal && strcmp(signal, "-") == 0) signal = NULL;
    const char *axes[MAX_GROUP_AXES];
    int naxes = 0;
    for (char *s = axes_line, *bar; s && naxes < MAX_GROUP_AXES; s = bar ? bar + 1 : NULL) {
        bar = strchr(s, '|');
        if (bar) *bar = '\0';
        if (*s || bar) axes[naxes++] = s;
        check_split(s);
    }
    nexus_member m[MAX_MEMBERS];
    const char *names[MAX_MEMBERS], *classes[MAX_MEMBERS];
    int n = 0;
    for (char *line; n < MAX_MEMBERS && (line = next_line(&at, end)) != NULL; n++) {
        char *rest = line, *flags;
        memset(&m[n], 0, sizeof m[n]);
        m[n].name = next_field(&rest);
        flags = next_field(&rest);
        m[n].signal_attr = next_field(&rest);
        m[n].axes_attr = next_field(&rest);
        for (const char *f = flags ? flags : ""; *f; f++) {
            if (*f == 'd') m[n].is_dataset = 1;
            if (*f == 'n') m[n].numeric = 1;
            if (*f >= '0' && *f <= '9') m[n].rank = *f - '0';
        }
        m[n].length = (unsigned long long)n * 1000u;
        names[n] = m[n].name;
        classes[n] = m[n].signal_attr;
        if (m[n].axes_attr) check_split(m[n].axes_attr);
    }
    int pick = nexus_pick_child(signal, names, classes, n, "NXdata");
    if (pick < -1 || pick >= n) abort();
    nexus_group g = {signal, axes, naxes, m, n};
    nexus_plot p;
    char why[300] = "";
    if (nexus_find_plot(&g, &p, why, sizeof why) == 0) {
        if (p.signal < 0 || p.signal >= n || p.naxes < 1 || p.naxes > NEXUS_MAX_AXES) abort();
        const nexus_member *s = &m[p.signal];
        if (!s->is_dataset || !s->numeric || s->rank != 1) abort();
        for (int k = 0; k < p.naxes; k++) {
            if (p.axes[k] < 0 || p.axes[k] >= n) abort();
            const nexus_member *a = &m[p.axes[k]];
            if (!a->is_dataset || !a->numeric || a->rank != 1) abort();
        }
        if (p.errors < -1 || p.errors >= n || p.errors == p.signal) abort();
    } else if (!why[0] || !memchr(why, '\0', sizeof why)) {
        abort();
    }
    free(text);
    return 0;
}
