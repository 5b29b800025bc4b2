/*
 * Recursive-descent parser of the model language, building the graph as
 * it goes (no syntax tree). Each rule returns a typed value: a number or a
 * condition; types are checked where values meet operators, so a misplaced
 * comparison is reported at the operator that cannot take it.
 *
 * Grammar, lowest precedence first:
 *   model   := { stmt SEP } expr { SEP }
 *   stmt    := NAME '=' or | or
 *   or      := and { '||' and }
 *   and     := not { '&&' not }
 *   not     := '!' not | cmp
 *   cmp     := add [ ('<'|'<='|'>'|'>='|'=='|'!=') add ]
 *   add     := mul { ('+'|'-') mul }
 *   mul     := unary { ('*'|'/') unary }
 *   unary   := ('-'|'+') unary | power
 *   power   := primary [ '^' unary ]          (so ^ is right-associative)
 *   primary := NUMBER | NAME | NAME '(' args ')' | '(' or ')'
 *
 * Recursion is bounded by NLSQ_MODEL_MAX_DEPTH, so hostile nesting gets an
 * error instead of exhausting the stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct value {
    int32_t id;
    int type;
} value;

typedef struct local {
    const char *name; /* in the text, or a shape's bound name */
    size_t len;
    value v;
} local;

typedef struct parser {
    lexer lx;
    token tok;
    graph *g;
    const name_list *vars;
    name_list *params;
    int fixed;
    local *locals;
    int nlocals, locals_cap;
    int depth;
    nlsq_error *err;
    nlsq_status status;                  /* first error; once set, parsing unwinds */
    int in_shape;                        /* parsing a library shape's formula          */
    int occurrences[LIBRARY_MAX_SHAPES]; /* component calls per shape so far */
    component_list *components;          /* where calls are recorded, or NULL */
} parser;

static const value NONE = {-1, TYPE_NUM};

