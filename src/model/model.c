/*
 * The public model object: names, the graph of f and its derivatives,
 * and the scheduled program. Parsing and building both end in model_make.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "exec/jit.h"

nlsq_model_options nlsq_model_options_default(void)
{
    nlsq_model_options o = {"x", NULL};
    return o;
}

void name_list_free(name_list *l)
{
    for (int i = 0; i < l->count; i++) free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

int name_list_find(const name_list *l, const char *name, size_t len)
{
    for (int i = 0; i < l->count; i++)
        if (strlen(l->names[i]) == len && memcmp(l->names[i], name, len) == 0) return i;
    return -1;
}

int name_list_add(name_list *l, const char *name, size_t len)
{
    char **names = realloc(l->names, (size_t)(l->count + 1) * sizeof *names);
    if (!names) return 0;
    l->names = names;
    char *copy = malloc(len + 1);
    if (!copy) return 0;
    memcpy(copy, name, len);
    copy[len] = '\0';
    l->names[l->count++] = copy;
    return 1;
}

int name_list_copy(const name_list *src, name_list *dst)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->count; i++)
        if (!name_list_add(dst, src->names[i], strlen(src->names[i]))) {
            name_list_free(dst);
            return 0;
        }
    return 1;
}

int name_is_identifier(const char *s, size_t len)
{
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

nlsq_status name_list_parse(const char *csv, const char *what, name_list *out, nlsq_error *err)
{
    memset(out, 0, sizeof *out);
    const char *s = csv;
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        size_t len = (size_t)(b - a);
        const char *why = NULL;
        if (!name_is_identifier(a, len)) why = "is not a name (letters, digits and _, not starting with a digit)";
        else if (name_is_reserved(a, len)) why = "is a reserved function or constant name";
        else if (name_list_find(out, a, len) >= 0) why = "appears twice";
        if (why) {
            error_set(err, NLSQ_ERR_NAME_CONFLICT, 0, 0, "%s name '%.*s' in \"%.100s\" %s", what,
                      (int)(len > 64 ? 64 : len), a, csv, why);
            name_list_free(out);
            return NLSQ_ERR_NAME_CONFLICT;
        }
        if (!name_list_add(out, a, len)) {
            name_list_free(out);
            error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory");
            return NLSQ_ERR_NOMEM;
        }
        s = *end ? end + 1 : end;
        if (*end && !*s) { /* trailing comma */
            error_set(err, NLSQ_ERR_NAME_CONFLICT, 0, 0, "%s list \"%.100s\" ends with a comma", what, csv);
            name_list_free(out);
            return NLSQ_ERR_NAME_CONFLICT;
        }
    }
    return NLSQ_OK;
}

static nlsq_status graph_status(int rc, nlsq_error *err)
{
    if (rc == GRAPH_LIMIT) {
        error_set(err, NLSQ_ERR_LIMIT, 0, 0, "model too large: its derivatives need more than %d graph nodes",
                  NLSQ_MODEL_MAX_NODES);
        return NLSQ_ERR_LIMIT;
    }
    error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory while building the model");
    return NLSQ_ERR_NOMEM;
}

/* Every parameter must reach the root: one that does not (listed but
   unused, used only in an unused definition, or folded away as in q^0)
   would give an all-zero Jacobian column and a singular fit. */
static nlsq_status check_params_used(const graph *g, int32_t root, const name_list *params, nlsq_error *err)
{
    uint8_t *used = calloc((size_t)params->count + 1, 1);
    uint8_t *reach = calloc((size_t)g->count + 1, 1);
    nlsq_status st = NLSQ_OK;
    if (!used || !reach) {
        st = NLSQ_ERR_NOMEM;
        error_set(err, st, 0, 0, "out of memory");
        goto done;
    }
    reach[root] = 1;
    for (int32_t id = root; id >= 0; id--) {
        if (!reach[id]) continue;
        const node *n = &g->nodes[id];
        if (n->op == OP_PARAM) used[n->index] = 1;
        for (int k = 0; k < 3; k++)
            if (n->a[k] >= 0) reach[n->a[k]] = 1;
    }
    for (int j = 0; j < params->count; j++)
        if (!used[j]) {
            st = NLSQ_ERR_UNDEFINED_NAME;
            error_set(err, st, 0, 0,
                      "parameter '%s' does not affect the model (listed but unused, used only in an "
                      "unused definition, or folded away)", params->names[j]);
            break;
        }
done:
    free(used);
    free(reach);
    return st;
}

