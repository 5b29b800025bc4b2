/*
 * Shortest round-trip formatting of doubles: the Schubfach method
 * (R. Giulietti, "The Schubfach way to render doubles", 2020), written
 * from the paper. A double v = c 2^q has the rounding interval R of the
 * reals that read back as v (its neighbours' midpoints, closed when c is
 * even). With 10^k the largest power of ten not above R's width, R holds
 * at most one multiple of 10^(k+1) and at least one of 10^k, so the
 * shortest decimal in R is the multiple of 10^(k+1) when there is one,
 * else the multiple of 10^k in R nearest to v. The scaled bounds
 * 4 v 10^-k come from one 126-bit power of ten (dtoa_table.h) with a
 * sticky bit that keeps every comparison exact.
 *
 * printf's "%.17g" gives 17 digits, exact but often longer than needed,
 * and trying "%.15g", "%.16g" with strtod to check is what costs; this
 * is a few multiplications per number.
 */
#include "dtoa.h"

#include <stdint.h>
#include <string.h>

#include "dtoa_table.h"

typedef unsigned __int128 u128;

_Static_assert((-1 >> 1) == -1, "the floor logarithms below need an arithmetic right shift");

enum { P = 53, Q_MIN = -1074 };
static const uint64_t C_MIN = (uint64_t)1 << (P - 1), MASK63 = ((uint64_t)1 << 63) - 1;

/* floor(q log10 2), floor(log10(3/4 2^q)) and floor(e log2 10) for the
   exponents of doubles (checked exactly over |q| <= 1100, |e| <= 400) */
static int flog10pow2(int q)
{
    return (int)(((int64_t)q * 661971961083) >> 41);
}
static int flog10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083 - 274743187321) >> 41);
}
static int flog2pow10(int e)
{
    return (int)(((int64_t)e * 913124641741) >> 38);
}

/* floor(g cp / 2^127), its lowest bit set when the quotient is not whole
   (g = g1 2^63 + g0) */
static uint64_t round_to_odd(uint64_t g1, uint64_t g0, uint64_t cp)
{
    uint64_t x1 = (uint64_t)(((u128)g0 * cp) >> 64);
    u128 y = (u128)g1 * cp;
    uint64_t z = ((uint64_t)y >> 1) + x1;
    uint64_t vbp = (uint64_t)(y >> 64) + (z >> 63);
    return vbp | (((z & MASK63) + MASK63) >> 63);
}

/* v = c 2^q as f 10^e with the fewest digits (f may end in zeros). */
static void to_decimal(uint64_t c, int q, uint64_t *f, int *e)
{
    uint64_t out = c & 1, cb = c << 2, cbr = cb + 2, cbl;
    int k;
    if (c != C_MIN || q == Q_MIN) {
        cbl = cb - 2;
        k = flog10pow2(q);
    } else { /* the gap below a power of two is half the gap above */
        cbl = cb - 1;
        k = flog10_three_quarters_pow2(q);
    }
    int h = q + flog2pow10(-k) + 2;
    const uint64_t *g = dtoa_g[-k - DTOA_E_MIN];
    uint64_t vb = round_to_odd(g[0], g[1], cb << h);
    uint64_t vbl = round_to_odd(g[0], g[1], cbl << h);
    uint64_t vbr = round_to_odd(g[0], g[1], cbr << h);
    uint64_t s = vb >> 2;
    /* one multiple of ten in R: it is the shortest */
    uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
    int upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
    if (upin != wpin) {
        *f = upin ? sp10 : tp10;
        *e = k;
        return;
    }
    /* else s or s + 1, whichever is in R, or the nearer (ties to even) */
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2, win = (t << 2) + out <= vbr;
    *e = k;
    if (uin != win) {
        *f = uin ? s : t;
        return;
    }
    int64_t cmp = (int64_t)(vb - ((s + t) << 1));
    *f = cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t;
}

static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* x < 10^8 as 8 digits, leading zeros kept: its four pairs come from
   independent divisions (a chain of divisions was most of the cost) */
static void eight_digits(uint32_t x, char *p)
{
    uint32_t a = x / 10000, b = x % 10000;
    memcpy(p, digit_pairs + 2 * (a / 100), 2);
    memcpy(p + 2, digit_pairs + 2 * (a % 100), 2);
    memcpy(p + 4, digit_pairs + 2 * (b / 100), 2);
    memcpy(p + 6, digit_pairs + 2 * (b % 100), 2);
}

/* the digits of f > 0 into d, without leading or trailing zeros; their
   count, and the trailing zeros dropped added to *e */
static int digits_of(uint64_t f, char *d, int *e)
{
    char tmp[24];
    uint64_t hi = f / 100000000;
    eight_digits((uint32_t)(hi / 100000000), tmp);
    eight_digits((uint32_t)(hi % 100000000), tmp + 8);
    eight_digits((uint32_t)(f % 100000000), tmp + 16);
    int first = 0, end = 24;
    while (tmp[first] == '0') first++;
    while (tmp[end - 1] == '0') end--;
    *e += 24 - end;
    memcpy(d, tmp + first, (size_t)(end - first));
    return end - first;
}

/* digits d[0..n) times 10^x10 where x10 is the exponent of d[0], as
   "%.17g" lays them out */
static int layout(const char *d, int n, int x10, char *p)
{
    char *start = p;
    if (x10 < -4 || x10 >= 17) {
        *p++ = d[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)n - 1);
            p += n - 1;
        }
        *p++ = 'e';
        *p++ = x10 < 0 ? '-' : '+';
        unsigned a = (unsigned)(x10 < 0 ? -x10 : x10);
        if (a >= 100) *p++ = (char)('0' + a / 100);
        *p++ = (char)('0' + a / 10 % 10);
        *p++ = (char)('0' + a % 10);
    } else if (x10 < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -x10 - 1; i++) *p++ = '0';
        memcpy(p, d, (size_t)n);
        p += n;
    } else if (n <= x10 + 1) {
        memcpy(p, d, (size_t)n);
        p += n;
        for (int i = n; i <= x10; i++) *p++ = '0';
    } else {
        memcpy(p, d, (size_t)x10 + 1);
        p += x10 + 1;
        *p++ = '.';
        memcpy(p, d + x10 + 1, (size_t)(n - x10 - 1));
        p += n - x10 - 1;
    }
    *p = '\0';
    return (int)(p - start);
}

int dtoa_shortest(double v, char *buf)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    char *p = buf;
    if (bits >> 63) *p++ = '-';
    uint64_t t = bits & (C_MIN - 1);
    int bq = (int)(bits >> (P - 1) & 0x7ff);
    if (bq == 0x7ff) {
        memcpy(p, t ? "nan" : "inf", 4);
        return (int)(p - buf) + 3;
    }
    if (bq == 0 && t == 0) {
        memcpy(p, "0", 2);
        return (int)(p - buf) + 1;
    }
    uint64_t c = bq ? C_MIN | t : t, f;
    int q = bq ? bq - 1075 : Q_MIN, e;
    to_decimal(c, q, &f, &e);
    char d[24];
    int n = digits_of(f, d, &e);
    return (int)(p - buf) + layout(d, n, e + n - 1, p);
}
