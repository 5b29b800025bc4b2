/*
 * The expression graph. Nodes are hash-consed: asking for a node that
 * exists returns it, so every subexpression is stored and later computed
 * once. Arguments always have smaller ids than their users, so id order is
 * a topological order and no pass over the graph needs recursion.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

void graph_init(graph *g, int32_t max_nodes)
{
    memset(g, 0, sizeof *g);
    g->max_nodes = max_nodes;
}

void graph_free(graph *g)
{
    free(g->nodes);
    free(g->table);
    memset(g, 0, sizeof *g);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t node_hash(const node *n)
{
    uint64_t bits;
    memcpy(&bits, &n->value, sizeof bits);
    uint64_t h = mix(n->op, n->type);
    h = mix(h, (uint32_t)n->a[0]);
    h = mix(h, (uint32_t)n->a[1]);
    h = mix(h, (uint32_t)n->a[2]);
    h = mix(h, (uint32_t)n->index);
    return mix(h, bits);
}

/* Constants compare by bit pattern: -0 and +0 are different nodes. */
static int node_equal(const node *x, const node *y)
{
    return x->op == y->op && x->type == y->type && x->a[0] == y->a[0] && x->a[1] == y->a[1] && x->a[2] == y->a[2] &&
           x->index == y->index && memcmp(&x->value, &y->value, sizeof x->value) == 0;
}

static int table_grow(graph *g)
{
    size_t cap = g->table_cap ? g->table_cap * 2 : 256;
    int32_t *t = malloc(cap * sizeof *t);
    if (!t) return GRAPH_NOMEM;
    memset(t, 0xff, cap * sizeof *t); /* every entry -1 */
    for (int32_t id = 0; id < g->count; id++) {
        size_t i = node_hash(&g->nodes[id]) & (cap - 1);
        while (t[i] >= 0) i = (i + 1) & (cap - 1);
        t[i] = id;
    }
    free(g->table);
    g->table = t;
    g->table_cap = cap;
    return 0;
}

/* The id of a node equal to *n, inserting it if new. */
static int32_t intern(graph *g, const node *n)
{
    if ((size_t)g->count * 2 >= g->table_cap && table_grow(g) < 0) return GRAPH_NOMEM;
    size_t mask = g->table_cap - 1;
    size_t i = node_hash(n) & mask;
    for (; g->table[i] >= 0; i = (i + 1) & mask)
        if (node_equal(&g->nodes[g->table[i]], n)) return g->table[i];
    if (g->count >= g->max_nodes) return GRAPH_LIMIT;
    if (g->count == g->cap) {
        int32_t cap = g->cap ? g->cap * 2 : 64;
        node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return GRAPH_NOMEM;
        g->nodes = nodes;
        g->cap = cap;
    }
    g->nodes[g->count] = *n;
    g->table[i] = g->count;
    return g->count++;
}

static node make_node(int op, int type)
{
    node n;
    memset(&n, 0, sizeof n);
    n.op = (uint8_t)op;
    n.type = (uint8_t)type;
    n.a[0] = n.a[1] = n.a[2] = -1;
    return n;
}

static int32_t const_typed(graph *g, double value, int type)
{
    node n = make_node(OP_CONST, type);
    n.value = value;
    return intern(g, &n);
}

int32_t graph_const(graph *g, double value)
{
    return const_typed(g, value, TYPE_NUM);
}

int32_t graph_leaf(graph *g, int op, int32_t index)
{
    node n = make_node(op, TYPE_NUM);
    n.index = index;
    return intern(g, &n);
}

int graph_is_const(const graph *g, int32_t id, double value)
{
    const node *n = &g->nodes[id];
    return n->op == OP_CONST && n->value == value && signbit(n->value) == signbit(value);
}

static int is_const(const graph *g, int32_t id)
{
    return id >= 0 && g->nodes[id].op == OP_CONST;
}

static int32_t powi_node(graph *g, int32_t a, int32_t k)
{
    if (k == 1) return a;                 /* pow(u, 1) = u for every u   */
    if (k == 0) return graph_const(g, 1); /* pow(u, 0) = 1, even for NaN */
    if (is_const(g, a)) return graph_const(g, nk_powi(g->nodes[a].value, k));
    node n = make_node(OP_POWI, TYPE_NUM);
    n.a[0] = a;
    n.index = k;
    return intern(g, &n);
}

int32_t graph_powi(graph *g, int32_t a, int32_t k)
{
    return powi_node(g, a, k);
}

