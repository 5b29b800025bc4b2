/*
 * Space-filling designs in [0,1)^d for the global search's starts: Sobol'
 * (digital-shift scrambled), Halton (rotated) and Latin hypercubes. All
 * are deterministic functions of (kind, dims, points, seed).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "design.h"
#include "nlsq.h"

/* ---- a small counter-based generator (splitmix64) ------------------------ */

uint64_t design_mix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0,1): the top 53 bits. */
double design_uniform(uint64_t *state)
{
    return (double)(design_mix(state) >> 11) * 0x1.0p-53;
}

/* Standard normal by Marsaglia's polar method (only sqrt and log, whose
   results are the same everywhere); the second value is not kept, so the
   state alone is the generator's. */
double design_normal(uint64_t *state)
{
    double u, v, s;
    do {
        u = 2 * design_uniform(state) - 1;
        v = 2 * design_uniform(state) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    return u * sqrt(-2 * log(s) / s);
}

/* ---- Sobol' ------------------------------------------------------------- */

/* Joe and Kuo's primitive polynomials and initial direction numbers for
   dimensions 2 .. 21 (dimension 1 is the van der Corput sequence): the
   degree s, the polynomial's inner coefficients a (bit k-1 of a is the
   coefficient of x^(s-k)), and m_1 .. m_s. */
static const struct {
    int s, a, m[7];
} sobol_init[NLSQ_SOBOL_MAX_DIMS - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
};

#define SOBOL_BITS 32

/* The 32 direction numbers of dimension d (0-based). */
static void sobol_directions(int d, uint32_t *V)
{
    if (d == 0) {
        for (int j = 0; j < SOBOL_BITS; j++) V[j] = 1u << (SOBOL_BITS - 1 - j);
        return;
    }
    int s = sobol_init[d - 1].s, a = sobol_init[d - 1].a;
    for (int j = 0; j < s; j++) V[j] = (uint32_t)sobol_init[d - 1].m[j] << (SOBOL_BITS - 1 - j);
    for (int j = s; j < SOBOL_BITS; j++) {
        uint32_t v = V[j - s] ^ (V[j - s] >> s);
        for (int k = 1; k < s; k++)
            if ((a >> (s - 1 - k)) & 1) v ^= V[j - k];
        V[j] = v;
    }
}

static void fill_sobol(int d, size_t npts, uint64_t seed, double *out)
{
    uint32_t V[SOBOL_BITS];
    uint64_t state = seed;
    for (int k = 0; k < d; k++) {
        sobol_directions(k, V);
        uint32_t shift = seed ? (uint32_t)(design_mix(&state) >> 32) : 0;
        uint32_t x = 0;
        /* Gray-code order: point i+1 differs from point i by the direction
           of the lowest zero bit of i, so each point costs one XOR */
        for (size_t i = 0; i < npts; i++) {
            if (i > 0) {
                size_t c = 0, t = i - 1;
                while (t & 1) {
                    t >>= 1;
                    c++;
                }
                x ^= V[c < SOBOL_BITS ? c : SOBOL_BITS - 1];
            }
            out[i * (size_t)d + (size_t)k] = (double)(x ^ shift) * 0x1.0p-32;
        }
    }
}

/* ---- Halton ------------------------------------------------------------- */

static int nth_prime(int k)
{
    int found = 0;
    for (int c = 2;; c++) {
        int prime = 1;
        for (int q = 2; q * q <= c; q++)
            if (c % q == 0) {
                prime = 0;
                break;
            }
        if (prime && found++ == k) return c;
    }
}

static double radical_inverse(size_t i, int base)
{
    double inv = 1.0 / base, f = inv, r = 0;
    while (i > 0) {
        r += f * (double)(i % (size_t)base);
        i /= (size_t)base;
        f *= inv;
    }
    return r;
}

static void fill_halton(int d, size_t npts, uint64_t seed, double *out)
{
    uint64_t state = seed;
    for (int k = 0; k < d; k++) {
        int b = nth_prime(k);
        double shift = seed ? design_uniform(&state) : 0;
        for (size_t i = 0; i < npts; i++) {
            double v = radical_inverse(i + 1, b) + shift;
            out[i * (size_t)d + (size_t)k] = v >= 1 ? v - 1 : v;
        }
    }
}

/* ---- Latin hypercube ------------------------------------------------------ */

static int fill_lhs(int d, size_t npts, uint64_t seed, double *out)
{
    size_t *perm = malloc((npts ? npts : 1) * sizeof *perm);
    if (!perm) return -1;
    uint64_t state = seed ^ 0x6C8E9CF570932BD5ull;
    for (int k = 0; k < d; k++) {
        for (size_t i = 0; i < npts; i++) perm[i] = i;
        for (size_t i = npts; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(design_mix(&state) % i);
            size_t t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < npts; i++) {
            double v = ((double)perm[i] + design_uniform(&state)) / (double)npts;
            out[i * (size_t)d + (size_t)k] = v < 1 ? v : nextafter(1.0, 0.0);
        }
    }
    free(perm);
    return 0;
}

const char *nlsq_design_name(nlsq_design kind)
{
    switch (kind) {
    case NLSQ_DESIGN_SOBOL: return "sobol";
    case NLSQ_DESIGN_HALTON: return "halton";
    case NLSQ_DESIGN_LHS: return "lhs";
    }
    return "unknown";
}

nlsq_status nlsq_design_fill(nlsq_design kind, int n_dims, size_t n_points, uint64_t seed, double *out, nlsq_error *err)
{
    error_clear(err);
    int limit = kind == NLSQ_DESIGN_SOBOL  ? NLSQ_SOBOL_MAX_DIMS
              : kind == NLSQ_DESIGN_HALTON ? NLSQ_HALTON_MAX_DIMS
                                           : 1 << 20;
    if ((int)kind < 0 || kind > NLSQ_DESIGN_LHS) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_design_fill: unknown design %d", (int)kind);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (!out && n_points > 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_design_fill: out is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (n_dims < 1 || n_dims > limit) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "nlsq_design_fill: %s takes 1 to %d dimensions, asked for %d (use lhs for more)",
                  nlsq_design_name(kind), limit, n_dims);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (kind == NLSQ_DESIGN_SOBOL) fill_sobol(n_dims, n_points, seed, out);
    if (kind == NLSQ_DESIGN_HALTON) fill_halton(n_dims, n_points, seed, out);
    if (kind == NLSQ_DESIGN_LHS && fill_lhs(n_dims, n_points, seed, out) != 0) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_design_fill: out of memory");
        return NLSQ_ERR_NOMEM;
    }
    return NLSQ_OK;
}
