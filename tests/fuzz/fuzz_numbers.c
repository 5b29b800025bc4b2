/*
 * libFuzzer target over the two fast number conversions, against the C
 * library: the input as text through decimal_parse (src/io/decimal.c, the
 * text reader's fields) must, when it takes the text, give strtod's bits
 * for the whole text; and its first 8 bytes as a double through
 * dtoa_shortest (tools/dtoa.c, nlsq batch's numbers) must read back as
 * the same double, in no more significant digits than "%.17g".
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "io/decimal.h"

static void check_decimal(const uint8_t *data, size_t size)
{
    char text[96];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    double got;
    if (!decimal_parse(text, &got)) return;
    char *end;
    double want = strtod(text, &end);
    if (*end != '\0' || memcmp(&got, &want, sizeof got) != 0) {
        fprintf(stderr, "decimal_parse('%s') = %a, strtod %a (rest '%s')\n", text, got, want, end);
        abort();
    }
}

static void check_dtoa(const uint8_t *data, size_t size)
{
    if (size < 8) return;
    double v;
    memcpy(&v, data, sizeof v);
    char b[DTOA_SIZE];
    int len = dtoa_shortest(v, b);
    double back = strtod(b, NULL);
    int same = isnan(v) ? isnan(back) : memcmp(&back, &v, sizeof v) == 0;
    if (len <= 0 || len >= DTOA_SIZE || (int)strlen(b) != len || !same) {
        fprintf(stderr, "dtoa_shortest(%a) = '%s' (%d), reads back as %a\n", v, b, len, back);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decimal(data, size);
    check_dtoa(data, size);
    return 0;
}
