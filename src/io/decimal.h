/* A plain decimal field read fast, to the bits strtod gives (decimal.c). */
#ifndef NLSQ_IO_DECIMAL_H
#define NLSQ_IO_DECIMAL_H

/* s, a whole NUL-terminated field, when it is [+-]DIGITS[.DIGITS][e[+-]DIGITS]
   (or [+-].DIGITS...) of at most 19 significant digits whose value is zero
   or a normal double: *v correctly rounded, as strtod rounds it, and 1.
   Otherwise 0 and *v untouched: the caller asks strtod (hexadecimal, inf,
   nan, longer digit strings, subnormals, overflow, text that is not a
   number). */
int decimal_parse(const char *s, double *v);

#endif