static value fail_at(parser *p, size_t at, nlsq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static value fail_at(parser *p, size_t at, nlsq_status code, const char *fmt, ...)
{
    if (p->status != NLSQ_OK) return NONE;
    int line, col;
    text_position(p->lx.text, p->lx.len, at, &line, &col);
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    error_set(p->err, code, line, col, "%s at line %d, column %d", what, line, col);
    p->status = code;
    return NONE;
}

static value fail_graph(parser *p, int32_t rc, size_t at)
{
    if (rc == GRAPH_LIMIT) {
        char limit[24];
        snprintf(limit, sizeof limit, "%d", NLSQ_MODEL_MAX_NODES);
        return fail_at(p, at, NLSQ_ERR_LIMIT, "model too large (more than %s graph nodes)", limit);
    }
    return fail_at(p, at, NLSQ_ERR_NOMEM, "out of memory");
}

static void advance(parser *p)
{
    if (p->status != NLSQ_OK) return;
    nlsq_status rc = lex_next(&p->lx, &p->tok, p->err);
    if (rc != NLSQ_OK) {
        p->status = rc;
        p->tok.kind = TK_EOF;
    }
}

/* The token text, for messages (truncated to fit). */
static const char *tok_text(const parser *p, const token *t, char *buf, size_t size)
{
    size_t n = t->end - t->start;
    if (n >= size) n = size - 1;
    memcpy(buf, p->lx.text + t->start, n);
    buf[n] = '\0';
    return buf;
}

static value unexpected(parser *p, const char *context)
{
    char buf[40];
    const char *what = token_describe(p->tok.kind);
    if (p->tok.kind == TK_NAME || p->tok.kind == TK_NUM) what = tok_text(p, &p->tok, buf, sizeof buf);
    return fail_at(p, p->tok.start, NLSQ_ERR_SYNTAX, "unexpected %s %s", what, context);
}

static value make(parser *p, int op, value a, value b, value c, size_t at)
{
    if (p->status != NLSQ_OK) return NONE;
    int32_t id = graph_op(p->g, op, a.id, b.id, c.id);
    if (id < 0) return fail_graph(p, id, at);
    const op_info *info = op_get(op);
    value v = {id, (info->flags & OPF_BOOL_RESULT) ? TYPE_BOOL : TYPE_NUM};
    return v;
}

/* Check an operand's type for the operator at `at`. */
static int want(parser *p, value v, int type, size_t at, const char *opname)
{
    if (p->status != NLSQ_OK) return 0;
    if (v.type == type) return 1;
    if (type == TYPE_NUM)
        fail_at(p, at, NLSQ_ERR_TYPE, "a condition cannot be used as a number (in %s)", opname);
    else
        fail_at(p, at, NLSQ_ERR_TYPE, "%s needs a condition (a comparison), not a number", opname);
    return 0;
}

static value binary(parser *p, int op, value a, value b, size_t at)
{
    const op_info *info = op_get(op);
    int type = (info->flags & OPF_BOOL_ARGS) ? TYPE_BOOL : TYPE_NUM;
    const char *name = op == NLSQ_OP_POW ? "^" : info->name;
    if (!want(p, a, type, at, name) || !want(p, b, type, at, name)) return NONE;
    return make(p, op, a, b, NONE, at);
}

static int enter(parser *p)
{
    if (++p->depth > NLSQ_MODEL_MAX_DEPTH) {
        char limit[24];
        snprintf(limit, sizeof limit, "%d", NLSQ_MODEL_MAX_DEPTH);
        fail_at(p, p->tok.start, NLSQ_ERR_LIMIT, "nesting deeper than %s levels", limit);
        return 0;
    }
    return 1;
}

static value parse_or(parser *p);
static value parse_unary(parser *p);

static local *find_local(parser *p, const char *name, size_t len)
{
    for (int i = 0; i < p->nlocals; i++)
        if (p->locals[i].len == len && memcmp(p->locals[i].name, name, len) == 0) return &p->locals[i];
    return NULL;
}

static int add_local(parser *p, const char *name, size_t len, value v)
{
    if (p->nlocals == p->locals_cap) {
        int cap = p->locals_cap ? 2 * p->locals_cap : 8;
        local *l = realloc(p->locals, (size_t)cap * sizeof *l);
        if (!l) return 0;
        p->locals = l;
        p->locals_cap = cap;
    }
    local l = {name, len, v};
    p->locals[p->nlocals++] = l;
    return 1;
}

static value leaf(parser *p, int op, int index, size_t at)
{
    int32_t id = graph_leaf(p->g, op, index);
    if (id < 0) return fail_graph(p, id, at);
    value v = {id, TYPE_NUM};
    return v;
}

static value constant(parser *p, double x, size_t at)
{
    int32_t id = graph_const(p->g, x);
    if (id < 0) return fail_graph(p, id, at);
    value v = {id, TYPE_NUM};
    return v;
}

/* A name used as a value: local, variable, constant, or parameter. */
static value name_value(parser *p, token t)
{
    const char *s = p->lx.text + t.start;
    size_t len = t.end - t.start;
    char buf[64];
    local *l = find_local(p, s, len);
    if (l) return l->v;
    int k = name_list_find(p->vars, s, len);
    if (k >= 0) return leaf(p, OP_VAR, k, t.start);
    if (len == 2 && memcmp(s, "pi", 2) == 0) return constant(p, 3.14159265358979323846, t.start);
    if (len == 1 && s[0] == 'e') return constant(p, 2.71828182845904523536, t.start);
    if (op_lookup_function(s, len) >= 0)
        return fail_at(p, t.start, NLSQ_ERR_SYNTAX, "'%s' is a function: call it as %s(...)",
                       tok_text(p, &t, buf, sizeof buf), buf);
    k = name_list_find(p->params, s, len);
    if (k < 0 && p->fixed)
        return fail_at(p, t.start, NLSQ_ERR_UNDEFINED_NAME,
                       "'%s' is not a variable, a local name or a listed parameter", tok_text(p, &t, buf, sizeof buf));
    if (k < 0) {
        if (!name_list_add(p->params, s, len)) return fail_graph(p, GRAPH_NOMEM, t.start);
        k = p->params->count - 1;
    }
    return leaf(p, OP_PARAM, k, t.start);
}

/* Levenshtein distance of two short names (for "did you mean"). */
static int edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    int row[32];
    if (la >= 31 || lb >= 31) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The function name closest to `name`, if within two edits. */
static const char *suggest_function(const char *name, size_t len)
{
    const char *best = NULL;
    int best_d = 3;
    for (int op = 0; op < NLSQ_OP_COUNT; op++) {
        const char *f = op_get(op)->name;
        if (f[0] < 'a' || f[0] > 'z') continue;
        int d = edit_distance(name, len, f, strlen(f));
        if (d < best_d) {
            best_d = d;
            best = f;
        }
    }
    return best;
}

/* The arguments of a call, after its name: ( a, b, ... ). Returns their
   count (keeping the first `max`), or -1 after an error. */
static int parse_arguments(parser *p, value *args, int max)
{
    int n = 0;
    p->lx.paren_depth++;
    advance(p); /* ( */
    if (p->tok.kind != TK_RPAREN) {
        for (;;) {
            value v = parse_or(p);
            if (p->status != NLSQ_OK) return -1;
            if (n < max) args[n] = v;
            n++;
            if (p->tok.kind != TK_COMMA) break;
            advance(p);
        }
    }
    if (p->status != NLSQ_OK) return -1;
    if (p->tok.kind != TK_RPAREN) {
        unexpected(p, "in the arguments (expected ',' or ')')");
        return -1;
    }
    p->lx.paren_depth--;
    return n;
}

static value parse_statements(parser *p);

/* The value of a shape's formula with its names bound to `bound` (the
   variables, then the parameters): the formula is parsed as a model of
   its own into the same graph, the names as its locals. */
static value expand_shape(parser *p, const nlsq_shape *sh, const value *bound, size_t at)
{
    static const char *const var_names[] = {"x", "y"};
    name_list none = {NULL, 0};
    nlsq_error err;
    error_clear(&err);
    parser sub;
    memset(&sub, 0, sizeof sub);
    sub.lx.text = sh->formula;
    sub.lx.len = strlen(sh->formula);
    sub.g = p->g;
    sub.vars = &none;
    sub.params = &none;
    sub.fixed = 1;
    sub.depth = p->depth;
    sub.err = &err;
    sub.in_shape = 1;
    int ok = 1;
    for (int k = 0; k < sh->num_vars && ok; k++) ok = add_local(&sub, var_names[k], 1, bound[k]);
    for (int k = 0; k < sh->num_params && ok; k++)
        ok = add_local(&sub, sh->param_names[k], strlen(sh->param_names[k]), bound[sh->num_vars + k]);
    if (!ok || lex_begin(&sub.lx) != 0) {
        free(sub.locals);
        return fail_graph(p, GRAPH_NOMEM, at);
    }
    advance(&sub);
    value v = parse_statements(&sub);
    lex_end(&sub.lx);
    free(sub.locals);
    if (sub.status == NLSQ_OK) return v;
    char *where = strstr(err.message, " at line"); /* a position in the formula means nothing to the user */
    if (where) *where = '\0';
    return fail_at(p, at, sub.status, "%s (in the formula of %s)", err.message, sh->name);
}

/* The parameter `name` of a component: a parameter like any other, which
   must not be a variable or local name, and must be listed when the
   parameters are. */
static value component_param(parser *p, const char *name, size_t at)
{
    size_t len = strlen(name);
    if (find_local(p, name, len))
        return fail_at(p, at, NLSQ_ERR_NAME_CONFLICT, "the component's parameter '%s' is also a local name", name);
    if (name_list_find(p->vars, name, len) >= 0)
        return fail_at(p, at, NLSQ_ERR_NAME_CONFLICT, "the component's parameter '%s' is also a variable", name);
    int k = name_list_find(p->params, name, len);
    if (k < 0 && p->fixed)
        return fail_at(p, at, NLSQ_ERR_UNDEFINED_NAME, "the component's parameter '%s' is not a listed parameter",
                       name);
    if (k < 0) {
        if (!name_list_add(p->params, name, len)) return fail_graph(p, GRAPH_NOMEM, at);
        k = p->params->count - 1;
    }
    return leaf(p, OP_PARAM, k, at);
}

static void record_component(parser *p, int shape, const char *prefix, const value *params, int nparams, value root)
{
    component_list *list = p->components;
    if (!list || p->status != NLSQ_OK) return;
    if (list->count == list->cap) {
        int cap = list->cap ? 2 * list->cap : 4;
        parsed_component *c = realloc(list->items, (size_t)cap * sizeof *c);
        if (!c) {
            fail_graph(p, GRAPH_NOMEM, 0);
            return;
        }
        list->items = c;
        list->cap = cap;
    }
    parsed_component *c = &list->items[list->count++];
    memset(c, 0, sizeof *c);
    c->shape = shape;
    snprintf(c->prefix, sizeof c->prefix, "%s", prefix);
    for (int k = 0; k < nparams; k++) {
        const node *n = &p->g->nodes[params[k].id];
        c->params[k] = n->op == OP_PARAM ? n->index : -1;
    }
    c->root = root.id;
}

/* A call of a library shape: shape(x) makes the component's parameters,
   shape(x, p1, ..., pn) takes them from the call. */
static value call_shape(parser *p, token name, int shape)
{
    const nlsq_shape *sh = nlsq_shape_get(shape);
    if (p->in_shape)
        return fail_at(p, name.start, NLSQ_ERR_SYNTAX, "shape %s called inside a shape's formula", sh->name);
    value args[2 + NLSQ_SHAPE_MAX_PARAMS];
    int nmax = sh->num_vars + sh->num_params;
    int n = parse_arguments(p, args, nmax);
    if (n < 0) return NONE;
    if (n != sh->num_vars && n != nmax) {
        char names[200] = ""; /* the longest list, gaussian2d's, takes 62 */
        for (int k = 0; k < nmax; k++) {
            const char *s = k < sh->num_vars ? (k ? "y" : "x") : sh->param_names[k - sh->num_vars];
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "", s);
        }
        return fail_at(p, name.start, NLSQ_ERR_ARITY,
                       "%s takes %d argument%s (%s) for a component with parameters of its own, or %d (%s), got %d",
                       sh->name, sh->num_vars, sh->num_vars == 1 ? "" : "s", sh->num_vars == 1 ? "x" : "x, y", nmax,
                       names, n);
    }
    advance(p); /* ) */
    for (int i = 0; i < n; i++)
        if (!want(p, args[i], TYPE_NUM, name.start, sh->name)) return NONE;
    char prefix[64] = "";
    if (n == sh->num_vars) {
        library_prefix(shape, ++p->occurrences[shape], prefix, sizeof prefix);
        for (int k = 0; k < sh->num_params && p->status == NLSQ_OK; k++) {
            char full[128];
            snprintf(full, sizeof full, "%s%s", prefix, sh->param_names[k]);
            args[sh->num_vars + k] = component_param(p, full, name.start);
        }
        if (p->status != NLSQ_OK) return NONE;
    }
    value v = expand_shape(p, sh, args, name.start);
    record_component(p, shape, prefix, args + sh->num_vars, sh->num_params, v);
    return p->status == NLSQ_OK ? v : NONE;
}

