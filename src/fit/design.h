/* The designs' generator, shared with the global search (global.c). */
#ifndef NLSQ_FIT_DESIGN_H
#define NLSQ_FIT_DESIGN_H

#include <stdint.h>

/* splitmix64: the next 64 random bits from *state (advanced). */
uint64_t design_mix(uint64_t *state);
/* Uniform in [0,1) from the next 64 bits. */
double design_uniform(uint64_t *state);
/* Standard normal from the next draws (Marsaglia's polar method). */
double design_normal(uint64_t *state);

#endif
