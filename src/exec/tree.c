/*
 * The fixed merge tree over chunks: (0,1) (2,3) ..., then (0,2) (4,6) ...,
 * the order that makes a pass's answer independent of how many threads
 * folded the chunks. Spread over a group of processes (nlsq_group), each
 * holds an even share of the chunks and merges the nodes of the tree that
 * lie inside it; where a node's right half belongs to a later process,
 * that process sends it the finished half. Every merge is then the one a
 * single process makes, in the same order, so the root is bitwise the
 * same for any group size. The root is finally broadcast from the owner of
 * chunk 0 (process 0, or with fewer chunks than processes the first one
 * whose share is not empty).
 *
 * Each process sends to lower ranks and waits only on higher ones, one
 * tree level after another, so no cycle of waits can form: the highest
 * process never waits, and each one below is released in turn.
 */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

void tree_span(int n, int size, int rank, int *lo, int *hi)
{
    *lo = (int)((long long)n * rank / size);
    *hi = (int)((long long)n * (rank + 1) / size);
}

/* The process whose share holds chunk c. */
static int tree_owner(int n, int size, int c)
{
    int r = (int)((long long)c * size / n), lo, hi;
    for (;;) {
        tree_span(n, size, r, &lo, &hi);
        if (c < lo)
            r--;
        else if (c >= hi)
            r++;
        else
            return r;
    }
}

int tree_merge(const tree_ops *ops, int n, const nlsq_group *g, int tag, void *buf)
{
    int size = g ? g->size : 1, me = g ? g->rank : 0, lo = 0, hi = n, level = 0;
    if (size > 1) tree_span(n, size, me, &lo, &hi);
    for (int s = 1; s < n; s *= 2, level++) {
        for (int i = lo / (2 * s) * (2 * s); i < hi && i + s < n; i += 2 * s) {
            int a = size > 1 ? tree_owner(n, size, i) : 0, b = size > 1 ? tree_owner(n, size, i + s) : 0;
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
    /* the root is node 0, held by chunk 0's owner: process 0 unless there
       are fewer chunks than processes (its share is then empty) */
    int root = tree_owner(n, size, 0);
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
 * for one that stopped.
 */
int group_agree(const nlsq_group *g, int tag, int raised, int *lowest)
{
    int v = raised ? g->rank : -1;
    if (g->size <= 1) {
        *lowest = v;
        return 0;
    }
    for (int s = 1; s < g->size; s *= 2) {
        if (g->rank % (2 * s) == s) {
            if (g->send(g->ctx, g->rank - s, tag, &v, sizeof v) != 0) return -1;
            break;
        }
        if (g->rank % (2 * s) == 0 && g->rank + s < g->size) {
            int w;
            if (g->recv(g->ctx, g->rank + s, tag, &w, sizeof w) != 0) return -1;
            if (w >= 0 && (v < 0 || w < v)) v = w;
        }
    }
    if (g->bcast(g->ctx, 0, &v, sizeof v) != 0) return -1;
    *lowest = v;
    return 0;
}

/* A message from the process that raised a flag, to all. */
int group_tell(const nlsq_group *g, int from, char *text, size_t size)
{
    if (g->size <= 1) return 0;
    if (g->bcast(g->ctx, from, text, size) != 0) return -1;
    text[size - 1] = '\0';
    return 0;
}
