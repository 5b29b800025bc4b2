/* Hashes for cache keys and file checksums. Not cryptographic: they guard
   against accidents, and the private cache directory against others. */
#include <stdio.h>
#include <string.h>

#include "core.h"

#define FNV_PRIME 0x100000001b3ULL

uint64_t hash_fnv64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

hash128 hash128_start(void)
{
    return (hash128){HASH_FNV_SEED, 0x84222325cbf29ce4ULL};
}

void hash128_bytes(hash128 *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ p[i]) * FNV_PRIME;
        h->b = (h->b ^ p[i]) * FNV_PRIME + 0x9e3779b97f4a7c15ULL;
    }
}

void hash128_str(hash128 *h, const char *s)
{
    hash128_bytes(h, s, strlen(s) + 1);
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void hash128_hex(const hash128 *h, char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)mix64(h->a), (unsigned long long)mix64(h->b ^ h->a));
}