static value call(parser *p, token name)
{
    char buf[64];
    const char *s = p->lx.text + name.start;
    size_t len = name.end - name.start;
    int op = op_lookup_function(s, len);
    int shape = op < 0 ? library_lookup(s, len) : -1;
    if (shape >= 0) return call_shape(p, name, shape);
    if (op < 0) {
        int known = name_list_find(p->vars, s, len) >= 0 || name_list_find(p->params, s, len) >= 0 ||
                    find_local(p, s, len) != NULL;
        if (known)
            return fail_at(p, name.start, NLSQ_ERR_UNKNOWN_FUNCTION,
                           "'%s' is not a function (write %s*(...) for a product)", tok_text(p, &name, buf, sizeof buf),
                           buf);
        const char *near = suggest_function(s, len);
        char hint[48] = "";
        if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
        return fail_at(p, name.start, NLSQ_ERR_UNKNOWN_FUNCTION, "unknown function '%s'%s",
                       tok_text(p, &name, buf, sizeof buf), hint);
    }
    const op_info *info = op_get(op);
    value args[3];
    int n = parse_arguments(p, args, 3);
    if (n < 0) return NONE;
    if (n != info->arity) {
        char got[48];
        snprintf(got, sizeof got, "%d argument%s, got %d", info->arity, info->arity == 1 ? "" : "s", n);
        return fail_at(p, name.start, NLSQ_ERR_ARITY, "%s takes %s", info->name, got);
    }
    advance(p); /* ) */
    for (int i = 0; i < n; i++) {
        int type = (op == NLSQ_OP_WHERE && i == 0) ? TYPE_BOOL : TYPE_NUM;
        if (!want(p, args[i], type, name.start, info->name)) return NONE;
    }
    return make(p, op, args[0], n > 1 ? args[1] : NONE, n > 2 ? args[2] : NONE, name.start);
}

