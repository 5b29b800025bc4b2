/*
 * The model's expressions — f and every dF/dp_j — written back as text in
 * the model language, with the fewest parentheses the precedence rules
 * allow. A subexpression that the output uses more than once becomes a
 * local definition (t1 = ...; ...), so shared derivative graphs print in
 * linear size, and the text parses back to the same values. So does a
 * subexpression nested too deep for the parser (see choose_locals), and
 * nothing here recurses: a model of any depth prints.
 *
 * Two internal ops have no language form and are shown by name: digamma(u)
 * (the derivative of lgamma) and the strong-zero product, shown as a plain
 * product (they differ only where a factor is exactly zero).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { P_OR = 1, P_AND, P_NOT, P_CMP, P_ADD, P_MUL, P_UNARY, P_POW, P_ATOM };

typedef struct printer {
    const graph *g;
    const name_list *vars, *params;
    int *uses, *local; /* per node: uses within the output, local number */
    int *depth;        /* per node: nesting of its inline form            */
    uint8_t *reach;    /* per node: part of the output                    */
    char prefix[16];   /* of local names: "t", or "_t", "__t"... if taken */
    char *buf;
    size_t size, len;
    struct piece *pieces; /* what is still to be written (print_expression) */
    size_t npieces, pieces_cap;
    int nomem;
} printer;

static void out(printer *p, const char *s)
{
    size_t n = strlen(s);
    if (p->len < p->size) {
        size_t room = p->size - p->len - 1;
        memcpy(p->buf + p->len, s, n < room ? n : room);
        p->buf[p->len + (n < room ? n : room)] = '\0';
    }
    p->len += n;
}

static int precedence(const node *n)
{
    switch (n->op) {
    case NLSQ_OP_OR: return P_OR;
    case NLSQ_OP_AND: return P_AND;
    case NLSQ_OP_NOT: return P_NOT;
    case NLSQ_OP_LT:
    case NLSQ_OP_LE:
    case NLSQ_OP_GT:
    case NLSQ_OP_GE:
    case NLSQ_OP_EQ:
    case NLSQ_OP_NE: return P_CMP;
    case NLSQ_OP_ADD:
    case NLSQ_OP_SUB: return P_ADD;
    case NLSQ_OP_MUL:
    case NLSQ_OP_DIV:
    case OP_MUL0:
    case OP_DIV0: return P_MUL;
    case NLSQ_OP_NEG: return P_UNARY;
    case OP_POWI: return P_POW;
    case OP_CONST: return !isnan(n->value) && signbit(n->value) ? P_UNARY : P_ATOM;
    default: return P_ATOM;
    }
}

static void print_const(printer *p, const node *n)
{
    char s[40];
    double v = n->value;
    if (n->type == TYPE_BOOL) { /* a folded condition */
        out(p, v != 0 ? "(0 == 0)" : "(0 == 1)");
        return;
    }
    if (isnan(v) || isinf(v)) { /* no literal for these: an expression that folds to them */
        out(p, isnan(v) ? "(0/0)" : v > 0 ? "(1/0)" : "(-1/0)");
        return;
    }
    if (v == 3.14159265358979323846) {
        out(p, "pi");
        return;
    }
    for (int digits = 6; digits <= 17; digits++) { /* the shortest that reads back exactly */
        snprintf(s, sizeof s, "%.*g", digits, v);
        if (strtod(s, NULL) == v) break;
    }
    out(p, s);
}

static const char *binary_symbol(int op)
{
    switch (op) {
    case NLSQ_OP_ADD: return " + ";
    case NLSQ_OP_SUB: return " - ";
    case NLSQ_OP_MUL:
    case OP_MUL0: return "*";
    case NLSQ_OP_DIV:
    case OP_DIV0: return "/";
    case NLSQ_OP_LT: return " < ";
    case NLSQ_OP_LE: return " <= ";
    case NLSQ_OP_GT: return " > ";
    case NLSQ_OP_GE: return " >= ";
    case NLSQ_OP_EQ: return " == ";
    case NLSQ_OP_NE: return " != ";
    case NLSQ_OP_AND: return " && ";
    case NLSQ_OP_OR: return " || ";
    default: return NULL;
    }
}

/*
 * What is still to be written, kept on an explicit stack owned by the call
 * rather than the C stack: a traced model may nest 10^5 levels deep (the
 * builder has no depth limit), and a recursion per level would overflow
 * the stack of whichever thread formats it.
 */
enum { PIECE_TEXT, PIECE_NODE, PIECE_EXPONENT };

typedef struct piece {
    uint8_t kind;
    int32_t id;       /* PIECE_NODE                                        */
    int32_t need;     /* PIECE_NODE: the precedence it must bind at, or
                         NEED_TOP for a definition's own expression;
                         PIECE_EXPONENT: the exponent                      */
    const char *text; /* PIECE_TEXT: a string literal                      */
} piece;

