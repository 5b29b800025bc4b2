/*
 * The library quantities of a model's components: what people publish
 * about a peak or a decay (FWHM, height, area, half-life), each a formula
 * in the model language over the shape's parameters. The table follows
 * src/model/library.c's shapes and parameter names; a formula names a
 * parameter as {name}, replaced by the model's name for that component's
 * parameter. Formulas and their sources are in docs/uncertainty.md.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

typedef struct shape_quantity {
    const char *shape, *name, *formula, *summary;
} shape_quantity;

#define GAUSS_FWHM "2*sqrt(2*log(2))*{sigma}"

static const shape_quantity QUANTITIES[] = {
    {"linear", "x_intercept", "-{intercept}/{slope}", "where the line crosses zero"},
    {"exponential", "half_life", "{decay}*log(2)", "time to half the amplitude"},
    {"exponential", "rate", "1/{decay}", "decay rate"},
    {"stretched_exponential", "half_life", "{tau}*log(2)^(1/{beta})", "time to half the amplitude"},
    {"stretched_exponential", "mean_lifetime", "{tau}/{beta}*tgamma(1/{beta})", "mean relaxation time"},
    {"gaussian", "fwhm", GAUSS_FWHM, "full width at half maximum"},
    {"gaussian", "height", "{amplitude}/({sigma}*sqrt(2*pi))", "peak height"},
    {"gaussian", "area", "{amplitude}", "area under the peak"},
    {"lorentzian", "fwhm", "2*{sigma}", "full width at half maximum"},
    {"lorentzian", "height", "{amplitude}/(pi*{sigma})", "peak height"},
    {"lorentzian", "area", "{amplitude}", "area under the peak"},
    {"voigt", "fwhm", "1.0692*{gamma} + sqrt(0.8664*{gamma}^2 + 8*log(2)*{sigma}^2)",
     "full width at half maximum (Olivero and Longbothum 1977, within 0.02%)"},
    {"voigt", "height", "{amplitude}*faddeeva_re(0, {gamma}/({sigma}*sqrt(2)))/({sigma}*sqrt(2*pi))",
     "peak height (exact)"},
    {"voigt", "area", "{amplitude}", "area under the peak"},
    {"pseudo_voigt", "fwhm", "2*{sigma}", "full width at half maximum"},
    {"pseudo_voigt", "height",
     "(1 - {fraction})*{amplitude}/({sigma}*sqrt(pi/log(2))) + {fraction}*{amplitude}/(pi*{sigma})", "peak height"},
    {"pseudo_voigt", "area", "{amplitude}", "area under the peak"},
    {"pearson7", "fwhm", "2*{sigma}*sqrt(2^(1/{expon}) - 1)", "full width at half maximum"},
    {"pearson7", "height", "{amplitude}/({sigma}*exp(lgamma({expon} - 0.5) + lgamma(0.5) - lgamma({expon})))",
     "peak height"},
    {"pearson7", "area", "{amplitude}", "area under the peak"},
    {"skewed_gaussian", "area", "{amplitude}", "area under the peak"},
    {"exp_gaussian", "area", "{amplitude}", "area under the peak"},
    {"lognormal", "fwhm",
     "exp({center} - {sigma}^2 + {sigma}*sqrt(2*log(2))) - exp({center} - {sigma}^2 - {sigma}*sqrt(2*log(2)))",
     "full width at half maximum"},
    {"lognormal", "height", "{amplitude}/({sigma}*sqrt(2*pi))*exp({sigma}^2/2 - {center})", "peak height"},
    {"lognormal", "mode", "exp({center} - {sigma}^2)", "position of the maximum"},
    {"lognormal", "area", "{amplitude}", "area under the peak"},
    {"moffat", "fwhm", "2*{sigma}*sqrt(2^(1/{beta}) - 1)", "full width at half maximum"},
    {"moffat", "height", "{amplitude}", "peak height"},
    {"damped_sine", "period", "1/{frequency}", "period of the oscillation"},
    {"damped_sine", "half_life", "{decay}*log(2)", "time to half the amplitude"},
    {"logistic4", "span", "{top} - {bottom}", "top minus bottom"},
    {"logistic5", "span", "{top} - {bottom}", "top minus bottom"},
    {"gaussian2d", "fwhmx", "2*sqrt(2*log(2))*{sigmax}", "full width at half maximum along x'"},
    {"gaussian2d", "fwhmy", "2*sqrt(2*log(2))*{sigmay}", "full width at half maximum along y'"},
    {"gaussian2d", "volume", "2*pi*{amplitude}*{sigmax}*{sigmay}", "volume under the peak"},
};

#define NQUANTITIES ((int)(sizeof QUANTITIES / sizeof QUANTITIES[0]))

/* The index in the model of the component's parameter `name` (a shape
   parameter name), or -1 (not a plain parameter, or no such name). */
