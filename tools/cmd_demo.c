/* nlsq demo: the bundled example, as `nlsq fit decay.csv --model ... --plot`. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "demo_data.h"
#include "present.h"

const option_group *const demo_groups[] = {&group_plot, NULL};

static const char DEFAULT_PLOT[] = "nlsq-demo.svg";

/* The default plot goes to the current directory; where that takes no
   file (a read-only directory), to the temporary directory, so that the
   demo still shows its fit and its picture. A --plot the user gave is
   checked as fit checks it, before the fit. */
static const char *default_plot(char *buf, size_t size)
{
    nlsq_error err;
    if (nlsq_output_check(DEFAULT_PLOT, NULL, 0, &err) == NLSQ_OK) return DEFAULT_PLOT;
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, size, "%s/%s", tmp && *tmp ? tmp : "/tmp", DEFAULT_PLOT);
    nlsq_error err2;
    if (nlsq_output_check(buf, NULL, 0, &err2) != NLSQ_OK) {
        fprintf(stderr, "nlsq: note: no plot: %s; and %s\n", err.message, err2.message);
        return NULL;
    }
    fprintf(stderr, "nlsq: note: %s; the plot goes to %s\n", err.message, buf);
    return buf;
}

int cmd_demo(const cli_env *env, int argc, char **argv)
{
    cli c;
    cli_init(&c, env); /* (nlsq-mpi demo: a group fit, rank 0 writes the plot) */
    int npos, rc = options_parse(command_find("demo"), argc, argv, &c, NULL, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    char fallback[4096];
    const output_file plot = {"--plot", c.plot};
    if (!c.plot)
        c.plot = default_plot(fallback, sizeof fallback);
    else if ((rc = outputs_check(&plot, 1, NULL, 0)))
        return rc; /* before the heading: nothing done, nothing said */
    c.model = "a*exp(-b*x) + c";
    c.p0 = "a=2,b=1,c=0";
    c.data = "examples/data/decay.csv (bundled)";
    c.text = DEMO_CSV;
    c.text_len = sizeof DEMO_CSV - 1;
    printf("nlsq demo: fitting %s to %s\n\n", c.model, c.data);
    rc = fit_run(&c);
    if (rc <= 1 && c.plot) printf("\nplot written to %s\n", c.plot);
    return rc;
}