static value parse_primary(parser *p)
{
    token t = p->tok;
    if (t.kind == TK_NUM) {
        advance(p);
        return constant(p, t.value, t.start);
    }
    if (t.kind == TK_NAME) {
        advance(p);
        if (p->tok.kind == TK_LPAREN) return call(p, t);
        return name_value(p, t);
    }
    if (t.kind == TK_LPAREN) {
        p->lx.paren_depth++;
        advance(p);
        value v = parse_or(p);
        if (p->status != NLSQ_OK) return NONE;
        if (p->tok.kind != TK_RPAREN)
            return fail_at(p, p->tok.kind == TK_EOF ? t.start : p->tok.start, NLSQ_ERR_SYNTAX,
                           p->tok.kind == TK_EOF ? "unbalanced parenthesis: '(' is never closed" : "expected ')'");
        p->lx.paren_depth--;
        advance(p);
        return v;
    }
    if (t.kind == TK_RPAREN) return fail_at(p, t.start, NLSQ_ERR_SYNTAX, "unbalanced parenthesis: ')' without '('");
    if (t.kind == TK_EOF || t.kind == TK_SEP)
        return fail_at(p, t.start, NLSQ_ERR_SYNTAX, "expression ends where an operand is expected");
    return unexpected(p, "where an operand is expected");
}

