/*
 * Reverse-mode automatic differentiation on the graph itself: the adjoint
 * of every node is a node, built from the root down in decreasing id order
 * (a reverse topological order, since arguments have smaller ids). The
 * partials reuse the nodes of f where they can (exp' is the exp node,
 * tanh' uses cosh, sqrt' divides by the sqrt node), and hash-consing
 * shares what the derivatives of different parameters have in common.
 *
 * Chain-rule products use the strong zero of OP_MUL0 (0 * anything = 0,
 * in either factor): an adjoint that is exactly zero — the branch of
 * where() not taken — cannot be turned into NaN by an infinite or NaN
 * partial below it, and a partial that is exactly zero — max() choosing
 * its other argument, floor' — cuts the path even if the adjoint above it
 * is infinite.
 */
#define _DEFAULT_SOURCE /* M_PI, M_LOG10E, M_LOG2E, M_2_SQRTPI */
#include <math.h>
#include <stdlib.h>

#include "model.h"

typedef struct differ {
    graph *g;
    int32_t *adj; /* adjoint node per original node, -1 for none */
    uint8_t *dep; /* depends on some parameter                   */
    int err;
} differ;

/* Each helper returns a node id, or -1 after recording an error; an
   error sticks and makes every later helper return -1. */
static int32_t check(differ *df, int32_t id)
{
    if (id < 0 && df->err == 0) df->err = id;
    return df->err ? -1 : id;
}

static int32_t op1(differ *df, int op, int32_t a)
{
    if (df->err) return -1;
    return check(df, graph_op(df->g, op, a, -1, -1));
}

static int32_t op2(differ *df, int op, int32_t a, int32_t b)
{
    if (df->err) return -1;
    return check(df, graph_op(df->g, op, a, b, -1));
}

static int32_t op3(differ *df, int op, int32_t a, int32_t b, int32_t c)
{
    if (df->err) return -1;
    return check(df, graph_op(df->g, op, a, b, c));
}

static int32_t num(differ *df, double v)
{
    if (df->err) return -1;
    return check(df, graph_const(df->g, v));
}

static int32_t powi(differ *df, int32_t a, int k)
{
    if (df->err) return -1;
    return check(df, graph_powi(df->g, a, k));
}

static int is_const(const graph *g, int32_t id)
{
    return g->nodes[id].op == OP_CONST;
}

static int is_finite_nonzero_const(const graph *g, int32_t id)
{
    return is_const(g, id) && isfinite(g->nodes[id].value) && g->nodes[id].value != 0;
}

/* adj * partial with the strong zero. A constant zero factor gives the
   constant 0 (no contribution at all); a finite nonzero constant factor
   can use a plain product, which is zero exactly when the other is. */
static int32_t chain(differ *df, int32_t adj, int32_t partial)
{
    if (df->err) return -1;
    graph *g = df->g;
    if (graph_is_const(g, adj, 0) || graph_is_const(g, adj, -0.0) || graph_is_const(g, partial, 0) ||
        graph_is_const(g, partial, -0.0))
        return num(df, 0);
    if (graph_is_const(g, adj, 1)) return partial;
    if (graph_is_const(g, partial, 1)) return adj;
    if (is_finite_nonzero_const(g, partial) || is_finite_nonzero_const(g, adj))
        return op2(df, NLSQ_OP_MUL, adj, partial);
    return check(df, graph_op(g, OP_MUL0, adj, partial, -1));
}

static void accumulate(differ *df, int32_t target, int32_t contribution)
{
    if (df->err || !df->dep[target]) return;
    if (contribution < 0) return;
    if (graph_is_const(df->g, contribution, 0) || graph_is_const(df->g, contribution, -0.0)) return;
    if (df->adj[target] < 0)
        df->adj[target] = contribution;
    else
        df->adj[target] = op2(df, NLSQ_OP_ADD, df->adj[target], contribution);
}

