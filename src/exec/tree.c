/*
 * The fixed merge tree over chunks: (0,1) (2,3) ..., then (0,2) (4,6) ...,
 * the order that makes a pass's answer independent of how many threads
 * folded the chunks. Spread over a group of processes (nlsq_group), each
 * holds an even share of the chunks and merges the nodes of the tree that
 * lie inside it; where a node's right half belongs to a later process,
 * that process sends it the finished half. Every merge is then the one a
 * single process makes, in the same order, so the root is bitwise the
 * same for any group size. The root is finally broadcast by the owner of
 * chunk 0 (process 0, unless there are fewer chunks than processes).
 *
 * Each process sends to lower ranks and waits only on higher ones, one
 * tree level after another, so no cycle of waits can form: the highest
 * process never waits, and each one below is released in turn.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

void tree_span(const int *spans, int n, int size, int rank, int *lo, int *hi)
{
    if (spans) {
        *lo = spans[rank];
        *hi = spans[rank + 1];
        return;
    }
    *lo = (int)((long long)n * rank / size);
    *hi = (int)((long long)n * (rank + 1) / size);
}

/* The process whose share holds chunk c. */
static int tree_owner(const int *spans, int n, int size, int c)
{
    int r = (int)((long long)c * size / n), lo, hi;
    if (spans) { /* the owner of the first span past c, less one */
        int a = 0, b = size;
        while (b - a > 1) {
            int mid = (a + b) / 2;
            if (spans[mid] <= c)
                a = mid;
            else
                b = mid;
        }
        return a;
    }
    for (;;) {
        tree_span(NULL, n, size, r, &lo, &hi);
        if (c < lo)
            r--;
        else if (c >= hi)
            r++;
        else
            return r;
    }
}

int tree_merge(const tree_ops *ops, int n, const nlsq_group *g, const int *spans, int tag, void *buf)
{
    int size = g ? g->size : 1, me = g ? g->rank : 0, lo = 0, hi = n, level = 0;
    if (size > 1) tree_span(spans, n, size, me, &lo, &hi);
    for (int s = 1; s < n; s *= 2, level++) {
        for (int i = lo / (2 * s) * (2 * s); i < hi && i + s < n; i += 2 * s) {
            int a = size > 1 ? tree_owner(spans, n, size, i) : 0, b = size > 1 ? tree_owner(spans, n, size, i + s) : 0;
            if (a == me && b == me) {
                ops->merge(ops->ctx, i, i + s);
            } else if (a == me) {
                if (g->recv(g->ctx, b, tag + level, buf, ops->node_bytes) != 0) return -1;
                ops->unpack(ops->ctx, i + s, buf);
                ops->merge(ops->ctx, i, i + s);
            } else if (b == me) {
                ops->pack(ops->ctx, i + s, buf);
                if (g->send(g->ctx, a, tag + level, buf, ops->node_bytes) != 0) return -1;
            }
        }
    }
    if (size <= 1 || n == 0) return 0;
    int root = tree_owner(spans, n, size, 0); /* not process 0 when it has no chunks */
    if (me == root) ops->pack(ops->ctx, 0, buf);
    if (g->bcast(g->ctx, root, buf, ops->node_bytes) != 0) return -1;
    if (me != root) ops->unpack(ops->ctx, 0, buf);
    return 0;
}

/*
 * One flag from every process, as the lowest rank that raised it (-1:
 * none): a binomial reduction to process 0 over the ranks, then a
 * broadcast. Decisions that end a fit (a failed read, a file changed, no
 * memory) are taken together through it, so no process is left waiting
 * for one that stopped. `check` rides along: a process whose check differs
 * from its partner's (the solvers' parameters have diverged, which the
 * same arithmetic on the same numbers should never allow) raises the flag
 * in the lower one's name, and *diverged says so.
 */
typedef struct agreement {
    int lowest, diverged;
    uint64_t check;
} agreement;

int group_agree_checked(const nlsq_group *g, int tag, int raised, uint64_t check, int *lowest, int *diverged)
{
    agreement v = {raised ? g->rank : -1, 0, check};
    if (g->size <= 1) {
        *lowest = v.lowest;
        if (diverged) *diverged = 0;
        return 0;
    }
    for (int s = 1; s < g->size; s *= 2) {
        if (g->rank % (2 * s) == s) {
            if (g->send(g->ctx, g->rank - s, tag, &v, sizeof v) != 0) return -1;
            break;
        }
        if (g->rank % (2 * s) == 0 && g->rank + s < g->size) {
            agreement w;
            if (g->recv(g->ctx, g->rank + s, tag, &w, sizeof w) != 0) return -1;
            if (w.check != v.check || w.diverged) {
                v.diverged = 1;
                if (v.lowest < 0 || g->rank < v.lowest) v.lowest = g->rank;
            }
            if (w.lowest >= 0 && (v.lowest < 0 || w.lowest < v.lowest)) v.lowest = w.lowest;
        }
    }
    if (g->bcast(g->ctx, 0, &v, sizeof v) != 0) return -1;
    *lowest = v.lowest;
    if (diverged) *diverged = v.diverged;
    return 0;
}

int group_agree(const nlsq_group *g, int tag, int raised, int *lowest)
{
    return group_agree_checked(g, tag, raised, 0, lowest, NULL);
}

/* A message from the process that raised a flag, to all. */
int group_tell(const nlsq_group *g, int from, char *text, size_t size)
{
    if (g->size <= 1) return 0;
    if (g->bcast(g->ctx, from, text, size) != 0) return -1;
    text[size - 1] = '\0';
    return 0;
}
