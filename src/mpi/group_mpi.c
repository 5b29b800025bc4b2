/*
 * libnlsq_mpi: an nlsq_group over an MPI communicator. The core library
 * asks for three things — send to a rank, receive from one, broadcast —
 * and gets them here as nonblocking MPI calls finished by a polling loop
 * with a deadline, so that no wait lasts longer than the timeout: a rank
 * that died or hangs ends the job with one line instead of a hang. The
 * loop spins a little before it sleeps, because a pass's messages are
 * small and usually arrive within microseconds, and a sleeping rank would
 * add the scheduler's latency to every tree level.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nlsq_mpi.h"

struct nlsq_mpi {
    MPI_Comm comm;  /* our duplicate                                  */
    nlsq_group group;
    int rank, size, local_rank, local_size;
    double timeout;
    int message_fd, abort_code;
    nlsq_mpi_stats stats;
};

/* The largest count one MPI call takes (an int); bigger buffers go in
   pieces of this many bytes. */
#define PIECE ((size_t)1 << 30)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void say(const nlsq_mpi *m, const char *fmt, ...)
{
    char line[600];
    int used = snprintf(line, sizeof line, "nlsq-mpi: rank %d of %d: ", m->rank, m->size);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + used, sizeof line - (size_t)used, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    if (n + 1 < sizeof line) line[n++] = '\n';
    (void)!write(m->message_fd >= 0 ? m->message_fd : STDERR_FILENO, line, n);
}

void nlsq_mpi_abort(const nlsq_mpi *mpi, const char *message)
{
    say(mpi, "%s; ending the job", message);
    MPI_Abort(mpi->comm, mpi->abort_code);
    _exit(mpi->abort_code); /* MPI_Abort should not return */
}

static void fail_mpi(const nlsq_mpi *m, int code, const char *what, int peer)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", code);
    char msg[400];
    snprintf(msg, sizeof msg, "%s %s rank %d failed: %.200s", what, strcmp(what, "a send") == 0 ? "to" : "from", peer,
             text);
    nlsq_mpi_abort(m, msg);
}

/* Finish `req` or end the job when the timeout passes. MPI moves a
   nonblocking message (and forwards a broadcast through this rank) only
   inside an MPI call, so the loop keeps calling MPI_Test: flat out for
   the first 100 us, then yielding the core between calls for 10 ms (a
   slower rank's share still being folded), and only then sleeping — 50
   us, and 1 ms past a second — so a long wait costs no CPU. */
static void wait_bounded(nlsq_mpi *m, MPI_Request *req, const char *what, int peer)
{
    double t0 = now(), deadline = t0 + m->timeout;
    for (long polls = 0;; polls++) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) fail_mpi(m, rc, what, peer);
        if (done) break;
        if (polls % 64 != 63) continue; /* the clock is read now and then */
        double t = now(), waited = t - t0;
        if (waited < 100e-6) continue;
        if (waited < 10e-3) {
            sched_yield();
            continue;
        }
        struct timespec pause = {0, waited < 1 ? 50000 : 1000000};
        nanosleep(&pause, NULL);
        if (t > deadline) {
            char msg[300];
            if (peer < 0) /* a collective of every rank */
                snprintf(msg, sizeof msg,
                         "waited %.0f s for %s (a rank died, hangs or cannot be reached; "
                         "NLSQ_MPI_TIMEOUT sets the wait)",
                         m->timeout, what);
            else
                snprintf(msg, sizeof msg,
                         "waited %.0f s for %s %s rank %d (it died, hangs or cannot be reached; "
                         "NLSQ_MPI_TIMEOUT sets the wait)",
                         m->timeout, what, strcmp(what, "a send") == 0 ? "to" : "from", peer);
            nlsq_mpi_abort(m, msg);
        }
    }
    m->stats.seconds += now() - t0;
    m->stats.messages++;
}

static int group_send(void *ctx, int to, int tag, const void *buf, size_t bytes)
{
    nlsq_mpi *m = ctx;
    for (size_t at = 0; at < bytes; at += PIECE) {
        size_t n = bytes - at < PIECE ? bytes - at : PIECE;
        MPI_Request req;
        int rc = MPI_Isend((const char *)buf + at, (int)n, MPI_BYTE, to, tag, m->comm, &req);
        if (rc != MPI_SUCCESS) fail_mpi(m, rc, "a send", to);
        wait_bounded(m, &req, "a send", to);
    }
    m->stats.bytes_sent += bytes;
    return 0;
}

static int group_recv(void *ctx, int from, int tag, void *buf, size_t bytes)
{
    nlsq_mpi *m = ctx;
    for (size_t at = 0; at < bytes; at += PIECE) {
        size_t n = bytes - at < PIECE ? bytes - at : PIECE;
        MPI_Request req;
        int rc = MPI_Irecv((char *)buf + at, (int)n, MPI_BYTE, from, tag, m->comm, &req);
        if (rc != MPI_SUCCESS) fail_mpi(m, rc, "a message", from);
        wait_bounded(m, &req, "a message", from);
    }
    m->stats.bytes_received += bytes;
    return 0;
}