/* 1 when the first argument of min/max is chosen, 1/2 at a tie. */
static int32_t choice_weight(differ *df, int cmp, int32_t u, int32_t v)
{
    int32_t tie = op3(df, NLSQ_OP_WHERE, op2(df, NLSQ_OP_EQ, u, v), num(df, 0.5), num(df, 0));
    return op3(df, NLSQ_OP_WHERE, op2(df, cmp, u, v), num(df, 1), tie);
}

/* d f / d u for one-argument ops; -1 when the partial is identically 0. */
static int32_t partial1(differ *df, int op, int32_t f, int32_t u, int32_t k)
{
    switch (op) {
    case NLSQ_OP_NEG: return num(df, -1);
    case NLSQ_OP_EXP: return f;
    case NLSQ_OP_EXPM1: return op2(df, NLSQ_OP_ADD, f, num(df, 1));
    case NLSQ_OP_LOG: return op2(df, NLSQ_OP_DIV, num(df, 1), u);
    case NLSQ_OP_LOG1P: return op2(df, NLSQ_OP_DIV, num(df, 1), op2(df, NLSQ_OP_ADD, u, num(df, 1)));
    case NLSQ_OP_LOG10: return op2(df, NLSQ_OP_DIV, num(df, M_LOG10E), u);
    case NLSQ_OP_LOG2: return op2(df, NLSQ_OP_DIV, num(df, M_LOG2E), u);
    case NLSQ_OP_SQRT: return op2(df, NLSQ_OP_DIV, num(df, 0.5), f);
    case NLSQ_OP_CBRT: return op2(df, NLSQ_OP_DIV, num(df, 1), op2(df, NLSQ_OP_MUL, num(df, 3), powi(df, f, 2)));
    case NLSQ_OP_ABS: return op1(df, NLSQ_OP_SIGN, u);
    case NLSQ_OP_SIGN:
    case NLSQ_OP_FLOOR:
    case NLSQ_OP_CEIL: return -1;
    case NLSQ_OP_SIN: return op1(df, NLSQ_OP_COS, u);
    case NLSQ_OP_COS: return op1(df, NLSQ_OP_NEG, op1(df, NLSQ_OP_SIN, u));
    case NLSQ_OP_TAN: return op2(df, NLSQ_OP_ADD, num(df, 1), powi(df, f, 2));
    case NLSQ_OP_ASIN:
    case NLSQ_OP_ACOS: {
        /* (1-u)(1+u) rather than 1-u^2: no cancellation near |u| = 1 */
        int32_t s = op1(df, NLSQ_OP_SQRT,
                        op2(df, NLSQ_OP_MUL, op2(df, NLSQ_OP_SUB, num(df, 1), u), op2(df, NLSQ_OP_ADD, num(df, 1), u)));
        return op2(df, NLSQ_OP_DIV, num(df, op == NLSQ_OP_ASIN ? 1 : -1), s);
    }
    case NLSQ_OP_ATAN: return op2(df, NLSQ_OP_DIV, num(df, 1), op2(df, NLSQ_OP_ADD, num(df, 1), powi(df, u, 2)));
    case NLSQ_OP_SINH: return op1(df, NLSQ_OP_COSH, u);
    case NLSQ_OP_COSH: return op1(df, NLSQ_OP_SINH, u);
    case NLSQ_OP_TANH: /* sech^2 = cosh^-2: keeps its relative accuracy
                           in the tails, where 1 - tanh^2 cancels to 0 */
        return powi(df, op1(df, NLSQ_OP_COSH, u), -2);
    case NLSQ_OP_ASINH: return op2(df, NLSQ_OP_DIV, num(df, 1), op2(df, NLSQ_OP_HYPOT, u, num(df, 1)));
    case NLSQ_OP_ACOSH:
        return op2(df, NLSQ_OP_DIV, num(df, 1),
                   op2(df, NLSQ_OP_MUL, op1(df, NLSQ_OP_SQRT, op2(df, NLSQ_OP_SUB, u, num(df, 1))),
                       op1(df, NLSQ_OP_SQRT, op2(df, NLSQ_OP_ADD, u, num(df, 1)))));
    case NLSQ_OP_ATANH:
        return op2(df, NLSQ_OP_DIV, num(df, 1),
                   op2(df, NLSQ_OP_MUL, op2(df, NLSQ_OP_SUB, num(df, 1), u), op2(df, NLSQ_OP_ADD, num(df, 1), u)));
    case NLSQ_OP_ERF:
    case NLSQ_OP_ERFC: {
        double c = (op == NLSQ_OP_ERF ? 2 : -2) / sqrt(M_PI);
        return op2(df, NLSQ_OP_MUL, num(df, c), op1(df, NLSQ_OP_EXP, op1(df, NLSQ_OP_NEG, powi(df, u, 2))));
    }
    case NLSQ_OP_LGAMMA: return op1(df, OP_DIGAMMA, u);
    case NLSQ_OP_TGAMMA: return op2(df, NLSQ_OP_MUL, f, op1(df, OP_DIGAMMA, u));
    case OP_POWI: return op2(df, NLSQ_OP_MUL, num(df, k), powi(df, u, k - 1));
    }
    return -1;
}

