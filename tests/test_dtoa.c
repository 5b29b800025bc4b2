/*
 * The command's shortest round-trip formatter (tools/dtoa.c): every
 * spelling reads back as the same bits, has no more significant digits
 * than the shortest "%.Ng" that reads back, and is "%.17g"'s own spelling
 * when 17 digits are needed; over 10^7 random bit patterns (every
 * exponent), every power of two and of ten with its neighbours, the
 * smallest subnormals, and the special values.
 */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "dtoa.h"

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static uint64_t to_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* significant digits of a spelling: no leading zeros, no trailing zeros
   of the significand ("1200" is two) */
static int significant_digits(const char *s)
{
    int n = 0, zeros = 0, leading = 1;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (*s == '0' && leading) continue;
        leading = 0;
        n++;
        zeros = *s == '0' ? zeros + 1 : 0;
    }
    return n - zeros;
}

/* the fewest digits N for which "%.Ng" reads back as v */
static int shortest_printf(double v)
{
    char b[64];
    for (int p = 1; p < 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, v);
        if (strtod(b, NULL) == v) return p;
    }
    return 17;
}

static long failures_shown;

/* One value: reads back, its length within DTOA_SIZE, and (when `shortest`)
   no longer than printf's shortest; 17 digits spelt as "%.17g" does. */
static void check_value(double v, int shortest)
{
    char b[DTOA_SIZE + 8], ref[64];
    memset(b, 'x', sizeof b);
    int len = dtoa_shortest(v, b);
    int ok = len > 0 && len < DTOA_SIZE && (int)strlen(b) == len;
    double back = strtod(b, NULL);
    ok = ok && (isnan(v) ? isnan(back) && signbit(back) == signbit(v) : to_bits(back) == to_bits(v));
    if (ok && shortest && isfinite(v)) {
        int want = shortest_printf(v), got = v == 0 ? 1 : significant_digits(b);
        ok = got <= want;
        snprintf(ref, sizeof ref, "%.17g", v);
        if (ok && got == 17) ok = strcmp(b, ref) == 0;
    }
    if (!ok && failures_shown++ < 10) CHECK_MSG(0, "%a: spelt '%s' (length %d)", v, b, len);
    if (!ok && failures_shown >= 10) check_failures++;
}

static void test_special_values_are_spelt_as_printf_does(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
        {1.0, "1"},
        {0.1, "0.1"},
        {100, "100"},
        {1e-5, "1e-05"},
        {0.0001, "0.0001"},
        {1e16, "10000000000000000"},
        {1e17, "1e+17"},
        {1e23, "1e+23"},
        {5e-324, "5e-324"},
        {-1.5, "-1.5"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {123456.789, "123456.789"},
        {9007199254740993.0, "9007199254740992"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char b[DTOA_SIZE];
        dtoa_shortest(cases[i].v, b);
        CHECK_MSG(strcmp(b, cases[i].want) == 0, "%a: got '%s', want '%s'", cases[i].v, b, cases[i].want);
    }
    char b[DTOA_SIZE];
    dtoa_shortest(NAN, b);
    CHECK_MSG(strcmp(b, signbit(NAN) ? "-nan" : "nan") == 0, "NAN: '%s'", b);
    dtoa_shortest(-NAN, b);
    CHECK_MSG(strcmp(b, signbit(-NAN) ? "-nan" : "nan") == 0, "-NAN: '%s'", b);
}

static void test_powers_of_two_and_ten_and_neighbours(void)
{
    failures_shown = 0;
    for (int e = -1074; e <= 1023; e++) {
        double v = ldexp(1.0, e);
        for (int s = 0; s < 2; s++, v = -v) {
            check_value(v, 1);
            check_value(nextafter(v, 0), 1);
            check_value(nextafter(v, INFINITY), 1);
        }
    }
    for (int e = -323; e <= 308; e++) {
        char text[16];
        snprintf(text, sizeof text, "1e%d", e);
        double v = strtod(text, NULL);
        check_value(v, 1);
        check_value(nextafter(v, 0), 1);
        check_value(nextafter(v, INFINITY), 1);
    }
}

static void test_smallest_subnormals_and_largest_doubles(void)
{
    failures_shown = 0;
    for (uint64_t c = 1; c < 20000; c++) check_value(from_bits(c), 1);
    for (uint64_t c = 0; c < 20000; c++) check_value(from_bits(0x7fefffffffffffffu - c), 1);
    for (uint64_t c = 0; c < 2000; c++) { /* either side of the smallest normal */
        check_value(from_bits(0x0010000000000000u + c), 1);
        check_value(from_bits(0x0010000000000000u - 1 - c), 1);
    }
}

/* 10^7 random bit patterns read back; one in 100 also against printf's
   shortest (the slow part) */
static void test_random_bit_patterns(void)
{
    failures_shown = 0;
    rng r = {0x9e3779b97f4a7c15ull};
    long count = test_full() ? 100000000 : 10000000;
    for (long i = 0; i < count; i++) {
        rng_uniform(&r);
        uint64_t b = r.s * 2685821657736338717ull;
        if (i % 3 == 1) b = (b & 0x800fffffffffffffu) | (uint64_t)(i % 2047) << 52; /* every exponent alike */
        check_value(from_bits(b), i % 100 == 0);
    }
}

/* short decimals (what fits print) come back as they were typed */
static void test_short_decimals_come_back_as_typed(void)
{
    rng r = {12345};
    for (int i = 0; i < 200000; i++) {
        char text[48], b[DTOA_SIZE];
        int digits = 1 + rng_int(&r, 15), e = rng_int(&r, 40) - 20;
        long long f = 1 + (long long)(rng_uniform(&r) * pow(10, digits));
        while (f % 10 == 0) f /= 10;
        snprintf(text, sizeof text, "%llde%d", f, e);
        double v = strtod(text, NULL);
        dtoa_shortest(v, b);
        char want[40];
        snprintf(want, sizeof want, "%.*g", significant_digits(b), v);
        CHECK_MSG(strtod(b, NULL) == v && significant_digits(b) <= digits, "%s: got '%s'", text, b);
        if (significant_digits(b) <= digits && significant_digits(b) < 17 && (fabs(v) >= 1e17 || fabs(v) < 1e-4))
            CHECK_MSG(strcmp(b, want) == 0, "%s: got '%s', printf '%s'", text, b, want);
    }
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_special_values_are_spelt_as_printf_does), TEST(test_powers_of_two_and_ten_and_neighbours),
        TEST(test_smallest_subnormals_and_largest_doubles), TEST(test_random_bit_patterns),
        TEST(test_short_decimals_come_back_as_typed),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
