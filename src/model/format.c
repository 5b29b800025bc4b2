/*
 * The model's expressions — f and every dF/dp_j — written back as text in
 * the model language, with the fewest parentheses the precedence rules
 * allow. A subexpression that the output uses more than once becomes a
 * local definition (t1 = ...; ...), so shared derivative graphs print in
 * linear size, and the text parses back to the same values.
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
    char prefix[16];   /* of local names: "t", or "_t", "__t"... if taken */
    char *buf;
    size_t size, len;
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

static void print_node(printer *p, int32_t id, int top);

/* An operand, parenthesised when it binds less tightly than `need`. */
static void operand(printer *p, int32_t id, int need)
{
    int prec = p->local[id] ? P_ATOM : precedence(&p->g->nodes[id]);
    if (prec < need) out(p, "(");
    print_node(p, id, 0);
    if (prec < need) out(p, ")");
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

static void print_node(printer *p, int32_t id, int top)
{
    const node *n = &p->g->nodes[id];
    char tmp[32];
    if (!top && p->local[id]) {
        snprintf(tmp, sizeof tmp, "%s%d", p->prefix, p->local[id]);
        out(p, tmp);
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
        operand(p, n->a[0], n->op == NLSQ_OP_NEG ? P_UNARY : P_NOT);
    } else if (n->op == OP_POWI) {
        operand(p, n->a[0], P_ATOM); /* (-x)^2, (x^2)^3: parenthesise the base */
        snprintf(tmp, sizeof tmp, "^%d", n->index);
        out(p, tmp);
    } else if (sym) {
        int prec = precedence(n);
        /* Left-associative, and rounding makes even + and * non-associative:
           a right operand of the same level keeps its parentheses, so the
           text parses back to the same order of evaluation. */
        int right = prec + 1;
        operand(p, n->a[0], prec == P_CMP ? prec + 1 : prec);
        out(p, sym);
        operand(p, n->a[1], right);
    } else {
        out(p, op_get(n->op)->name); /* functions, pow, where, digamma */
        out(p, "(");
        for (int k = 0; k < op_get(n->op)->arity; k++) {
            if (k) out(p, ", ");
            print_node(p, n->a[k], 0);
        }
        out(p, ")");
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

/* Count uses inside the output's DAG (each node's arguments once). */
static void count_uses(printer *p, int32_t root)
{
    const graph *g = p->g;
    uint8_t *reach = calloc((size_t)g->count, 1);
    if (!reach) return;
    reach[root] = 1;
    for (int32_t id = root; id >= 0; id--) {
        if (!reach[id]) continue;
        for (int k = 0; k < 3; k++) {
            int32_t a = g->nodes[id].a[k];
            if (a < 0) continue;
            reach[a] = 1;
            p->uses[a]++;
        }
    }
    free(reach);
}

size_t model_format(const nlsq_model *m, int32_t root, char *buf, size_t size)
{
    const graph *g = &m->g;
    printer p = {
        g,   &m->vars, &m->params, calloc((size_t)g->count, sizeof(int)), calloc((size_t)g->count, sizeof(int)), "",
        buf, size,     0};
    if (size) buf[0] = '\0';
    if (!p.uses || !p.local) {
        free(p.uses);
        free(p.local);
        return 0;
    }
    choose_prefix(&p);
    count_uses(&p, root);
    int nlocal = 0;
    for (int32_t id = 0; id < root; id++) { /* in id order: definitions before uses */
        const node *n = &g->nodes[id];
        if (p.uses[id] < 2 || (op_get(n->op)->flags & OPF_LEAF) || n->type == TYPE_BOOL) continue;
        p.local[id] = ++nlocal;
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%s%d = ", p.prefix, nlocal);
        out(&p, tmp);
        print_node(&p, id, 1);
        out(&p, "; ");
    }
    print_node(&p, root, 1);
    free(p.uses);
    free(p.local);
    return p.len;
}

size_t nlsq_model_format(const nlsq_model *m, int which, char *buf, size_t size)
{
    if (!m || (!buf && size) || which < -1 || which >= m->params.count) return 0;
    return model_format(m, which < 0 ? m->root : m->dnode[which], buf, size);
}
