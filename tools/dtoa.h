/* The shortest decimal spelling of a double that reads back exactly
   (tools/dtoa.c). */
#ifndef NLSQ_TOOLS_DTOA_H
#define NLSQ_TOOLS_DTOA_H

/* Room for any spelling and its NUL ("-2.2250738585072014e-308" is 24). */
enum { DTOA_SIZE = 32 };

/* Writes v into buf (DTOA_SIZE bytes) as the fewest significant digits
   that strtod reads back as v bit for bit (of those, the nearest to v;
   ties to the even digit), laid out as printf's "%.17g" lays out digits:
   fixed from 1e-4 up to below 1e17, else d.ddde+XX; -0 as "-0"; "inf",
   "-inf", "nan", "-nan" as glibc spells them. Returns the length. */
int dtoa_shortest(double v, char *buf);

#endif
