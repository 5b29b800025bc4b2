/*
 * libFuzzer target over the nlsq command's option values: the option
 * tables' parser (tools/options.c: counts, numbers, choices), the
 * name=value lists of --p0, --bounds and --fix (tools/params.c), and the
 * column lists of --x, --y, --sigma with --vars and --params
 * (tools/load.c), through the command's own functions (the tools sources
 * are compiled into this target, their main renamed).
 *
 * The first byte picks the command (fit, batch or eval); the rest are its
 * arguments (fuzz_cli.h). When the options parse, the
 * model (--model, else a fixed one) is parsed with --vars and --params,
 * the parameter options are applied to it, and the columns are chosen in
 * a small table held in memory. Nothing may crash or leak; a refusal is a
 * message and a status of 2 or 3.
 */
#include "fuzz_util.h"

#include "fuzz_cli.h"

static const char TABLE[] = "t,v,w,id\n0,1,0.1,1\n1,2.7,0.1,1\n2,7.4,0.1,2\n3,20,0.1,2\n4,55,0.1,2\n";

static void use_options(cli *c)
{
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = c->vars;
    mo.params = c->params;
    nlsq_model *m = NULL;
    nlsq_error err;
    if (!c->model) c->model = "a*exp(b*x)+c";
    if (nlsq_model_parse(c->model, &mo, &m, &err) != NLSQ_OK) return;
    param_opts po;
    param_opts_parse(c, m, &po);
    param_opts_free(&po);
    nlsq_model_free(m);

    dataset d;
    c->data = "fuzz.csv";
    c->text = TABLE;
    c->text_len = sizeof TABLE - 1;
    c->nmore = 0;
    if (dataset_load(c, 1, &d) == 0) {
        param_opts_parse(c, d.m, &po);
        param_opts_free(&po);
    }
    dataset_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = fuzz_lowest_fd();
    static const char *names[] = {"fit", "batch", "eval"};
    if (size == 0 || size > 4096) return 0;
    const command *cmd = command_find(names[data[0] % 3]);
    char *buf = malloc(size + 1), *argv[MAX_ARGS];
    if (!buf) return 0;
    argv[0] = (char *)cmd->name;
    int argc = make_argv(cmd, 1, data + 1, size - 1, buf, argv);
    cli c;
    cli_init(&c, NULL);
    const char *pos[MAX_DATA_FILES];
    int npos;
    int rc = options_parse(cmd, argc, argv, &c, pos, MAX_DATA_FILES, &npos);
    if (rc == 0) use_options(&c);
    free(buf);
    fuzz_check_fds(fds);
    return 0;
}
