/*
 * A mapped data file that shrinks under a fit. Reading a page of a shared
 * mapping that now lies beyond the file's end raises SIGBUS, which kills
 * the process without a word — the fit, and a Python session with it.
 *
 * Two checks keep that from happening and from passing unnoticed:
 *
 *  - between passes (and before and after each), the source compares the
 *    open file's size and modification time with those it was opened with
 *    (source_check in source.c): cheap, one fstat a pass, and it catches
 *    every change made while no pass runs, shrinking or not;
 *  - inside a pass, where the race is, this SIGBUS handler. When the
 *    faulting address lies in one of the mappings registered here, it
 *    maps zero pages over the rest of that mapping (mmap MAP_FIXED, which
 *    Linux performs as a plain system call, safe in a handler), marks the
 *    mapping as hit, and returns: the faulting load is retried and reads a
 *    zero, the pass ends normally with numbers that mean nothing, and the
 *    check after the pass turns the mark into an error that names the
 *    file. A fault anywhere else goes to the handler that was there before
 *    (or, for the default action, the signal is raised again as it would
 *    have been).
 *
 * Why not sigsetjmp/siglongjmp out of the pass: the fault happens inside
 * the pass's worker threads, in the interpreter or in compiled kernels,
 * while the pool holds its own bookkeeping; jumping out of one worker
 * would leave the others and the pool's state to be unwound by hand.
 * Letting the pass finish on zeros needs no unwinding at all, and the
 * zeros never reach a result: the fit stops with the error.
 *
 * The registry is the one global state of this file, and it has to be:
 * a signal handler has no other way to learn which addresses are ours. It
 * is a fixed array of slots written with atomic operations only, so the
 * handler can read it at any moment without a lock. A mapping is added
 * once mapped and removed before it is unmapped; a source is never freed
 * while a fit reads it (nlsq.h), so no pass can fault in a slot being
 * removed. When every slot is taken, the mapping goes unguarded inside a
 * pass (the checks between passes still hold).
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, SA_SIGINFO */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "source.h"

enum { GUARD_SLOTS = 256 };

typedef struct guard_slot {
    atomic_uintptr_t begin, end; /* begin 0: free */
    atomic_int claimed, hit;
} guard_slot;

static guard_slot slots[GUARD_SLOTS];
static struct sigaction previous;
static uintptr_t page_size;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static int install_failed;

/* Not ours: what would have happened without this handler. */
static void pass_on(int sig, siginfo_t *info, void *context)
{
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, info, context);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* the default action (a SIGBUS from a fault cannot be ignored): put it
       back and return, so the faulting access raises the signal again */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (info->si_code <= 0) raise(sig); /* sent by kill(): no access to retry */
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    uintptr_t at = (uintptr_t)info->si_addr;
    for (int k = 0; k < GUARD_SLOTS; k++) {
        uintptr_t begin = atomic_load(&slots[k].begin), end = atomic_load(&slots[k].end);
        if (!begin || at < begin || at >= end) continue;
        uintptr_t from = at & ~(page_size - 1);
        void *m = mmap((void *)from, end - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (m != MAP_FAILED) {
            atomic_store(&slots[k].hit, 1);
            return;
        }
        break;
    }
    pass_on(sig, info, context);
}

static void install(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    page_size = pg > 0 ? (uintptr_t)pg : 4096;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    install_failed = sigaction(SIGBUS, &sa, &previous) != 0;
}

int map_guard_add(const void *begin, size_t len)
{
    pthread_once(&installed, install);
    if (install_failed || !begin || !len) return -1;
    uintptr_t b = (uintptr_t)begin, e = (b + len + page_size - 1) & ~(page_size - 1);
    for (int k = 0; k < GUARD_SLOTS; k++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&slots[k].claimed, &expected, 1)) continue;
        atomic_store(&slots[k].hit, 0);
        atomic_store(&slots[k].end, e);
        atomic_store(&slots[k].begin, b);
        return k;
    }
    return -1;
}

int map_guard_hit(int slot)
{
    return slot >= 0 && slot < GUARD_SLOTS && atomic_load(&slots[slot].hit);
}

void map_guard_remove(int slot)
{
    if (slot < 0 || slot >= GUARD_SLOTS) return;
    atomic_store(&slots[slot].begin, 0);
    atomic_store(&slots[slot].end, 0);
    atomic_store(&slots[slot].hit, 0);
    atomic_store(&slots[slot].claimed, 0);
}
