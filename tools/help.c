/*
 * Help and the manual page, both made from the tables of commands and
 * options (nlsq.c, cmd_*.c, common.c): an option documented once is
 * documented everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { HELP_COLUMN = 22 };

/* The "--name ARG" part of an option's line. */
static void option_usage(const option *o, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

/* Text whose lines are split by '\n', each after `indent` spaces (the
   first line after none: the caller has placed it). */
static void indented(FILE *out, const char *text, int indent)
{
    for (const char *s = text; *s; s++) {
        fputc(*s, out);
        if (*s == '\n') fprintf(out, "%*s", indent, "");
    }
    fputc('\n', out);
}

static void help_group(FILE *out, const option_group *g)
{
    fprintf(out, "\n%s:\n", g->title);
    for (const option *o = g->options; o->name; o++) {
        char use[64];
        option_usage(o, use, sizeof use);
        if (strlen(use) + 2 < HELP_COLUMN)
            fprintf(out, "  %-*s", HELP_COLUMN - 2, use);
        else
            fprintf(out, "  %s\n%*s", use, HELP_COLUMN, "");
        indented(out, o->help, HELP_COLUMN);
    }
}

static void help_commands(FILE *out)
{
    for (const command *c = commands; c->name; c++) {
        fprintf(out, "  nlsq %s%s%s\n", c->name, c->synopsis[0] ? " " : "", c->synopsis);
        fprintf(out, "      %s\n", c->summary);
    }
    fprintf(out, "  nlsq --version\n");
}

static const char EXIT_STATUS[] = "Exit status: 0 converged, 1 did not converge (outputs still written),\n"
                                  "2 bad usage or input, or an output (a file, the standard output) that\n"
                                  "could not be written, 3 error in the model text, 4 (fit, batch)\n"
                                  "converged but the result cannot be trusted (--accept-untrusted: 0);\n"
                                  "killed by SIGINT, SIGTERM or SIGHUP, that signal's status (no\n"
                                  "temporary file is left).\n"
                                  "In every command, -- ends the options: what follows is arguments.\n";

void help_command(FILE *out, const command *cmd)
{
    fprintf(out, "usage: nlsq %s%s%s\n\n", cmd->name, cmd->synopsis[0] ? " " : "", cmd->synopsis);
    fprintf(out, "%s\n", cmd->description);
    for (int g = 0; cmd->groups && cmd->groups[g]; g++) help_group(out, cmd->groups[g]);
    fprintf(out, "\nnlsq commands (nlsq help COMMAND for each):\n");
    help_commands(out);
}

void help_overview(FILE *out)
{
    fprintf(out, "usage: nlsq COMMAND [ARGUMENTS] [OPTIONS]\n\n");
    fprintf(out, "Fit nonlinear models to data, with exact derivatives and compiled kernels.\n\n");
    fprintf(out, "commands:\n");
    help_commands(out);
    const command *fit = command_find("fit");
    fprintf(out, "\nThe options of nlsq fit (nlsq help COMMAND shows each command's):\n");
    for (int g = 0; fit->groups[g]; g++) help_group(out, fit->groups[g]);
    fprintf(out, "\n%s", EXIT_STATUS);
}

/* ---- the manual page: roff for man(7) --------------------------------------- */

/* Text as roff: backslashes and hyphens escaped, '\n' (a help text's line
   break) as a space, and a '.' or '\'' that would start a line made
   literal. */
static void roff(FILE *out, const char *s)
{
    int line_start = 1;
    for (; *s; s++) {
        char ch = *s == '\n' ? ' ' : *s;
        if (line_start && (ch == '.' || ch == '\'')) fputs("\\&", out);
        if (ch == '\\')
            fputs("\\e", out);
        else if (ch == '-')
            fputs("\\-", out);
        else
            fputc(ch, out);
        line_start = 0;
    }
}

/* A command's description: a blank line between paragraphs. */
static void roff_paragraphs(FILE *out, const char *text)
{
    fputs(".PP\n", out);
    for (const char *s = text; *s; s++) {
        if (s[0] == '\n' && s[1] == '\n') {
            fputs("\n.PP\n", out);
            s++;
            continue;
        }
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if ((*s == '.' || *s == '\'') && (s == text || s[-1] == '\n'))
            fprintf(out, "\\&%c", *s);
        else
            fputc(*s, out);
    }
    fputc('\n', out);
}

static void man_synopsis(FILE *out, const command *c)
{
    fprintf(out, ".br\n.B nlsq %s\n", c->name);
    if (c->synopsis[0]) {
        roff(out, c->synopsis);
        fputc('\n', out);
    }
}

static void man_options(FILE *out, const command *cmd, const option_group **seen, int *nseen, const command **seen_in)
{
    fprintf(out, ".SS \"nlsq %s\"\n", cmd->name);
    if (!cmd->groups || !cmd->groups[0]) {
        fputs("No options.\n", out);
        return;
    }
    for (int g = 0; cmd->groups[g]; g++) {
        const option_group *grp = cmd->groups[g];
        int k = 0;
        while (k < *nseen && seen[k] != grp) k++;
        if (k < *nseen) {
            fputs(".PP\n.I ", out);
            roff(out, grp->title);
            fprintf(out, "\n(");
            for (const option *o = grp->options; o->name; o++) {
                fprintf(out, "%s\\fB", o == grp->options ? "" : ", ");
                roff(out, o->name);
                fputs("\\fR", out);
            }
            fprintf(out, "): as under \\fBnlsq %s\\fR.\n", seen_in[k]->name);
            continue;
        }
        seen[*nseen] = grp;
        seen_in[(*nseen)++] = cmd;
        fputs(".PP\n.I ", out);
        roff(out, grp->title);
        fputc('\n', out);
        for (const option *o = grp->options; o->name; o++) {
            fputs(".TP\n\\fB", out);
            roff(out, o->name);
            fputs("\\fR", out);
            if (o->arg) {
                fputs(" \\fI", out);
                roff(out, o->arg);
                fputs("\\fR", out);
            }
            fputc('\n', out);
            roff(out, o->help);
            fputc('\n', out);
        }
    }
}

static const char MAN_ENVIRONMENT[] =
    ".TP\n.B NLSQ_THREADS\nthreads for the passes when \\fB\\-\\-threads\\fR is not given (default: all online cores).\n"
    ".TP\n.B NLSQ_DEVICE\nwhere fits run when \\fB\\-\\-device\\fR is not given: auto, cpu, cuda, cuda:N or cuda:all.\n"
    ".TP\n.B NLSQ_BACKEND\nauto, interp or jit when \\fB\\-\\-backend\\fR is not given.\n"
    ".TP\n.B NLSQ_CC\nthe C compiler for compiled kernels (default: cc on the PATH).\n"
    ".TP\n.B NLSQ_JIT_DUMP\na directory to which each generated kernel source is written, for inspection.\n"
    ".TP\n.B NLSQ_VECTOR_MATH\noff (or 0): the interpreter uses scalar libm instead of glibc's vector math.\n"
    ".TP\n.B NLSQ_CUDA_DRIVER\nthe CUDA driver library to load instead of libcuda.so.1.\n"
    ".TP\n.B NLSQ_NVRTC\nthe NVRTC library to load instead of libnvrtc.so.13, .12 or libnvrtc.so.\n"
    ".TP\n.B NLSQ_BATCH_MAPPING\nthread or warp: how the GPU batch kernel maps fits to threads (default: by the "
    "points per fit).\n"
    ".TP\n.B NLSQ_CUDA_TUNE\nK=k,TPB=t: rows per lane and threads per block of the GPU pass kernel, for "
    "benchmarks.\n"
    ".TP\n.B NLSQ_COLUMN_CACHE_MAX\nthe most the column caches may take (bytes, or a number with K, M, G or T); "
    "past it the least recently used are evicted (default: a quarter of their bytes plus the free space).\n"
    ".TP\n.B XDG_CACHE_HOME\nthe cache directory is $XDG_CACHE_HOME/nlsq (default: $HOME/.cache/nlsq).\n"
    ".TP\n.B TMPDIR\nwhere kernels are built when there is no usable cache directory.\n";

static const char MAN_FILES[] =
    ".TP\n.I $XDG_CACHE_HOME/nlsq/*.so\ncompiled kernels, one per model and build, made private (0700); "
    "\\fBnlsq cache\\fR counts them and \\fBnlsq cache clear\\fR removes them.\n"
    ".TP\n.I $XDG_CACHE_HOME/nlsq/columns/\nthe column caches of large text tables (float64 .npy files), "
    "reused while the text file's size and modification time are unchanged, evicted least recently used first "
    "past $NLSQ_COLUMN_CACHE_MAX.\n";

static const char MAN_EXAMPLES[] =
    ".PP\nA fit with start values, bounds and a plot:\n.PP\n.RS\n.nf\n"
    "nlsq fit decay.csv \\-\\-model 'a*exp(\\-b*x) + c' \\-\\-p0 a=2,b=1,c=0 \\e\n"
    "    \\-\\-bounds b=0:inf \\-\\-plot fit.svg\n.fi\n.RE\n"
    ".PP\nA surface with two variables, columns by name, the result as JSON:\n.PP\n.RS\n.nf\n"
    "nlsq fit surf.csv \\-\\-vars x,y \\-\\-x u,v \\-\\-y w \\-\\-json \\e\n"
    "    \\-\\-model 'A*exp(\\-((x\\-x0)^2 + (y\\-y0)^2)/(2*s^2)) + B'\n.fi\n.RE\n"
    ".PP\nOne fit per column of a wide table, the results as JSON lines:\n.PP\n.RS\n.nf\n"
    "nlsq batch curves.csv \\-\\-model 'a*exp(\\-b*x) + c' \\-\\-out fits.jsonl\n.fi\n.RE\n"
    ".PP\nThe derivatives nlsq computes, and the model at the data's points:\n.PP\n.RS\n.nf\n"
    "nlsq diff 'a*exp(\\-b*x) + c'\n"
    "nlsq eval decay.csv \\-\\-model 'a*exp(\\-b*x) + c' \\-\\-p0 a=2,b=1,c=0 \\-\\-jacobian\n.fi\n.RE\n";

void help_man(FILE *out)
{
    fprintf(out, ".TH NLSQ 1 \"\" \"nlsq %s\" \"User Commands\"\n", nlsq_version());
    fputs(".SH NAME\nnlsq \\- fit nonlinear models to data: curve fitting with exact derivatives and compiled "
          "kernels\n",
          out);
    fputs(".SH SYNOPSIS\n", out);
    for (const command *c = commands; c->name; c++) man_synopsis(out, c);
    fputs(".br\n.B nlsq \\-\\-version\n", out);
    fputs(".SH DESCRIPTION\n"
          "\\fBnlsq\\fR fits a model, written as math (\\fIa*exp(\\-b*x) + c\\fR), to the columns of a data file "
          "by nonlinear least squares, as SciPy's curve_fit does: trust-region reflective (bounds), "
          "Levenberg-Marquardt or dogbox, robust losses, weights, fixed parameters. The Jacobian is derived "
          "exactly by automatic differentiation, model and Jacobian are compiled into one native kernel "
          "(cached on disk), and a fit runs on all CPU cores or on an NVIDIA GPU, for data of any size: "
          "a fit never holds more than a few windows of rows.\n",
          out);
    fputs(".SH COMMANDS\n", out);
    for (const command *c = commands; c->name; c++) {
        fprintf(out, ".SS \"nlsq %s\"\n", c->name);
        roff(out, c->summary);
        fputs(".\n", out);
        roff_paragraphs(out, c->description);
    }
    fputs(".SH OPTIONS\n", out);
    const option_group *seen[64];
    const command *seen_in[64];
    int nseen = 0;
    for (const command *c = commands; c->name; c++) man_options(out, c, seen, &nseen, seen_in);
    fputs(".SH EXIT STATUS\n.TP\n.B 0\nthe fit converged (batch: every fit did); the other commands: success.\n"
          ".TP\n.B 1\nthe fit ran but did not converge (batch: some fit did not); its outputs are still "
          "written.\n.TP\n.B 2\nbad usage or input, or an output that could not be written (a file, or the "
          "standard output on a full disk): one message on standard error naming it. Every output is checked "
          "before the fit; one that fails after it does not take the report with it.\n"
          ".TP\n.B 3\nan error in the model text, with its line and column.\n"
          ".TP\n.B 4\nfit and batch: the fit converged (batch: every fit did) but its diagnostics say the result "
          "cannot be trusted (a parameter without influence or that never moved from its start, a rank-deficient "
          "Jacobian, R^2 <= 0); the report says why and what to try. \\fB\\-\\-accept\\-untrusted\\fR exits 0 "
          "instead.\n",
          out);
    fprintf(out, ".SH ENVIRONMENT\n%s", MAN_ENVIRONMENT);
    fprintf(out, ".SH FILES\n%s", MAN_FILES);
    fprintf(out, ".SH EXAMPLES\n%s", MAN_EXAMPLES);
    fputs(".SH SEE ALSO\nThe model language, the JSON keys and the C API: docs/ in the source tree, and "
          "the header nlsq.h.\n",
          out);
}
