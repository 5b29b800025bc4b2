/*
 * Decimal text to double without strtod for the fields of data files:
 * strtod's generality (locales, any length of digits, hexadecimal) was
 * most of the time of reading a large CSV. A plain decimal of up to 19
 * digits w and exponent q is w 10^q:
 *   - w <= 2^53 and |q| <= 22: one IEEE multiplication or division of two
 *     exact doubles, correctly rounded (Clinger, 1990);
 *   - else w 5^q 2^q with 5^q as a 128-bit truncation (decimal_table.h):
 *     the product's top 54 bits give the rounded significand unless the
 *     bits below are too near a tie for the truncation's error (under 2
 *     units of the product's 128th bit) to decide, and then strtod does
 *     (Lemire, "Number parsing at a gigabyte per second", 2021; written
 *     from the paper's argument).
 */
#include "io/decimal.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

#include "io/decimal_table.h"

typedef unsigned __int128 u128;

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#define DECIMAL_NO_CLINGER 1 /* extended evaluation would round twice */
#endif

enum { MAX_DIGITS = 19 };

/* w 10^q by the 128-bit power of five; 1, or 0 when it cannot decide */
static int scaled(uint64_t w, int q, int neg, double *v)
{
    if (q < DECIMAL_Q_MIN || q > DECIMAL_Q_MAX) return 0;
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *t = decimal_pow5[q - DECIMAL_Q_MIN];
    u128 top = (u128)w * t[0] + (((u128)w * t[1]) >> 64);
    uint64_t hi = (uint64_t)(top >> 64), lo = (uint64_t)top;
    int upper = (int)(hi >> 63), shift = 9 + upper;
    uint64_t below = hi & (((uint64_t)1 << shift) - 1), m54 = hi >> shift;
    /* the true product is in [top, top + 2): a tie, or a carry into one,
       cannot be told apart here */
    if ((m54 & 1) && below == 0 && lo == 0) return 0;
    if (!(m54 & 1) && below == ((uint64_t)1 << shift) - 1 && lo >= UINT64_MAX - 1) return 0;
    uint64_t m = (m54 >> 1) + (m54 & 1);
    int e2 = shift + 2 + decimal_log2_pow5[q - DECIMAL_Q_MIN] + q - lz;
    if (m == (uint64_t)1 << 53) {
        m >>= 1;
        e2++;
    }
    int biased = e2 + 52 + 1023;
    if (biased < 1 || biased > 2046) return 0; /* subnormal or overflow: strtod's */
    uint64_t bits = (uint64_t)neg << 63 | (uint64_t)biased << 52 | (m & (((uint64_t)1 << 52) - 1));
    memcpy(v, &bits, sizeof *v);
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int decimal_parse(const char *s, double *v)
{
    const char *p = s;
    int neg = *p == '-', any = 0, digits = 0, q = 0;
    if (*p == '-' || *p == '+') p++;
    uint64_t w = 0;
    for (; *p == '0'; p++) any = 1;
    for (; is_digit(*p); p++, any = 1) {
        if (digits++ == MAX_DIGITS) return 0;
        w = w * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (w == 0)
            for (; *p == '0'; p++, q--) any = 1;
        for (; is_digit(*p); p++, q--, any = 1) {
            if (digits++ == MAX_DIGITS) return 0;
            w = w * 10 + (uint64_t)(*p - '0');
        }
    }
    if (!any) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        int eneg = *p == '-', e = 0;
        if (*p == '-' || *p == '+') p++;
        if (!is_digit(*p)) return 0;
        for (; is_digit(*p); p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        q += eneg ? -e : e;
    }
    if (*p) return 0;
    if (w == 0) {
        *v = neg ? -0.0 : 0.0;
        return 1;
    }
#ifndef DECIMAL_NO_CLINGER
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (w <= (uint64_t)1 << 53 && q >= -22 && q <= 22) {
        double d = (double)w;
        d = q < 0 ? d / pow10[-q] : d * pow10[q];
        *v = neg ? -d : d;
        return 1;
    }
#endif
    return scaled(w, q, neg, v);
}