static int component_param(const nlsq_component *c, const char *name, size_t len)
{
    const nlsq_shape *s = nlsq_shape_find(c->shape);
    for (int k = 0; s && k < s->num_params && k < c->num_params; k++)
        if (strlen(s->param_names[k]) == len && memcmp(s->param_names[k], name, len) == 0) return c->params[k];
    return -1;
}

/* The formula with each {p} replaced by the model's parameter name; 0, or
   -1 when a parameter is not a plain one (or the text does not fit). */
static int expand(const nlsq_model *m, const nlsq_component *c, const char *formula, char *out, size_t size)
{
    size_t at = 0;
    for (const char *s = formula; *s; s++) {
        const char *piece = s;
        size_t len = 1;
        if (*s == '{') {
            const char *end = strchr(s, '}');
            int j = end ? component_param(c, s + 1, (size_t)(end - s - 1)) : -1;
            if (j < 0) return -1;
            piece = nlsq_model_param_name(m, j);
            len = strlen(piece);
            s = end;
        }
        if (at + len + 1 > size) return -1;
        memcpy(out + at, piece, len);
        at += len;
    }
    out[at] = '\0';
    return 0;
}

static int is_param(const nlsq_model *m, const char *name)
{
    for (int j = 0; j < nlsq_model_num_params(m); j++)
        if (strcmp(nlsq_model_param_name(m, j), name) == 0) return 1;
    return 0;
}

/* Walk the model's quantities in order (components in text order, each
   shape's rows in the table's order); fill *out with quantity `want` when
   reached. Returns how many there are. */
static int walk(const nlsq_model *m, int want, nlsq_quantity *out)
{
    int count = 0, ncomp = nlsq_model_num_components(m);
    for (int i = 0; i < ncomp; i++) {
        nlsq_component c;
        if (nlsq_model_component(m, i, &c, NULL) != NLSQ_OK) continue;
        char prefix[80];
        if (c.prefix[0]) {
            snprintf(prefix, sizeof prefix, "%s", c.prefix);
        } else {
            /* a call that gave its parameters: numbered after the calls of
               its shape that made theirs (those own gaussian1_, ...), in
               the text's order, so no two names collide */
            int occurrence = 1;
            for (int e = 0; e < ncomp; e++) {
                nlsq_component other;
                if (nlsq_model_component(m, e, &other, NULL) != NLSQ_OK || strcmp(other.shape, c.shape) != 0) continue;
                occurrence += other.prefix[0] != '\0' || e < i;
            }
            size_t len = strlen(c.shape);
            int digit = len && c.shape[len - 1] >= '0' && c.shape[len - 1] <= '9';
            snprintf(prefix, sizeof prefix, "%s%s%d_", c.shape, digit ? "_" : "", occurrence);
        }
        for (int q = 0; q < NQUANTITIES; q++) {
            if (strcmp(QUANTITIES[q].shape, c.shape) != 0) continue;
            nlsq_quantity item;
            snprintf(item.name, sizeof item.name, "%s%s", prefix, QUANTITIES[q].name);
            if (is_param(m, item.name) || expand(m, &c, QUANTITIES[q].formula, item.definition, sizeof item.definition))
                continue;
            item.summary = QUANTITIES[q].summary;
            if (count == want && out) *out = item;
            count++;
        }
    }
    return count;
}

int nlsq_model_num_quantities(const nlsq_model *model)
{
    return model ? walk(model, -1, NULL) : 0;
}

nlsq_status nlsq_model_quantity(const nlsq_model *model, int index, nlsq_quantity *out, nlsq_error *err)
{
    error_clear(err);
    if (!model || !out || index < 0 || index >= walk(model, index, out)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_model_quantity: %s",
                  !model || !out ? "model and out must not be NULL" : "index out of range");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return NLSQ_OK;
}