/*
 * The partials of Re w and Im w at z = u + iv, from w'(z) = -2z w(z) +
 * 2i/sqrt(pi): since w is analytic, dw/du = w' and dw/dv = i w', so
 *   d Re w/du = Re w',  d Re w/dv = -Im w',  d Im w/du = Im w',  d Im w/dv = Re w',
 * with Re w' = -2(u Re w - v Im w) and Im w' = 2/sqrt(pi) - 2(u Im w + v Re w):
 * the derivatives close over the two nodes Re w and Im w themselves.
 */
static void faddeeva_partials(differ *df, int op, int32_t u, int32_t v, int32_t *pu, int32_t *pv)
{
    int32_t re = op2(df, NLSQ_OP_FADDEEVA_RE, u, v), im = op2(df, NLSQ_OP_FADDEEVA_IM, u, v);
    int32_t dre = op2(df, NLSQ_OP_MUL, num(df, -2),
                      op2(df, NLSQ_OP_SUB, op2(df, NLSQ_OP_MUL, u, re), op2(df, NLSQ_OP_MUL, v, im)));
    int32_t twice = op2(df, NLSQ_OP_MUL, num(df, 2),
                        op2(df, NLSQ_OP_ADD, op2(df, NLSQ_OP_MUL, u, im), op2(df, NLSQ_OP_MUL, v, re)));
    if (op == NLSQ_OP_FADDEEVA_RE) {
        *pu = dre;
        *pv = op2(df, NLSQ_OP_SUB, twice, num(df, M_2_SQRTPI)); /* -Im w' */
    } else {
        *pu = op2(df, NLSQ_OP_SUB, num(df, M_2_SQRTPI), twice);
        *pv = dre;
    }
}

