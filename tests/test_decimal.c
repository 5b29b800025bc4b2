/*
 * The text reader's fast decimal fields (src/io/decimal.c) against strtod,
 * bit for bit: every double written with 17 and with fewer digits, random
 * digit strings over the whole exponent range, midpoints between
 * neighbouring doubles (the ties and near-ties the fast path must hand
 * over), and the edges (zeros, the largest and smallest normals, 2^53+1,
 * 19 and 20 digits); what it does not take (hexadecimal, inf, text) is
 * left to strtod untouched.
 */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "io/decimal.h"

static long shown;

/* When decimal_parse takes s it must give strtod's bits for all of s. */
static int agrees(const char *s)
{
    double got = 0, want;
    if (!decimal_parse(s, &got)) return 0;
    char *end;
    want = strtod(s, &end);
    int ok = *end == '\0' && memcmp(&got, &want, sizeof got) == 0;
    if (!ok && shown++ < 10) CHECK_MSG(0, "'%s': %a, strtod %a", s, got, want);
    if (!ok && shown > 10) check_failures++;
    return 1;
}

static uint64_t next_bits(rng *r)
{
    rng_uniform(r);
    return r->s * 2685821657736338717ull;
}

static void test_edges(void)
{
    static const char *taken[] = {"0",
                                  "-0",
                                  "+0",
                                  "0.0",
                                  "-0.0e5",
                                  "5.",
                                  "+.5",
                                  "-.5e-3",
                                  "1e308",
                                  "1.7976931348623157e308",
                                  "2.2250738585072014e-308",
                                  "9007199254740992",
                                  "1234567890123456789",
                                  "1E5",
                                  "1e+05",
                                  "00000000000000000000001",
                                  "0e999999"};
    static const char *left[] = {"",
                                 "1e",
                                 ".",
                                 "-",
                                 ".e1",
                                 "inf",
                                 "nan",
                                 "NA",
                                 "0x10",
                                 "1 ",
                                 "4.9e-324",
                                 "2.2250738585072011e-308",
                                 "1.7976931348623159e308",
                                 "9007199254740993",
                                 "12345678901234567890",
                                 "1.00000000000000000000",
                                 "1e-400",
                                 "1,5"};
    shown = 0;
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) CHECK_MSG(agrees(taken[i]), "'%s' not taken", taken[i]);
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        double v = 42;
        CHECK_MSG(!decimal_parse(left[i], &v) && v == 42, "'%s' taken (%a)", left[i], v);
    }
}

static void test_printed_doubles(void)
{
    rng r = {0x5eed};
    long taken = 0, count = test_full() ? 20000000 : 2000000;
    shown = 0;
    for (long i = 0; i < count; i++) {
        uint64_t b = next_bits(&r);
        double v;
        memcpy(&v, &b, sizeof v);
        if (!isfinite(v)) continue;
        char s[40];
        snprintf(s, sizeof s, "%.*g", i % 2 ? 17 : 1 + (int)(b % 17), v);
        taken += agrees(s);
    }
    CHECK_MSG(taken > count / 2, "only %ld of %ld taken", taken, count);
}

static void test_random_digit_strings(void)
{
    rng r = {77};
    shown = 0;
    for (long i = 0; i < 1000000; i++) {
        char s[64];
        int n = 0, digits = 1 + (int)(next_bits(&r) % 19);
        if (next_bits(&r) & 1) s[n++] = '-';
        for (int k = 0; k < digits; k++) s[n++] = (char)('0' + next_bits(&r) % 10);
        if (next_bits(&r) & 1) {
            int at = 1 + (int)(next_bits(&r) % (unsigned)digits), len = n;
            memmove(s + len - digits + at + 1, s + len - digits + at, (size_t)(digits - at));
            s[len - digits + at] = '.';
            n++;
        }
        snprintf(s + n, sizeof s - (size_t)n, "e%d", (int)(next_bits(&r) % 700) - 350);
        agrees(s);
    }
}

/* the decimal halfway between two neighbouring doubles, and next to it */
static void test_midpoints(void)
{
    rng r = {4242};
    shown = 0;
    for (long i = 0; i < 300000; i++) {
        uint64_t m = next_bits(&r) >> 11 | (uint64_t)1 << 52;
        double v = ldexp((double)m, (int)(next_bits(&r) % 160) - 80);
        long double mid = ((long double)v + (long double)nextafter(v, INFINITY)) / 2;
        char s[48];
        snprintf(s, sizeof s, "%.19Lg", mid);
        agrees(s);
        snprintf(s, sizeof s, "%.18Lg", mid);
        agrees(s);
    }
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_edges),
        TEST(test_printed_doubles),
        TEST(test_random_digit_strings),
        TEST(test_midpoints),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
