/*
 * The command run by every process of a group (nlsq-mpi, docs/cli.md):
 * every process computes (the library's passes, batches, searches and
 * bootstrap are collective), process 0 alone prints and writes files.
 *
 * The command's own steps that can fail on one process only (opening the
 * data, an output file) must not leave the others waiting in the next
 * collective call: cli_agree and cli_lead make such a status common before
 * the processes go on. They move bytes through the nlsq_group's calls, so
 * this file links no MPI (it is part of nlsq too, where they do nothing).
 */
#define _POSIX_C_SOURCE 200809L /* pread */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Tags of the command's own messages: above the library's (0x100-0x7ff). */
enum { CLI_TAG_AGREE = 0x7100 };

/* What a process tells process 0 in cli_agree. */
typedef struct agree_msg {
    int rc;
    char text[400]; /* its last line on stderr */
} agree_msg;

static const nlsq_group *group_of(const cli *c)
{
    const nlsq_group *g = c->env ? c->env->group : NULL;
    return g && g->size > 1 ? g : NULL;
}

int cli_writes(const cli *c)
{
    return !group_of(c) || c->env->rank == 0;
}

/* The last line this process wrote to its captured stderr ("" if none). */
static void last_message(const cli *c, char *out, size_t size)
{
    out[0] = '\0';
    struct stat st;
    int fd = c->env->captured_fd;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) return;
    char buf[400];
    off_t at = st.st_size > (off_t)sizeof buf - 1 ? st.st_size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, at);
    if (n <= 0) return;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    const char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    /* die()'s "nlsq: " is said once, by process 0 */
    if (strncmp(line, "nlsq: ", 6) == 0) line += 6;
    snprintf(out, size, "%s", line);
}

int cli_agree(const cli *c, int rc)
{
    const nlsq_group *g = group_of(c);
    if (!g) return rc;
    agree_msg m;
    memset(&m, 0, sizeof m);
    m.rc = rc;
    if (g->rank != 0) {
        if (rc) last_message(c, m.text, sizeof m.text);
        if (g->send(g->ctx, 0, CLI_TAG_AGREE, &m, sizeof m) != 0) return 2;
    } else {
        /* every process's message is taken, in rank order, so that none
           is left unread; the first failure decides */
        for (int q = 1; q < g->size; q++) {
            agree_msg w;
            if (g->recv(g->ctx, q, CLI_TAG_AGREE, &w, sizeof w) != 0) return 2;
            if (w.rc && !m.rc) {
                w.text[sizeof w.text - 1] = '\0';
                fprintf(stderr, "nlsq: process %d of %d: %s\n", q, g->size,
                        w.text[0] ? w.text : "failed (it printed no reason)");
                m.rc = w.rc;
            }
        }
    }
    if (g->bcast(g->ctx, 0, &m.rc, sizeof m.rc) != 0) return 2;
    return m.rc;
}

int cli_lead(const cli *c, int rc)
{
    const nlsq_group *g = group_of(c);
    if (!g) return rc;
    int v = rc;
    if (g->bcast(g->ctx, 0, &v, sizeof v) != 0) return 2;
    return v;
}

void cli_pick_device(cli *c)
{
    const char *asked = c->opt.device;
    if (!group_of(c) || !asked || strcmp(asked, "cuda") != 0) return;
    nlsq_device dev[16];
    char why[300];
    int n = 0;
    /* no GPU here: "cuda" stays, and the library says why it cannot run */
    if (nlsq_device_list(dev, 16, &n, why, sizeof why, NULL) != NLSQ_OK || n <= 0) return;
    snprintf(c->device_buf, sizeof c->device_buf, "cuda:%d", c->env->local_rank % n);
    c->opt.device = c->device_buf;
}