static int group_bcast(void *ctx, int root, void *buf, size_t bytes)
{
    nlsq_mpi *m = ctx;
    for (size_t at = 0; at < bytes; at += PIECE) {
        size_t n = bytes - at < PIECE ? bytes - at : PIECE;
        MPI_Request req;
        int rc = MPI_Ibcast((char *)buf + at, (int)n, MPI_BYTE, root, m->comm, &req);
        if (rc != MPI_SUCCESS) fail_mpi(m, rc, "a broadcast", root);
        wait_bounded(m, &req, "a broadcast", root);
    }
    if (m->rank == root)
        m->stats.bytes_sent += bytes;
    else
        m->stats.bytes_received += bytes;
    return 0;
}

nlsq_mpi_options nlsq_mpi_options_default(void)
{
    nlsq_mpi_options o = {0, -1, 0};
    return o;
}

static double timeout_of(const nlsq_mpi_options *o)
{
    if (o->timeout > 0) return o->timeout;
    const char *env = getenv("NLSQ_MPI_TIMEOUT");
    char *end;
    double t = env ? strtod(env, &end) : 0;
    return env && end != env && *end == '\0' && t > 0 ? t : 600;
}

nlsq_status nlsq_mpi_open(MPI_Comm comm, const nlsq_mpi_options *opt, nlsq_mpi **out, nlsq_error *err)
{
    nlsq_mpi_options o = opt ? *opt : nlsq_mpi_options_default();
    if (err) memset(err, 0, sizeof *err);
    if (!out) {
        if (err) snprintf(err->message, sizeof err->message, "nlsq_mpi_open: out is NULL");
        if (err) err->code = NLSQ_ERR_INVALID_ARGUMENT;
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    int ready = 0, level = 0;
    MPI_Initialized(&ready);
    if (ready) MPI_Query_thread(&level);
    const char *bad = !ready ? "MPI is not initialised (call MPI_Init_thread first)"
                    : level < MPI_THREAD_FUNNELED ? "MPI was initialised below MPI_THREAD_FUNNELED"
                    : comm == MPI_COMM_NULL ? "the communicator is MPI_COMM_NULL"
                                            : NULL;
    nlsq_mpi *m = bad ? NULL : calloc(1, sizeof *m);
    if (!bad && !m) bad = "out of memory";
    if (bad) {
        if (err) {
            err->code = bad[0] == 'o' ? NLSQ_ERR_NOMEM : NLSQ_ERR_INVALID_ARGUMENT;
            snprintf(err->message, sizeof err->message, "nlsq_mpi_open: %s", bad);
        }
        free(m);
        return bad[0] == 'o' ? NLSQ_ERR_NOMEM : NLSQ_ERR_INVALID_ARGUMENT;
    }
    m->timeout = timeout_of(&o);
    m->message_fd = o.message_fd;
    m->abort_code = o.abort_code ? o.abort_code : 3;
    MPI_Comm_dup(comm, &m->comm);
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    MPI_Comm node;
    if (MPI_Comm_split_type(m->comm, MPI_COMM_TYPE_SHARED, m->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &m->local_rank);
        MPI_Comm_size(node, &m->local_size);
        MPI_Comm_free(&node);
    } else {
        m->local_rank = 0;
        m->local_size = 1;
    }
    m->group = (nlsq_group){m->rank, m->size, m, group_send, group_recv, group_bcast};
    *out = m;
    return NLSQ_OK;
}

nlsq_status nlsq_mpi_open_fortran(int64_t fcomm, const nlsq_mpi_options *opt, nlsq_mpi **out, nlsq_error *err)
{
    return nlsq_mpi_open(MPI_Comm_f2c((MPI_Fint)fcomm), opt, out, err);
}

void nlsq_mpi_close(nlsq_mpi *mpi)
{
    if (!mpi) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
        /* every rank here before any goes on to MPI_Finalize, whose own
           wait for the others is not bounded: a rank that hangs after the
           last message of a fit still ends the job */
        MPI_Request req;
        if (MPI_Ibarrier(mpi->comm, &req) == MPI_SUCCESS) wait_bounded(mpi, &req, "every rank to close the group", -1);
        MPI_Comm_free(&mpi->comm);
    }
    free(mpi);
}

const nlsq_group *nlsq_mpi_group(const nlsq_mpi *mpi)
{
    return mpi ? &mpi->group : NULL;
}

int nlsq_mpi_rank(const nlsq_mpi *mpi)
{
    return mpi ? mpi->rank : 0;
}

int nlsq_mpi_size(const nlsq_mpi *mpi)
{
    return mpi ? mpi->size : 1;
}

int nlsq_mpi_local_rank(const nlsq_mpi *mpi)
{
    return mpi ? mpi->local_rank : 0;
}

int nlsq_mpi_local_size(const nlsq_mpi *mpi)
{
    return mpi ? mpi->local_size : 1;
}

void nlsq_mpi_stats_get(const nlsq_mpi *mpi, nlsq_mpi_stats *out)
{
    if (mpi)
        *out = mpi->stats;
    else
        memset(out, 0, sizeof *out);
}

void nlsq_mpi_stats_reset(nlsq_mpi *mpi)
{
    if (mpi) memset(&mpi->stats, 0, sizeof mpi->stats);
}