nlsq_status model_make(graph *src, int32_t root, name_list *vars, name_list *params,
                       nlsq_model **out, nlsq_error *err)
{
    *out = NULL;
    nlsq_status st = check_params_used(src, root, params, err);
    nlsq_model *m = calloc(1, sizeof *m);
    if (st == NLSQ_OK && !m) {
        st = NLSQ_ERR_NOMEM;
        error_set(err, st, 0, 0, "out of memory");
    }
    if (st != NLSQ_OK) {
        free(m);
        name_list_free(vars);
        name_list_free(params);
        return st;
    }
    m->vars = *vars;
    m->params = *params;
    memset(vars, 0, sizeof *vars);
    memset(params, 0, sizeof *params);
    graph_init(&m->g, NLSQ_MODEL_MAX_NODES);
    m->root = root;
    int n = m->params.count;
    m->dnode = malloc((size_t)(n ? n : 1) * sizeof *m->dnode);
    int rc = m->dnode ? graph_copy_reachable(src, &m->g, &m->root, 1) : GRAPH_NOMEM;
    if (rc == 0) rc = diff_reverse(&m->g, m->root, n, m->dnode);
    if (rc == 0) rc = schedule_build(&m->g, m->root, m->dnode, m->vars.count, n, &m->prog);
    if (rc == 0) {
        m->jit = malloc(sizeof *m->jit);
        if (!m->jit || jit_set_init(m->jit) != 0) {
            free(m->jit);
            m->jit = NULL;
            rc = GRAPH_NOMEM;
        }
    }
    if (rc != 0) {
        st = graph_status(rc, err);
        nlsq_model_free(m);
        return st;
    }
    *out = m;
    return NLSQ_OK;
}

nlsq_status nlsq_model_parse_n(const char *text, size_t len, const nlsq_model_options *opt,
                               nlsq_model **out, nlsq_error *err)
{
    error_clear(err);
    if (out) *out = NULL;
    if (!text || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_model_parse: %s is NULL", !text ? "text" : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_model_options o = opt ? *opt : nlsq_model_options_default();
    if (!o.vars) o.vars = "x";
    name_list vars, params = {NULL, 0};
    nlsq_status st = name_list_parse(o.vars, "variable", &vars, err);
    if (st != NLSQ_OK) return st;
    if (o.params) st = name_list_parse(o.params, "parameter", &params, err);
    for (int j = 0; st == NLSQ_OK && j < params.count; j++)
        if (name_list_find(&vars, params.names[j], strlen(params.names[j])) >= 0) {
            st = NLSQ_ERR_NAME_CONFLICT;
            error_set(err, st, 0, 0, "'%s' is named as both a variable and a parameter", params.names[j]);
        }
    graph g;
    graph_init(&g, NLSQ_MODEL_MAX_NODES);
    int32_t root = -1;
    if (st == NLSQ_OK) st = parse_model(text, len, &vars, &params, o.params != NULL, &g, &root, err);
    if (st == NLSQ_OK) {
        st = model_make(&g, root, &vars, &params, out, err);
    } else {
        name_list_free(&vars);
        name_list_free(&params);
    }
    graph_free(&g);
    return st;
}

nlsq_status nlsq_model_parse(const char *text, const nlsq_model_options *opt, nlsq_model **out,
                             nlsq_error *err)
{
    if (!text) {
        error_clear(err);
        if (out) *out = NULL;
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_model_parse: text is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return nlsq_model_parse_n(text, strlen(text), opt, out, err);
}

void nlsq_model_free(nlsq_model *m)
{
    if (!m) return;
    name_list_free(&m->vars);
    name_list_free(&m->params);
    graph_free(&m->g);
    free(m->dnode);
    program_free(&m->prog);
    if (m->jit) {
        jit_set_free(m->jit); /* waits for a compile still running */
        free(m->jit);
    }
    free(m);
}

int nlsq_model_num_params(const nlsq_model *m) { return m ? m->params.count : 0; }
int nlsq_model_num_vars(const nlsq_model *m) { return m ? m->vars.count : 0; }

const char *nlsq_model_param_name(const nlsq_model *m, int i)
{
    return (m && i >= 0 && i < m->params.count) ? m->params.names[i] : NULL;
}

const char *nlsq_model_var_name(const nlsq_model *m, int i)
{
    return (m && i >= 0 && i < m->vars.count) ? m->vars.names[i] : NULL;
}

nlsq_status nlsq_model_get_stats(const nlsq_model *m, nlsq_model_stats *stats, nlsq_error *err)
{
    error_clear(err);
    if (!m || !stats) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_model_get_stats: %s is NULL", !m ? "model" : "stats");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    const program *p = &m->prog;
    stats->graph_nodes = p->graph_nodes;
    stats->point_instructions = p->npinstr;
    stats->uniform_instructions = p->nuinstr;
    stats->slots = p->nslots;
    stats->point_calls = 0;
    for (int i = 0; i < p->npinstr; i++)
        if (op_get(p->pinstr[i].op)->flags & OPF_CALL) stats->point_calls++;
    return NLSQ_OK;
}

size_t nlsq_model_dump(const nlsq_model *m, char *buf, size_t size)
{
    if (!m || (!buf && size)) return 0;
    return program_dump(&m->prog, buf, size);
}
