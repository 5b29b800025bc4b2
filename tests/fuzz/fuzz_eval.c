/*
 * libFuzzer target over the command's whole data path, as `nlsq eval`
 * takes it (tools/cmd_eval.c, load.c; the tools sources are compiled into
 * this target, their main renamed): the data file's kind sniffed (.npy
 * magic, else text), read in memory, the columns chosen, every row read
 * and the model evaluated, with its Jacobian, at every row. eval writes
 * no file, only standard output.
 *
 * The bytes up to the first empty line are extra arguments (fuzz_cli.h;
 * after DATA --model a*exp(-b*x)+c, so that they may replace the model),
 * the rest the data file.
 */
#include "fuzz_util.h"

#include "fuzz_cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = fuzz_lowest_fd();
    const uint8_t *split = NULL;
    for (size_t i = 0; i + 1 < size && !split; i++)
        if (data[i] == '\n' && data[i + 1] == '\n') split = data + i;
    size_t nargs = split ? (size_t)(split - data) : 0;
    const uint8_t *file = split ? split + 2 : data;
    size_t file_size = size - (size_t)(file - data);
    char path[64];
    int fd = fuzz_memfile(file, file_size, path, sizeof path);
    if (fd < 0) abort();
    char *buf = malloc(nargs + 1), *argv[MAX_ARGS];
    if (!buf) abort();
    const command *cmd = command_find("eval");
    argv[0] = (char *)cmd->name;
    argv[1] = path;
    argv[2] = "--model";
    argv[3] = "a*exp(-b*x)+c";
    argv[4] = "--jacobian";
    int argc = make_argv(cmd, 5, data, nargs, buf, argv);
    cmd->run(&(cli_env){NULL, 0, 1, 0, -1}, argc, argv);
    fflush(stdout);
    clearerr(stdout);
    free(buf);
    close(fd);
    fuzz_check_fds(fds);
    return 0;
}