static value parse_power(parser *p)
{
    value base = parse_primary(p);
    if (p->status != NLSQ_OK || p->tok.kind != TK_POW) return base;
    size_t at = p->tok.start;
    advance(p);
    if (!enter(p)) return NONE;
    value exponent = parse_unary(p);
    p->depth--;
    return binary(p, NLSQ_OP_POW, base, exponent, at);
}

static value parse_unary(parser *p)
{
    if (p->tok.kind != TK_MINUS && p->tok.kind != TK_PLUS) return parse_power(p);
    token op = p->tok;
    advance(p);
    if (!enter(p)) return NONE;
    value v = parse_unary(p);
    p->depth--;
    if (!want(p, v, TYPE_NUM, op.start, op.kind == TK_MINUS ? "unary -" : "unary +")) return NONE;
    return op.kind == TK_MINUS ? make(p, NLSQ_OP_NEG, v, NONE, NONE, op.start) : v;
}

static value parse_mul(parser *p)
{
    value a = parse_unary(p);
    while (p->status == NLSQ_OK && (p->tok.kind == TK_STAR || p->tok.kind == TK_SLASH)) {
        token op = p->tok;
        advance(p);
        value b = parse_unary(p);
        a = binary(p, op.kind == TK_STAR ? NLSQ_OP_MUL : NLSQ_OP_DIV, a, b, op.start);
    }
    return a;
}