/* Rewrites that give the same result for every IEEE input, or -1. */
static int32_t rewrite(graph *g, int op, int32_t a, int32_t b, int32_t c)
{
    const node *na = &g->nodes[a];
    switch (op) {
    case NLSQ_OP_NEG:
        if (na->op == NLSQ_OP_NEG) return na->a[0];
        break;
    case NLSQ_OP_MUL:
        if (graph_is_const(g, b, 1)) return a;
        if (graph_is_const(g, a, 1)) return b;
        if (graph_is_const(g, b, -1)) return graph_op(g, NLSQ_OP_NEG, a, -1, -1);
        if (graph_is_const(g, a, -1)) return graph_op(g, NLSQ_OP_NEG, b, -1, -1);
        break;
    case NLSQ_OP_DIV:
        if (graph_is_const(g, b, 1)) return a;
        break;
    case NLSQ_OP_ADD: /* x + (-0) = x, but x + (+0) turns -0 into +0 */
        if (graph_is_const(g, b, -0.0)) return a;
        if (graph_is_const(g, a, -0.0)) return b;
        break;
    case NLSQ_OP_SUB: /* x - (+0) = x */
        if (graph_is_const(g, b, 0.0)) return a;
        break;
    case NLSQ_OP_POW:
        if (is_const(g, b)) {
            double e = g->nodes[b].value;
            if (e == floor(e) && fabs(e) <= 64) return powi_node(g, a, (int32_t)e);
        }
        break;
    case NLSQ_OP_WHERE: /* a constant condition picks its branch */
        if (is_const(g, a)) return g->nodes[a].value != 0 ? b : c;
        break;
    }
    return -1;
}

int32_t graph_op(graph *g, int op, int32_t a, int32_t b, int32_t c)
{
    const op_info *info = op_get(op);
    int type = (info->flags & OPF_BOOL_RESULT) ? TYPE_BOOL : TYPE_NUM;
    int all_const = 1;
    int32_t args[3] = {a, b, c};
    for (int i = 0; i < info->arity; i++)
        if (!is_const(g, args[i])) all_const = 0;
    if (all_const) {
        double v[3] = {0, 0, 0};
        for (int i = 0; i < info->arity; i++) v[i] = g->nodes[args[i]].value;
        return const_typed(g, op_apply(op, v[0], v[1], v[2], 0), type);
    }
    int32_t r = rewrite(g, op, a, b, c);
    if (r != -1) return r;
    if ((info->flags & OPF_COMMUTATIVE) && a > b) {
        int32_t t = a;
        a = b;
        b = t;
    }
    node n = make_node(op, type);
    n.a[0] = a;
    n.a[1] = info->arity > 1 ? b : -1;
    n.a[2] = info->arity > 2 ? c : -1;
    return intern(g, &n);
}

int graph_copy_reachable(const graph *src, graph *dst, int32_t *roots, int nroots)
{
    return graph_copy_rebound(src, dst, roots, nroots, NULL);
}

int graph_copy_rebound(const graph *src, graph *dst, int32_t *roots, int nroots, const int32_t *var_to)
{
    int32_t *map = malloc((size_t)(src->count ? src->count : 1) * sizeof *map);
    if (!map) return GRAPH_NOMEM;
    for (int32_t i = 0; i < src->count; i++) map[i] = -1;
    for (int i = 0; i < nroots; i++) map[roots[i]] = 0; /* mark */
    for (int32_t id = src->count - 1; id >= 0; id--) {
        if (map[id] < 0) continue;
        for (int k = 0; k < 3; k++)
            if (src->nodes[id].a[k] >= 0) map[src->nodes[id].a[k]] = 0;
    }
    int rc = 0;
    for (int32_t id = 0; id < src->count && rc == 0; id++) {
        if (map[id] < 0) continue;
        node n = src->nodes[id];
        for (int k = 0; k < 3; k++)
            if (n.a[k] >= 0) n.a[k] = map[n.a[k]];
        if (var_to && n.op == OP_VAR) { /* a variable kept (renumbered), or made a parameter */
            int32_t to = var_to[n.index];
            n.op = to >= 0 ? OP_VAR : OP_PARAM;
            n.index = to >= 0 ? to : -1 - to;
        }
        int32_t nid = intern(dst, &n);
        if (nid < 0) rc = nid;
        map[id] = nid;
    }
    if (rc == 0)
        for (int i = 0; i < nroots; i++) roots[i] = map[roots[i]];
    free(map);
    return rc;
}