enum { NEED_TOP = -1, NEED_NONE = 0 };

static void push(printer *p, piece pc)
{
    if (p->nomem) return;
    if (p->npieces == p->pieces_cap) {
        size_t cap = p->pieces_cap ? p->pieces_cap * 2 : 64;
        piece *grown = realloc(p->pieces, cap * sizeof *grown);
        if (!grown) {
            p->nomem = 1;
            return;
        }
        p->pieces = grown;
        p->pieces_cap = cap;
    }
    p->pieces[p->npieces++] = pc;
}

static void push_text(printer *p, const char *text)
{
    piece pc = {PIECE_TEXT, -1, 0, text};
    push(p, pc);
}

static void push_node(printer *p, int32_t id, int need)
{
    piece pc = {PIECE_NODE, id, need, NULL};
    push(p, pc);
}

/* Write a node's own form; its operands are pushed, last first, so they
   are written next, in order. */
static void expand_node(printer *p, int32_t id, int need)
{
    const node *n = &p->g->nodes[id];
    char tmp[32];
    if (need != NEED_TOP && p->local[id]) {
        snprintf(tmp, sizeof tmp, "%s%d", p->prefix, p->local[id]);
        out(p, tmp);
        return;
    }
    if (need != NEED_TOP && precedence(n) < need) { /* binds less tightly than its place: parenthesise */
        out(p, "(");
        push_text(p, ")");
        push_node(p, id, NEED_NONE);
        return;
    }
    const char *sym = binary_symbol(n->op);
    if (n->op == OP_CONST) {
        print_const(p, n);
    } else if (n->op == OP_VAR) {
        out(p, p->vars->names[n->index]);
    } else if (n->op == OP_PARAM) {
        out(p, p->params->names[n->index]);
    } else if (n->op == NLSQ_OP_NEG || n->op == NLSQ_OP_NOT) {
        out(p, n->op == NLSQ_OP_NEG ? "-" : "!");
        push_node(p, n->a[0], n->op == NLSQ_OP_NEG ? P_UNARY : P_NOT);
    } else if (n->op == OP_POWI) {
        piece exponent = {PIECE_EXPONENT, -1, n->index, NULL};
        push(p, exponent);
        push_node(p, n->a[0], P_ATOM); /* (-x)^2, (x^2)^3: parenthesise the base */
    } else if (sym) {
        int prec = precedence(n);
        /* Left-associative, and rounding makes even + and * non-associative:
           a right operand of the same level keeps its parentheses, so the
           text parses back to the same order of evaluation. */
        push_node(p, n->a[1], prec + 1);
        push_text(p, sym);
        push_node(p, n->a[0], prec == P_CMP ? prec + 1 : prec);
    } else {
        out(p, op_get(n->op)->name); /* functions, pow, where, digamma */
        out(p, "(");
        push_text(p, ")");
        for (int k = op_get(n->op)->arity - 1; k >= 0; k--) {
            push_node(p, n->a[k], NEED_NONE);
            if (k) push_text(p, ", ");
        }
    }
}

/* Write the expression of node `id` (a definition's right side, or the
   output itself). */
static void print_expression(printer *p, int32_t id)
{
    p->npieces = 0;
    push_node(p, id, NEED_TOP);
    while (p->npieces > 0 && !p->nomem) {
        piece pc = p->pieces[--p->npieces];
        if (pc.kind == PIECE_TEXT) {
            out(p, pc.text);
        } else if (pc.kind == PIECE_EXPONENT) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "^%d", pc.need);
            out(p, tmp);
        } else {
            expand_node(p, pc.id, pc.need);
        }
    }
}

/* Does some name look like prefix + digits? */
static int prefix_taken(const name_list *l, const char *prefix)
{
    size_t n = strlen(prefix);
    for (int i = 0; i < l->count; i++) {
        const char *s = l->names[i];
        if (strncmp(s, prefix, n) != 0 || !s[n]) continue;
        const char *d = s + n;
        while (*d >= '0' && *d <= '9') d++;
        if (!*d) return 1;
    }
    return 0;
}

static void choose_prefix(printer *p)
{
    char pre[16] = "t";
    while (strlen(pre) < sizeof pre - 2 && (prefix_taken(p->vars, pre) || prefix_taken(p->params, pre))) {
        memmove(pre + 1, pre, strlen(pre) + 1);
        pre[0] = '_';
    }
    memcpy(p->prefix, pre, sizeof pre);
}

/* Mark the output's DAG and count uses inside it (each node's arguments
   once). */