static value parse_add(parser *p)
{
    value a = parse_mul(p);
    while (p->status == NLSQ_OK && (p->tok.kind == TK_PLUS || p->tok.kind == TK_MINUS)) {
        token op = p->tok;
        advance(p);
        value b = parse_mul(p);
        a = binary(p, op.kind == TK_PLUS ? NLSQ_OP_ADD : NLSQ_OP_SUB, a, b, op.start);
    }
    return a;
}

static int comparison_op(token_kind k)
{
    switch (k) {
    case TK_LT: return NLSQ_OP_LT;
    case TK_LE: return NLSQ_OP_LE;
    case TK_GT: return NLSQ_OP_GT;
    case TK_GE: return NLSQ_OP_GE;
    case TK_EQ: return NLSQ_OP_EQ;
    case TK_NE: return NLSQ_OP_NE;
    default: return -1;
    }
}

static value parse_cmp(parser *p)
{
    value a = parse_add(p);
    int op = comparison_op(p->tok.kind);
    if (p->status != NLSQ_OK || op < 0) return a;
    size_t at = p->tok.start;
    advance(p);
    value b = parse_add(p);
    if (p->status == NLSQ_OK && comparison_op(p->tok.kind) >= 0)
        return fail_at(p, p->tok.start, NLSQ_ERR_SYNTAX, "comparisons do not chain: write (a < b) && (b < c)");
    return binary(p, op, a, b, at);
}

static value parse_not(parser *p)
{
    if (p->tok.kind != TK_NOT) return parse_cmp(p);
    size_t at = p->tok.start;
    advance(p);
    if (!enter(p)) return NONE;
    value v = parse_not(p);
    p->depth--;
    if (!want(p, v, TYPE_BOOL, at, "!")) return NONE;
    return make(p, NLSQ_OP_NOT, v, NONE, NONE, at);
}

static value parse_and(parser *p)
{
    value a = parse_not(p);
    while (p->status == NLSQ_OK && p->tok.kind == TK_AND) {
        size_t at = p->tok.start;
        advance(p);
        a = binary(p, NLSQ_OP_AND, a, parse_not(p), at);
    }
    return a;
}

static value parse_or(parser *p)
{
    if (!enter(p)) return NONE;
    value a = parse_and(p);
    while (p->status == NLSQ_OK && p->tok.kind == TK_OR) {
        size_t at = p->tok.start;
        advance(p);
        a = binary(p, NLSQ_OP_OR, a, parse_and(p), at);
    }
    p->depth--;
    return a;
}

/* name = expr, the name checked against everything it could hide. */
static void parse_definition(parser *p, token name)
{
    char buf[64];
    const char *s = p->lx.text + name.start;
    size_t len = name.end - name.start;
    const char *why = NULL;
    if (find_local(p, s, len))
        why = "'%s' is already defined; local names are assigned once";
    else if (name_list_find(p->vars, s, len) >= 0)
        why = "cannot assign to '%s': it is a variable";
    else if (name_is_reserved(s, len))
        why = "cannot assign to '%s': it is a reserved function or constant name";
    else if (name_list_find(p->params, s, len) >= 0)
        why = p->fixed ? "cannot assign to '%s': it is in the parameter list"
                       : "'%s' is used as a parameter before this definition";
    if (why) {
        fail_at(p, name.start, NLSQ_ERR_REDEFINED, why, tok_text(p, &name, buf, sizeof buf));
        return;
    }
    advance(p); /* = */
    value v = parse_or(p);
    if (p->status != NLSQ_OK) return;
    if (!add_local(p, s, len, v)) fail_graph(p, GRAPH_NOMEM, name.start);
}

