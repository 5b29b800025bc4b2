/* nlsq models: the shapes of the model library, with their parameters and
   formulas (the library's own definitions, from nlsq_shape_get). */
#include <stdio.h>

#include "cli.h"

static void print_shape(const nlsq_shape *sh)
{
    printf("%s(%s", sh->name, sh->num_vars == 2 ? "x, y" : "x");
    for (int k = 0; k < sh->num_params; k++) printf(", %s", sh->param_names[k]);
    printf(")\n    %s\n    = %s\n", sh->summary, sh->formula);
}

int cmd_models(const cli_env *env, int argc, char **argv)
{
    (void)env; /* runs alone */
    const char *pos[1];
    int npos, rc = options_parse(command_find("models"), argc, argv, NULL, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos == 1) {
        const nlsq_shape *sh = nlsq_shape_find(pos[0]);
        if (!sh) return die("no shape '%s' in the model library (nlsq models lists them)", pos[0]);
        print_shape(sh);
        printf("\nas a component: %s(%s) makes the parameters %s1_%s, ...; its derivatives:\n"
               "nlsq diff '%s(%s)'%s\n",
               sh->name, sh->num_vars == 2 ? "x, y" : "x", sh->name, sh->param_names[0], sh->name,
               sh->num_vars == 2 ? "x, y" : "x", sh->num_vars == 2 ? " --vars x,y" : "");
        return 0;
    }
    printf("Shapes for model text. shape(x) is a component with parameters of its own, named\n"
           "with a prefix (gaussian(x) + gaussian(x): gaussian1_amplitude, ..., gaussian2_sigma);\n"
           "shape(x, p1, p2, ...) takes its parameters from the call (gaussian(x, A, mu, s)).\n"
           "Components combine with the operators: gaussian(x) + gaussian(x) + linear(x).\n\n");
    for (int i = 0; i < nlsq_shape_count(); i++) print_shape(nlsq_shape_get(i));
    return 0;
}
