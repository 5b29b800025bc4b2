/*
 * The builder: the model graph made from C calls instead of text. It uses
 * the same graph functions as the parser, so the same math made in the
 * same order gives the same nodes and the same program.
 *
 * Errors are sticky: the first one is kept, every call after it (or given
 * an invalid handle) returns NLSQ_EXPR_INVALID, and nlsq_builder_finish
 * reports it. A tracer can then build a whole expression without checking
 * each step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct nlsq_builder {
    graph g;
    name_list vars, params;
    nlsq_error first; /* code NLSQ_OK until a call fails */
    int allow_unused; /* keep parameters the root does not use (zero column) */
};

nlsq_status nlsq_builder_new(nlsq_builder **out, nlsq_error *err)
{
    error_clear(err);
    if (!out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_builder_new: out is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_builder *b = calloc(1, sizeof *b);
    *out = b;
    if (!b) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory");
        return NLSQ_ERR_NOMEM;
    }
    graph_init(&b->g, NLSQ_MODEL_MAX_NODES);
    error_clear(&b->first);
    return NLSQ_OK;
}

void nlsq_builder_free(nlsq_builder *b)
{
    if (!b) return;
    graph_free(&b->g);
    name_list_free(&b->vars);
    name_list_free(&b->params);
    free(b);
}

void nlsq_builder_allow_unused_params(nlsq_builder *b, int allow)
{
    if (b) b->allow_unused = allow != 0;
}

static nlsq_expr fail(nlsq_builder *b, nlsq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static nlsq_expr fail(nlsq_builder *b, nlsq_status code, const char *fmt, ...)
{
    if (b->first.code == NLSQ_OK) {
        char what[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        error_set(&b->first, code, 0, 0, "%s", what);
    }
    return NLSQ_EXPR_INVALID;
}

static nlsq_expr result(nlsq_builder *b, int32_t id)
{
    if (id == GRAPH_LIMIT) return fail(b, NLSQ_ERR_LIMIT, "builder: model larger than the graph node limit");
    if (id < 0) return fail(b, NLSQ_ERR_NOMEM, "builder: out of memory");
    return id;
}

/* Usable builder and valid handles of the wanted types. */
static int ready(nlsq_builder *b, const nlsq_expr *args, const int *types, int n, const char *what)
{
    if (b->first.code != NLSQ_OK) return 0;
    for (int i = 0; i < n; i++) {
        if (args[i] < 0 || args[i] >= b->g.count) {
            fail(b, NLSQ_ERR_INVALID_ARGUMENT, "builder: invalid expression handle given to %s", what);
            return 0;
        }
        if (b->g.nodes[args[i]].type != types[i]) {
            fail(b, NLSQ_ERR_TYPE,
                 types[i] == TYPE_NUM ? "builder: %s needs a number, not a condition"
                                      : "builder: %s needs a condition, not a number",
                 what);
            return 0;
        }
    }
    return 1;
}

static nlsq_expr named(nlsq_builder *b, const char *name, int op)
{
    if (!b) return NLSQ_EXPR_INVALID;
    if (b->first.code != NLSQ_OK) return NLSQ_EXPR_INVALID;
    const char *kind = op == OP_VAR ? "variable" : "parameter";
    if (!name) return fail(b, NLSQ_ERR_INVALID_ARGUMENT, "builder: %s name is NULL", kind);
    size_t len = strlen(name);
    if (!name_is_identifier(name, len) || name_is_reserved(name, len))
        return fail(b, NLSQ_ERR_NAME_CONFLICT, "builder: '%.64s' cannot be a %s name", name, kind);
    name_list *mine = op == OP_VAR ? &b->vars : &b->params;
    name_list *other = op == OP_VAR ? &b->params : &b->vars;
    if (name_list_find(other, name, len) >= 0)
        return fail(b, NLSQ_ERR_NAME_CONFLICT, "builder: '%.64s' is already a %s", name,
                    op == OP_VAR ? "parameter" : "variable");
    int k = name_list_find(mine, name, len);
    if (k < 0) {
        if (!name_list_add(mine, name, len)) return result(b, GRAPH_NOMEM);
        k = mine->count - 1;
    }
    return result(b, graph_leaf(&b->g, op, k));
}

nlsq_expr nlsq_builder_var(nlsq_builder *b, const char *name)
{
    return named(b, name, OP_VAR);
}
nlsq_expr nlsq_builder_param(nlsq_builder *b, const char *name)
{
    return named(b, name, OP_PARAM);
}

nlsq_expr nlsq_builder_const(nlsq_builder *b, double value)
{
    if (!b || b->first.code != NLSQ_OK) return NLSQ_EXPR_INVALID;
    return result(b, graph_const(&b->g, value));
}

static nlsq_expr apply(nlsq_builder *b, nlsq_op op, int arity, const nlsq_expr *args)
{
    if (!b || b->first.code != NLSQ_OK) return NLSQ_EXPR_INVALID;
    if ((int)op < 0 || op >= NLSQ_OP_COUNT || op_get(op)->arity != arity) {
        return fail(b, NLSQ_ERR_ARITY, "builder: op %d does not take %d arguments", (int)op, arity);
    }
    const op_info *info = op_get(op);
    int types[3];
    for (int i = 0; i < arity; i++)
        types[i] = (info->flags & OPF_BOOL_ARGS) || (op == NLSQ_OP_WHERE && i == 0) ? TYPE_BOOL : TYPE_NUM;
    if (!ready(b, args, types, arity, info->name)) return NLSQ_EXPR_INVALID;
    return result(b, graph_op(&b->g, op, args[0], arity > 1 ? args[1] : -1, arity > 2 ? args[2] : -1));
}

nlsq_expr nlsq_builder_op1(nlsq_builder *b, nlsq_op op, nlsq_expr a)
{
    nlsq_expr args[1] = {a};
    return apply(b, op, 1, args);
}

nlsq_expr nlsq_builder_op2(nlsq_builder *b, nlsq_op op, nlsq_expr a, nlsq_expr c)
{
    nlsq_expr args[2] = {a, c};
    return apply(b, op, 2, args);
}

nlsq_expr nlsq_builder_where(nlsq_builder *b, nlsq_expr cond, nlsq_expr a, nlsq_expr c)
{
    nlsq_expr args[3] = {cond, a, c};
    return apply(b, NLSQ_OP_WHERE, 3, args);
}

nlsq_status nlsq_builder_finish(nlsq_builder *b, nlsq_expr root, nlsq_model **out, nlsq_error *err)
{
    error_clear(err);
    if (out) *out = NULL;
    if (!b || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_builder_finish: %s is NULL", !b ? "builder" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (b->first.code != NLSQ_OK) {
        if (err) {
            *err = b->first;
            err->code = NLSQ_ERR_BUILDER;
        }
        return NLSQ_ERR_BUILDER;
    }
    if (root < 0 || root >= b->g.count || b->g.nodes[root].type != TYPE_NUM) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_builder_finish: root is %s",
                  root < 0 || root >= b->g.count ? "not a valid handle" : "a condition, not a number");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    name_list vars, params;
    if (!name_list_copy(&b->vars, &vars) || !name_list_copy(&b->params, &params)) {
        name_list_free(&vars);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory");
        return NLSQ_ERR_NOMEM;
    }
    return model_make(&b->g, root, &vars, &params, b->allow_unused, out, err);
}
