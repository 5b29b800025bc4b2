/* Structural equality of two scheduled programs, for the tests that check
   the builder against the parser. Compares fields, never struct bytes
   (padding is not initialised). */
#ifndef NLSQ_TESTS_PROGRAM_EQUAL_H
#define NLSQ_TESTS_PROGRAM_EQUAL_H

#include <string.h>

#include "model/model.h"

static inline int instr_equal(const instr *a, const instr *b)
{
    return a->op == b->op && a->dst == b->dst && a->k == b->k && a->src[0] == b->src[0] && a->src[1] == b->src[1] &&
           a->src[2] == b->src[2];
}

static inline int programs_equal(const program *a, const program *b)
{
    if (a->nvars != b->nvars || a->nparams != b->nparams || a->nuniform != b->nuniform || a->nconst != b->nconst ||
        a->nuinstr != b->nuinstr || a->nbcast != b->nbcast || a->npinstr != b->npinstr || a->nslots != b->nslots)
        return 0;
    /* constants by bit pattern: -0 and +0, NaN payloads */
    if (a->nconst && memcmp(a->uconst, b->uconst, (size_t)a->nconst * sizeof(double)) != 0) return 0;
    for (int i = 0; i < a->nbcast; i++)
        if (a->bcast[i] != b->bcast[i]) return 0;
    for (int i = 0; i <= a->nparams; i++)
        if (a->out[i] != b->out[i]) return 0;
    for (int i = 0; i < a->nuinstr; i++)
        if (!instr_equal(&a->uinstr[i], &b->uinstr[i])) return 0;
    for (int i = 0; i < a->npinstr; i++)
        if (!instr_equal(&a->pinstr[i], &b->pinstr[i])) return 0;
    return 1;
}

#endif
