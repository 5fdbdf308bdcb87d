/*
 * Known bits of a 64-bit value ("tristate numbers"): bit i is known to be
 * value.i when mask.i is 0, and unknown when mask.i is 1. Invariant:
 * value & mask == 0. Used by the verifier next to signed/unsigned ranges.
 */
#ifndef PL_TNUM_H
#define PL_TNUM_H

#include <stdbool.h>
#include <stdint.h>

struct tnum {
    uint64_t value;
    uint64_t mask;
};

#define TNUM_UNKNOWN ((struct tnum){0, UINT64_MAX})

static inline struct tnum tnum_const(uint64_t v) { return (struct tnum){v, 0}; }
static inline bool tnum_is_const(struct tnum t) { return t.mask == 0; }
/* The smallest tnum holding every value in [min, max]. */
struct tnum tnum_range(uint64_t min, uint64_t max);
struct tnum tnum_add(struct tnum a, struct tnum b);
struct tnum tnum_sub(struct tnum a, struct tnum b);
struct tnum tnum_and(struct tnum a, struct tnum b);
struct tnum tnum_or(struct tnum a, struct tnum b);
struct tnum tnum_xor(struct tnum a, struct tnum b);
struct tnum tnum_mul(struct tnum a, struct tnum b);
struct tnum tnum_lshift(struct tnum a, unsigned shift);
struct tnum tnum_rshift(struct tnum a, unsigned shift);
struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned width);
/* Values possible in both (caller ensures they are compatible). */
struct tnum tnum_intersect(struct tnum a, struct tnum b);
/* Values possible in either. */
struct tnum tnum_union(struct tnum a, struct tnum b);
/* Keeps the low `bytes` bytes, the rest known zero. */
struct tnum tnum_cast(struct tnum a, unsigned bytes);
/* True when every value b can take, a can take too. */
bool tnum_contains(struct tnum a, struct tnum b);
/* True when every possible value is a multiple of size (a power of two). */
bool tnum_is_aligned(struct tnum a, uint64_t size);

#endif
