/*
 * libFuzzer target over the nlsq command's option values: the option
 * tables' parser (tools/options.c: counts, numbers, choices), the
 * name=value lists of --p0, --bounds and --fix (tools/params.c), and the
 * column lists of --x, --y, --sigma with --vars and --params
 * (tools/load.c), through the command's own functions (the tools sources
 * are compiled into this target, their main renamed).
 *
 * The first byte picks the command (fit, batch or eval); the rest is split
 * at newlines into arguments. An argument that starts with a control
 * character picks with it one of the command's options, and the rest is
 * that option's value, so that the fuzzer spends its time on values, not
 * on spelling option names; any other argument is taken as it is (the
 * seeds read like command lines). When the options parse, the
 * model (--model, else a fixed one) is parsed with --vars and --params,
 * the parameter options are applied to it, and the columns are chosen in
 * a small table held in memory. Nothing may crash or leak; a refusal is a
 * message and a status of 2 or 3.
 */
#include "fuzz_util.h"

#include "cli.h"

enum { MAX_ARGS = 64 };

static const char TABLE[] = "t,v,w,id\n0,1,0.1,1\n1,2.7,0.1,1\n2,7.4,0.1,2\n3,20,0.1,2\n4,55,0.1,2\n";

/* The command's options in one list: up to max of them. */
static int list_options(const command *cmd, const option **out, int max)
{
    int n = 0;
    for (int g = 0; cmd->groups && cmd->groups[g]; g++)
        for (const option *o = cmd->groups[g]->options; o->name && n < max; o++) out[n++] = o;
    return n;
}

/* The arguments from the bytes, in buf (NUL-ended pieces); argc. */
static int make_argv(const command *cmd, const uint8_t *data, size_t size, char *buf, char **argv)
{
    const option *opts[128];
    int nopt = list_options(cmd, opts, 128), argc = 0;
    argv[argc++] = (char *)cmd->name;
    char *w = buf;
    size_t i = 0;
    while (i < size && argc < MAX_ARGS - 2) {
        size_t j = i;
        while (j < size && data[j] != '\n') j++;
        if (j > i && data[i] < 0x20 && nopt > 0) {
            const option *o = opts[data[i] % nopt];
            argv[argc++] = (char *)o->name;
            i++;
            if (!o->arg) {
                i = j + 1;
                continue;
            }
        }
        memcpy(w, data + i, j - i);
        w[j - i] = '\0';
        argv[argc++] = w;
        w += j - i + 1;
        i = j + 1;
    }
    argv[argc] = NULL;
    return argc;
}

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
    int argc = make_argv(cmd, data + 1, size - 1, buf, argv);
    cli c;
    cli_init(&c);
    const char *pos[MAX_DATA_FILES];
    int npos;
    int rc = options_parse(cmd, argc, argv, &c, pos, MAX_DATA_FILES, &npos);
    if (rc == 0) use_options(&c);
    free(buf);
    fuzz_check_fds(fds);
    return 0;
}
