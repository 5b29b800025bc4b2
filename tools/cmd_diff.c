/* nlsq diff: the model and its partial derivatives as model text. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

const option_group *const diff_groups[] = {&group_names, NULL};

/* f (which -1) or df/dp_which as text, or NULL when out of memory. */
static char *formatted(const nlsq_model *m, int which)
{
    size_t need = nlsq_model_format(m, which, NULL, 0);
    char *buf = malloc(need + 1);
    if (buf) nlsq_model_format(m, which, buf, need + 1);
    return buf;
}

int cmd_diff(const cli_env *env, int argc, char **argv)
{
    (void)env; /* runs alone */
    cli c;
    cli_init(&c, NULL);
    c.vars = NULL;
    const char *pos[1];
    int npos, rc = options_parse(command_find("diff"), argc, argv, &c, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos == 0) return die("usage: nlsq diff EXPR [--vars x,y] [--params a,b]");
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = c.vars;
    mo.params = c.params;
    nlsq_model *m = NULL;
    nlsq_error err;
    if (nlsq_model_parse(pos[0], &mo, &m, &err) != NLSQ_OK) {
        die("%s", err.message);
        return err.code == NLSQ_ERR_NAME_CONFLICT ? 2 : 3;
    }
    printf("model       %s\nvariables  ", pos[0]);
    for (int k = 0; k < nlsq_model_num_vars(m); k++) printf(" %s", nlsq_model_var_name(m, k));
    printf("\nparameters ");
    for (int j = 0; j < nlsq_model_num_params(m); j++) printf(" %s", nlsq_model_param_name(m, j));
    if (nlsq_model_num_components(m)) printf("\ncomponents ");
    for (int i = 0; i < nlsq_model_num_components(m); i++) {
        nlsq_component comp;
        nlsq_model_component(m, i, &comp, NULL);
        printf(" %s%s%s", comp.prefix, *comp.prefix ? "" : comp.shape, *comp.prefix ? "*" : "(...)");
    }
    printf("\n\n");
    for (int j = -1; j < nlsq_model_num_params(m) && !rc; j++) {
        char *text = formatted(m, j);
        if (!text)
            rc = die("out of memory");
        else if (j < 0)
            printf("f = %s\n", text);
        else
            printf("df/d%s = %s\n", nlsq_model_param_name(m, j), text);
        free(text);
    }
    nlsq_model_free(m);
    return rc;
}