static void skip_separators(parser *p)
{
    while (p->status == NLSQ_OK && p->tok.kind == TK_SEP) advance(p);
}

/* Looking at NAME: is it followed by a single '='? */
static int at_definition(parser *p)
{
    if (p->tok.kind != TK_NAME) return 0;
    lexer peek = p->lx;
    token t;
    nlsq_error scratch;
    return lex_next(&peek, &t, &scratch) == NLSQ_OK && t.kind == TK_ASSIGN;
}

static value parse_statements(parser *p)
{
    value result = NONE;
    int have_result = 0;
    skip_separators(p);
    while (p->status == NLSQ_OK && p->tok.kind != TK_EOF) {
        if (have_result)
            return fail_at(p, p->tok.start, NLSQ_ERR_SYNTAX,
                           "only the last statement may be an expression; the others define names (t = ...)");
        if (at_definition(p)) {
            token name = p->tok;
            advance(p);
            parse_definition(p, name);
        } else {
            size_t at = p->tok.start;
            result = parse_or(p);
            if (p->status == NLSQ_OK && result.type != TYPE_NUM)
                return fail_at(p, at, NLSQ_ERR_TYPE, "the model is a condition, not a number (use where(cond, a, b))");
            have_result = 1;
        }
        if (p->status != NLSQ_OK) return NONE;
        if (p->tok.kind == TK_ASSIGN)
            return fail_at(p, p->tok.start, NLSQ_ERR_SYNTAX,
                           "'=' here: a definition needs a plain name on its left (comparison is '==')");
        if (p->tok.kind != TK_SEP && p->tok.kind != TK_EOF)
            return unexpected(p, "after a complete expression (missing operator?)");
        skip_separators(p);
    }
    if (p->status != NLSQ_OK) return NONE;
    if (!have_result) {
        if (p->nlocals == 0) return fail_at(p, 0, NLSQ_ERR_SYNTAX, "empty model");
        return fail_at(p, p->tok.start, NLSQ_ERR_SYNTAX,
                       "the model ends with a definition; the last statement must be the model's expression");
    }
    return result;
}

nlsq_status parse_model(const char *text, size_t len, const name_list *vars, name_list *params, int fixed, graph *g,
                        int32_t *root, component_list *components, nlsq_error *err)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.components = components;
    p.lx.text = text;
    p.lx.len = len;
    p.g = g;
    p.vars = vars;
    p.params = params;
    p.fixed = fixed;
    p.err = err;
    if (len > NLSQ_MODEL_MAX_TEXT) {
        int line, col;
        text_position(text, len, NLSQ_MODEL_MAX_TEXT, &line, &col);
        error_set(err, NLSQ_ERR_LIMIT, line, col, "model text longer than %d bytes", NLSQ_MODEL_MAX_TEXT);
        return NLSQ_ERR_LIMIT;
    }
    if (lex_begin(&p.lx) != 0) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory (cannot make the C locale)");
        return NLSQ_ERR_NOMEM;
    }
    /* Variables, then listed parameters, get the first node ids, so the
       builder can reproduce the parser's numbering. */
    for (int k = 0; k < vars->count && p.status == NLSQ_OK; k++) leaf(&p, OP_VAR, k, 0);
    for (int k = 0; fixed && k < params->count && p.status == NLSQ_OK; k++) leaf(&p, OP_PARAM, k, 0);
    advance(&p);
    value v = parse_statements(&p);
    lex_end(&p.lx);
    free(p.locals);
    if (p.status != NLSQ_OK) return p.status;
    *root = v.id;
    return NLSQ_OK;
}
