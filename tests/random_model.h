/*
 * Random well-formed models for the tests: a syntax tree over two
 * variables (x, y) and up to MAXP parameters (p0..p3), using every
 * function and operator of the language, printed fully parenthesised so
 * precedence cannot differ. Used by test_random (parser, builder,
 * derivatives) and test_jit (compiled kernels against the interpreter).
 */
#ifndef NLSQ_TESTS_RANDOM_MODEL_H
#define NLSQ_TESTS_RANDOM_MODEL_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model/model.h"

#define MAXP 4
#define MAXNODES 200

enum { LEAF_CONST, LEAF_VAR, LEAF_PARAM, OPNODE };

typedef struct ast {
    int kind, op, powk; /* powk: integer exponent of u^k, else 0 */
    int a[3];
    double value;
    int index;
} ast;

typedef struct tree {
    ast n[MAXNODES];
    int count;
    int used_params[MAXP];
    int order[MAXP]; /* parameter index -> position in order of first appearance */
} tree;

static const int UNARY_OPS[] = {NLSQ_OP_NEG,   NLSQ_OP_EXP,   NLSQ_OP_EXPM1,  NLSQ_OP_LOG,   NLSQ_OP_LOG1P,
                                NLSQ_OP_LOG10, NLSQ_OP_LOG2,  NLSQ_OP_SQRT,   NLSQ_OP_CBRT,  NLSQ_OP_ABS,
                                NLSQ_OP_SIGN,  NLSQ_OP_FLOOR, NLSQ_OP_CEIL,   NLSQ_OP_SIN,   NLSQ_OP_COS,
                                NLSQ_OP_TAN,   NLSQ_OP_ASIN,  NLSQ_OP_ACOS,   NLSQ_OP_ATAN,  NLSQ_OP_SINH,
                                NLSQ_OP_COSH,  NLSQ_OP_TANH,  NLSQ_OP_ASINH,  NLSQ_OP_ACOSH, NLSQ_OP_ATANH,
                                NLSQ_OP_ERF,   NLSQ_OP_ERFC,  NLSQ_OP_LGAMMA, NLSQ_OP_TGAMMA};
static const int BINARY_OPS[] = {NLSQ_OP_ADD,   NLSQ_OP_SUB,   NLSQ_OP_MUL, NLSQ_OP_DIV, NLSQ_OP_POW,
                                 NLSQ_OP_HYPOT, NLSQ_OP_ATAN2, NLSQ_OP_MIN, NLSQ_OP_MAX};
static const int CMP_OPS[] = {NLSQ_OP_LT, NLSQ_OP_LE, NLSQ_OP_GT, NLSQ_OP_GE, NLSQ_OP_EQ, NLSQ_OP_NE};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int add_node(tree *t, ast n)
{
    t->n[t->count] = n;
    return t->count++;
}

static int gen_cond(tree *t, rng *r, int depth);

static int gen(tree *t, rng *r, int depth)
{
    ast n;
    memset(&n, 0, sizeof n);
    n.a[0] = n.a[1] = n.a[2] = -1;
    if (depth == 0 || t->count > MAXNODES - 20 || rng_uniform(r) < 0.25) {
        double u = rng_uniform(r);
        if (u < 0.4) {
            n.kind = LEAF_VAR;
            n.index = rng_int(r, 2);
        } else if (u < 0.8) {
            n.kind = LEAF_PARAM;
            n.index = rng_int(r, MAXP);
        } else {
            n.kind = LEAF_CONST;
            n.value = (double)(rng_int(r, 601) - 300) / 100; /* exact in text */
        }
        return add_node(t, n);
    }
    n.kind = OPNODE;
    double u = rng_uniform(r);
    if (u < 0.35) {
        n.op = UNARY_OPS[rng_int(r, COUNT(UNARY_OPS))];
        n.a[0] = gen(t, r, depth - 1);
    } else if (u < 0.85) {
        n.op = BINARY_OPS[rng_int(r, COUNT(BINARY_OPS))];
        n.a[0] = gen(t, r, depth - 1);
        if (n.op == NLSQ_OP_POW && rng_uniform(r) < 0.5) {
            static const int ks[] = {2, 3, -1, -2, 4};
            n.powk = ks[rng_int(r, COUNT(ks))];
        } else {
            n.a[1] = gen(t, r, depth - 1);
        }
    } else {
        n.op = NLSQ_OP_WHERE;
        n.a[0] = gen_cond(t, r, depth - 1);
        n.a[1] = gen(t, r, depth - 1);
        n.a[2] = gen(t, r, depth - 1);
    }
    return add_node(t, n);
}