/* Push the adjoint of node id (with arguments u, v) to u and v. */
static void push2(differ *df, int op, int32_t f, int32_t u, int32_t v, int32_t adj)
{
    int du = df->dep[u], dv = df->dep[v];
    int32_t pu = -1, pv = -1;
    switch (op) {
    case NLSQ_OP_ADD:
        if (du) pu = num(df, 1);
        if (dv) pv = num(df, 1);
        break;
    case NLSQ_OP_SUB:
        if (du) pu = num(df, 1);
        if (dv) pv = num(df, -1);
        break;
    case NLSQ_OP_MUL:
        pu = v;
        pv = u;
        break;
    case NLSQ_OP_DIV:
        if (du) pu = op2(df, NLSQ_OP_DIV, num(df, 1), v);
        if (dv) pv = op1(df, NLSQ_OP_NEG, op2(df, NLSQ_OP_DIV, f, v));
        break;
    case NLSQ_OP_POW:
        if (du) pu = op2(df, NLSQ_OP_MUL, v, op2(df, NLSQ_OP_POW, u, op2(df, NLSQ_OP_SUB, v, num(df, 1))));
        if (dv) /* u^v log u, 0 where u^v = 0: never 0 * -inf */
            pv = check(df, graph_op(df->g, OP_MUL0, f, op1(df, NLSQ_OP_LOG, u), -1));
        break;
    case NLSQ_OP_HYPOT:
        if (du) pu = op2(df, OP_DIV0, u, f);
        if (dv) pv = op2(df, OP_DIV0, v, f);
        break;
    case NLSQ_OP_ATAN2: { /* atan2(y = u, x = v) */
        int32_t h = op2(df, NLSQ_OP_HYPOT, u, v);
        if (du) pu = op2(df, OP_DIV0, op2(df, OP_DIV0, v, h), h);
        if (dv) pv = op1(df, NLSQ_OP_NEG, op2(df, OP_DIV0, op2(df, OP_DIV0, u, h), h));
        break;
    }
    case NLSQ_OP_MIN:
    case NLSQ_OP_MAX: {
        int cmp = op == NLSQ_OP_MIN ? NLSQ_OP_LT : NLSQ_OP_GT;
        if (du) pu = choice_weight(df, cmp, u, v);
        if (dv) pv = choice_weight(df, cmp, v, u);
        break;
    }
    case NLSQ_OP_FADDEEVA_RE:
    case NLSQ_OP_FADDEEVA_IM: faddeeva_partials(df, op, u, v, &pu, &pv); break;
    }
    if (du && pu >= 0) accumulate(df, u, chain(df, adj, pu));
    if (dv && pv >= 0) accumulate(df, v, chain(df, adj, pv));
}

static void push(differ *df, int32_t id)
{
    node n = df->g->nodes[id]; /* a copy: graph_op may move the array */
    int32_t adj = df->adj[id];
    const op_info *info = op_get(n.op);
    if (n.op == NLSQ_OP_WHERE) {
        accumulate(df, n.a[1], op3(df, NLSQ_OP_WHERE, n.a[0], adj, num(df, 0)));
        accumulate(df, n.a[2], op3(df, NLSQ_OP_WHERE, n.a[0], num(df, 0), adj));
    } else if (info->arity == 1) {
        int32_t p = partial1(df, n.op, id, n.a[0], n.index);
        if (p >= 0) accumulate(df, n.a[0], chain(df, adj, p));
    } else if (info->arity == 2) {
        push2(df, n.op, id, n.a[0], n.a[1], adj);
    }
}

int diff_reverse(graph *g, int32_t root, int nparams, int32_t *d)
{
    int32_t count = g->count; /* only original nodes get adjoints */
    differ df = {g, malloc((size_t)count * sizeof(int32_t)), malloc((size_t)count), 0};
    if (!df.adj || !df.dep) {
        free(df.adj);
        free(df.dep);
        return GRAPH_NOMEM;
    }
    for (int32_t id = 0; id < count; id++) {
        const node *n = &g->nodes[id];
        df.adj[id] = -1;
        df.dep[id] = n->op == OP_PARAM;
        if (n->type == TYPE_BOOL) continue; /* conditions carry no derivative */
        for (int k = 0; k < 3; k++)
            if (n->a[k] >= 0 && df.dep[n->a[k]]) df.dep[id] = 1;
    }
    for (int j = 0; j < nparams; j++) d[j] = -1;
    if (df.dep[root]) df.adj[root] = num(&df, 1);
    for (int32_t id = root; id >= 0 && !df.err; id--) {
        if (df.adj[id] < 0) continue;
        if (g->nodes[id].op == OP_PARAM)
            d[g->nodes[id].index] = df.adj[id];
        else if (!(op_get(g->nodes[id].op)->flags & OPF_LEAF))
            push(&df, id);
    }
    for (int j = 0; j < nparams && !df.err; j++)
        if (d[j] < 0) d[j] = num(&df, 0);
    int err = df.err;
    free(df.adj);
    free(df.dep);
    return err;
}
