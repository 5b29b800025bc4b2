#!/usr/bin/env python3
"""Writes tools/dtoa_table.h: the powers of ten of the shortest formatter
(tools/dtoa.c), exactly, with Python's integers.

For every decimal exponent e in [-292, 324] (e = -k, where 10^k is the
scale of a double's rounding interval), g = floor(10^e / 2^r) + 1 with
r = floor(log2(10^e)) - 125, so that 2^125 < g <= 2^126: a 126-bit
upper approximation of 10^e, stored as its upper and lower 63 bits
(Giulietti, "The Schubfach way to render doubles", 2020, section 10).

    python3 tools/dtoa_table.py > tools/dtoa_table.h
"""
from fractions import Fraction

E_MIN, E_MAX = -292, 324


def floor_log2_pow10(e):
    """floor(log2(10^e)), exactly."""
    v = Fraction(10) ** e
    k = v.numerator.bit_length() - v.denominator.bit_length()
    while Fraction(2) ** (k + 1) <= v:
        k += 1
    while Fraction(2) ** k > v:
        k -= 1
    return k


def main():
    print("/* Made by tools/dtoa_table.py (do not edit): g(e) = floor(10^e / 2^r) + 1,")
    print("   r = floor(log2(10^e)) - 125, as its upper and lower 63 bits, for")
    print("   e = %d .. %d. */" % (E_MIN, E_MAX))
    print("enum { DTOA_E_MIN = %d, DTOA_E_MAX = %d };" % (E_MIN, E_MAX))
    print("static const uint64_t dtoa_g[%d][2] = {" % (E_MAX - E_MIN + 1))
    mask = (1 << 63) - 1
    for e in range(E_MIN, E_MAX + 1):
        r = floor_log2_pow10(e) - 125
        v = Fraction(10) ** e / Fraction(2) ** r
        g = v.numerator // v.denominator + 1
        assert (1 << 125) < g <= (1 << 126), e
        print("    {0x%016xu, 0x%016xu}, /* %4d */" % (g >> 63, g & mask, e))
    print("};")


if __name__ == "__main__":
    main()