static int gen_cond(tree *t, rng *r, int depth)
{
    ast n;
    memset(&n, 0, sizeof n);
    n.kind = OPNODE;
    n.a[0] = n.a[1] = n.a[2] = -1;
    double u = rng_uniform(r);
    if (u < 0.7 || depth <= 0) {
        n.op = CMP_OPS[rng_int(r, COUNT(CMP_OPS))];
        n.a[0] = gen(t, r, depth);
        n.a[1] = gen(t, r, depth);
    } else if (u < 0.85) {
        n.op = NLSQ_OP_NOT;
        n.a[0] = gen_cond(t, r, depth - 1);
    } else {
        n.op = rng_uniform(r) < 0.5 ? NLSQ_OP_AND : NLSQ_OP_OR;
        n.a[0] = gen_cond(t, r, depth - 1);
        n.a[1] = gen_cond(t, r, depth - 1);
    }
    return add_node(t, n);
}

/* ---- text: fully parenthesised, so precedence cannot differ ---------- */

static void print(const tree *t, int id, char *buf, size_t size, size_t *len)
{
    const ast *n = &t->n[id];
#define OUT(...) (*len += (size_t)snprintf(buf + *len, *len < size ? size - *len : 0, __VA_ARGS__))
    if (n->kind == LEAF_VAR) {
        OUT("%s", n->index ? "y" : "x");
        return;
    }
    if (n->kind == LEAF_PARAM) {
        OUT("p%d", n->index);
        return;
    }
    if (n->kind == LEAF_CONST) {
        OUT("(%.17g)", n->value);
        return;
    }
    const op_info *info = op_get(n->op);
    if (n->powk) {
        OUT("(");
        print(t, n->a[0], buf, size, len);
        OUT(")^%d", n->powk);
        return;
    }
    int infix = n->op == NLSQ_OP_ADD || n->op == NLSQ_OP_SUB || n->op == NLSQ_OP_MUL || n->op == NLSQ_OP_DIV ||
                (n->op >= NLSQ_OP_LT && n->op <= NLSQ_OP_OR);
    if (n->op == NLSQ_OP_NEG || n->op == NLSQ_OP_NOT) {
        OUT("%s(", info->name);
        print(t, n->a[0], buf, size, len);
        OUT(")");
    } else if (infix) {
        OUT("(");
        print(t, n->a[0], buf, size, len);
        OUT(" %s ", info->name);
        print(t, n->a[1], buf, size, len);
        OUT(")");
    } else {
        OUT("%s(", info->name);
        for (int k = 0; k < info->arity; k++) {
            if (k) OUT(", ");
            print(t, n->a[k], buf, size, len);
        }
        OUT(")");
    }
#undef OUT
}

static inline void note_params(tree *t)
{
    int next = 0;
    memset(t->used_params, 0, sizeof t->used_params);
    /* order of first appearance = order in a left-to-right walk */
    int stack[MAXNODES], top = 0;
    stack[top++] = t->count - 1;
    while (top) {
        const ast *n = &t->n[stack[--top]];
        if (n->kind == LEAF_PARAM && !t->used_params[n->index]) {
            t->used_params[n->index] = 1;
            t->order[n->index] = next++;
        }
        for (int k = 2; k >= 0; k--)
            if (n->kind == OPNODE && n->a[k] >= 0) stack[top++] = n->a[k];
    }
}

#endif
