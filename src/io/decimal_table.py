#!/usr/bin/env python3
"""Writes src/io/decimal_table.h: the powers of five of the decimal reader
(src/io/decimal.c), exactly, with Python's integers.

For every decimal exponent q in [-342, 308]: L = floor(log2(5^q)) and
T = floor(5^q * 2^(127 - L)), so that 2^127 <= T < 2^128 (exact for
0 <= q <= 55, a truncation otherwise), stored as its upper and lower 64
bits (the method of D. Lemire, "Number parsing at a gigabyte per second",
2021).

    python3 src/io/decimal_table.py > src/io/decimal_table.h
"""
from fractions import Fraction

Q_MIN, Q_MAX = -342, 308


def floor_log2(v):
    k = v.numerator.bit_length() - v.denominator.bit_length()
    while Fraction(2) ** (k + 1) <= v:
        k += 1
    while Fraction(2) ** k > v:
        k -= 1
    return k


def main():
    print("/* Made by src/io/decimal_table.py (do not edit): for q = %d .. %d," % (Q_MIN, Q_MAX))
    print("   T = floor(5^q 2^(127 - L)) as its upper and lower 64 bits and")
    print("   L = floor(log2(5^q)). */")
    print("enum { DECIMAL_Q_MIN = %d, DECIMAL_Q_MAX = %d };" % (Q_MIN, Q_MAX))
    rows, logs = [], []
    for q in range(Q_MIN, Q_MAX + 1):
        v = Fraction(5) ** q
        L = floor_log2(v)
        t = v * Fraction(2) ** (127 - L)
        T = t.numerator // t.denominator
        assert (1 << 127) <= T < (1 << 128), q
        rows.append("    {0x%016xu, 0x%016xu}, /* %4d */" % (T >> 64, T & ((1 << 64) - 1), q))
        logs.append(L)
    print("static const uint64_t decimal_pow5[%d][2] = {" % len(rows))
    print("\n".join(rows))
    print("};")
    print("static const int16_t decimal_log2_pow5[%d] = {" % len(logs))
    for i in range(0, len(logs), 12):
        print("    " + ", ".join("%d" % L for L in logs[i:i + 12]) + ",")
    print("};")


if __name__ == "__main__":
    main()