static void count_uses(printer *p, int32_t root)
{
    const graph *g = p->g;
    p->reach[root] = 1;
    for (int32_t id = root; id >= 0; id--) {
        if (!p->reach[id]) continue;
        for (int k = 0; k < 3; k++) {
            int32_t a = g->nodes[id].a[k];
            if (a < 0) continue;
            p->reach[a] = 1;
            p->uses[a]++;
        }
    }
}

/* The nesting the parser counts (parentheses, calls, unary signs, ^) to
   read node `id` where it binds at `need`: 0 for a local's name. */
static int operand_depth(const printer *p, int32_t id, int need)
{
    if (p->local[id]) return 0;
    return p->depth[id] + (precedence(&p->g->nodes[id]) < need ? 1 : 0);
}

/* The nesting of node id written inline, its arguments' already known
   (they have smaller ids). Generous by a level here and there: it only
   decides where a deep expression is cut into definitions. */
static int inline_depth(const printer *p, int32_t id)
{
    const node *n = &p->g->nodes[id];
    if (n->op == OP_CONST) return precedence(n) == P_ATOM && n->type == TYPE_NUM && isfinite(n->value) ? 0 : 2;
    if (op_get(n->op)->flags & OPF_LEAF) return 0;
    if (n->op == NLSQ_OP_NEG || n->op == NLSQ_OP_NOT) return 1 + operand_depth(p, n->a[0], precedence(n));
    if (n->op == OP_POWI) return 2 + operand_depth(p, n->a[0], P_ATOM);
    if (binary_symbol(n->op)) { /* the needs print_expression gives its operands */
        int prec = precedence(n);
        int left = operand_depth(p, n->a[0], prec == P_CMP ? prec + 1 : prec);
        int right = operand_depth(p, n->a[1], prec + 1);
        return left > right ? left : right;
    }
    int deepest = 0; /* a call: one level for its parentheses */
    for (int k = 0; k < op_get(n->op)->arity; k++) {
        int d = operand_depth(p, n->a[k], NEED_NONE);
        if (d > deepest) deepest = d;
    }
    return 1 + deepest;
}

/*
 * Which nodes become local definitions, numbered in id order (so every
 * definition comes before its uses): those the output uses more than once,
 * and those whose inline form would nest deeper than FORMAT_MAX_NESTING —
 * so the text of a model of any depth (a traced one, say) stays within
 * the parser's NLSQ_MODEL_MAX_DEPTH. Conditions cannot be definitions in
 * the language; a chain of more than that many conditions alone is the
 * one output that does not parse back.
 */
#define FORMAT_MAX_NESTING (NLSQ_MODEL_MAX_DEPTH / 2)

static void choose_locals(printer *p, int32_t root)
{
    int nlocal = 0;
    for (int32_t id = 0; id <= root; id++) {
        if (!p->reach[id]) continue;
        const node *n = &p->g->nodes[id];
        p->depth[id] = inline_depth(p, id);
        int can = id < root && !(op_get(n->op)->flags & OPF_LEAF) && n->type != TYPE_BOOL;
        if (can && (p->uses[id] >= 2 || p->depth[id] > FORMAT_MAX_NESTING)) p->local[id] = ++nlocal;
    }
}

static void printer_free(printer *p)
{
    free(p->uses);
    free(p->local);
    free(p->depth);
    free(p->reach);
    free(p->pieces);
}

size_t model_format(const nlsq_model *m, int32_t root, char *buf, size_t size)
{
    const graph *g = &m->g;
    size_t count = (size_t)g->count;
    printer p;
    memset(&p, 0, sizeof p);
    p.g = g;
    p.vars = &m->vars;
    p.params = &m->params;
    p.buf = buf;
    p.size = size;
    p.uses = calloc(count, sizeof *p.uses);
    p.local = calloc(count, sizeof *p.local);
    p.depth = calloc(count, sizeof *p.depth);
    p.reach = calloc(count, 1);
    if (size) buf[0] = '\0';
    if (!p.uses || !p.local || !p.depth || !p.reach) {
        printer_free(&p);
        return 0;
    }
    choose_prefix(&p);
    count_uses(&p, root);
    choose_locals(&p, root);
    for (int32_t id = 0; id < root && !p.nomem; id++) { /* in id order: definitions before uses */
        if (!p.local[id]) continue;
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%s%d = ", p.prefix, p.local[id]);
        out(&p, tmp);
        print_expression(&p, id);
        out(&p, "; ");
    }
    print_expression(&p, root);
    size_t len = p.nomem ? 0 : p.len;
    if (p.nomem && size) buf[0] = '\0';
    printer_free(&p);
    return len;
}

size_t nlsq_model_format(const nlsq_model *m, int which, char *buf, size_t size)
{
    if (!m || (!buf && size) || which < -1 || which >= m->params.count) return 0;
    return model_format(m, which < 0 ? m->root : m->dnode[which], buf, size);
}
