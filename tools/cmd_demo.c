/* nlsq demo: the bundled example, as `nlsq fit decay.csv --model ... --plot`. */
#include <stddef.h>
#include <stdio.h>

#include "cli.h"
#include "demo_data.h"

const option_group *const demo_groups[] = {&group_plot, NULL};

int cmd_demo(int argc, char **argv)
{
    cli c;
    cli_init(&c);
    c.plot = "nlsq-demo.svg";
    int npos, rc = options_parse(command_find("demo"), argc, argv, &c, NULL, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    c.model = "a*exp(-b*x) + c";
    c.p0 = "a=2,b=1,c=0";
    c.data = "examples/data/decay.csv (bundled)";
    c.text = DEMO_CSV;
    c.text_len = sizeof DEMO_CSV - 1;
    printf("nlsq demo: fitting %s to %s\n\n", c.model, c.data);
    rc = fit_run(&c);
    if (rc <= 1) printf("\nplot written to %s\n", c.plot);
    return rc;
}
