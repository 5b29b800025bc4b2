/*
 * The public model object: names, the graph of f and its derivatives,
 * and the scheduled program. Parsing and building both end in model_make.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"

nlsq_model_options nlsq_model_options_default(void)
{
    nlsq_model_options o = {"x", NULL};
    return o;
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
                      "unused definition, or folded away)",
                      params->names[j]);
            break;
        }
done:
    free(used);
    free(reach);
    return st;
}

nlsq_status model_make(graph *src, int32_t root, name_list *vars, name_list *params, int allow_unused, nlsq_model **out,
                       nlsq_error *err)
{
    *out = NULL;
    nlsq_status st = allow_unused ? NLSQ_OK : check_params_used(src, root, params, err);
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
    if (rc != 0) {
        st = graph_status(rc, err);
        nlsq_model_free(m);
        return st;
    }
    *out = m;
    return NLSQ_OK;
}

nlsq_status model_vars_to_params(const nlsq_model *m, const unsigned char *to_param, nlsq_model **out, nlsq_error *err)
{
    *out = NULL;
    int k = m->vars.count;
    int32_t *var_to = malloc((size_t)(k ? k : 1) * sizeof *var_to);
    name_list vars = {0}, params = {0};
    graph g;
    graph_init(&g, NLSQ_MODEL_MAX_NODES);
    int ok = var_to && name_list_copy(&m->params, &params);
    for (int v = 0, kept = 0; ok && v < k; v++) {
        const char *name = m->vars.names[v];
        if (to_param[v]) {
            var_to[v] = -1 - params.count;
            ok = name_list_add(&params, name, strlen(name));
        } else {
            var_to[v] = kept++;
            ok = name_list_add(&vars, name, strlen(name));
        }
    }
    int32_t root = m->root;
    if (ok && graph_copy_rebound(&m->g, &g, &root, 1, var_to) != 0) ok = 0;
    free(var_to);
    nlsq_status st;
    if (!ok) {
        name_list_free(&vars);
        name_list_free(&params);
        st = NLSQ_ERR_NOMEM;
        error_set(err, st, 0, 0, "out of memory");
    } else {
        st = model_make(&g, root, &vars, &params, 1, out, err);
    }
    graph_free(&g);
    return st;
}

/* Each component's value alone, as a model of m's variables and
   parameters, made from the parse graph g. */
static nlsq_status attach_components(nlsq_model *m, graph *g, const component_list *list, nlsq_error *err)
{
    if (list->count == 0) return NLSQ_OK;
    m->components = calloc((size_t)list->count, sizeof *m->components);
    if (!m->components) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory");
        return NLSQ_ERR_NOMEM;
    }
    for (int i = 0; i < list->count; i++) {
        const parsed_component *pc = &list->items[i];
        model_component *c = &m->components[i];
        c->shape = pc->shape;
        memcpy(c->prefix, pc->prefix, sizeof c->prefix);
        memcpy(c->params, pc->params, sizeof c->params);
        m->ncomponents = i + 1;
        name_list vars, params;
        if (!name_list_copy(&m->vars, &vars) || !name_list_copy(&m->params, &params)) {
            name_list_free(&vars);
            error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory");
            return NLSQ_ERR_NOMEM;
        }
        nlsq_status st = model_make(g, pc->root, &vars, &params, 1, &c->value, err);
        if (st != NLSQ_OK) return st;
    }
    return NLSQ_OK;
}

nlsq_status nlsq_model_parse_n(const char *text, size_t len, const nlsq_model_options *opt, nlsq_model **out,
                               nlsq_error *err)
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
    component_list components = {NULL, 0, 0};
    if (st == NLSQ_OK) st = parse_model(text, len, &vars, &params, o.params != NULL, &g, &root, &components, err);
    if (st == NLSQ_OK) {
        st = model_make(&g, root, &vars, &params, 0, out, err);
        if (st == NLSQ_OK) st = attach_components(*out, &g, &components, err);
        if (st != NLSQ_OK) {
            nlsq_model_free(*out);
            *out = NULL;
        }
    } else {
        name_list_free(&vars);
        name_list_free(&params);
    }
    free(components.items);
    graph_free(&g);
    return st;
}

nlsq_status nlsq_model_parse(const char *text, const nlsq_model_options *opt, nlsq_model **out, nlsq_error *err)
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
    for (int i = 0; i < m->ncomponents; i++) nlsq_model_free(m->components[i].value);
    free(m->components);
    name_list_free(&m->vars);
    name_list_free(&m->params);
    graph_free(&m->g);
    free(m->dnode);
    program_free(&m->prog);
    if (m->kernels) m->kernels->release(m->kernels); /* waits for a compile still running */
    free(m);
}

int nlsq_model_num_components(const nlsq_model *m)
{
    return m ? m->ncomponents : 0;
}

nlsq_status nlsq_model_component(const nlsq_model *m, int index, nlsq_component *out, nlsq_error *err)
{
    error_clear(err);
    if (!m || !out || index < 0 || index >= m->ncomponents) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_model_component: %s",
                  !m     ? "model is NULL"
                  : !out ? "out is NULL"
                         : "index out of range");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    const model_component *c = &m->components[index];
    const nlsq_shape *sh = nlsq_shape_get(c->shape);
    out->shape = sh->name;
    out->prefix = c->prefix;
    out->num_params = sh->num_params;
    out->params = c->params;
    out->value = c->value;
    return NLSQ_OK;
}

int nlsq_model_num_params(const nlsq_model *m)
{
    return m ? m->params.count : 0;
}
int nlsq_model_num_vars(const nlsq_model *m)
{
    return m ? m->vars.count : 0;
}

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
