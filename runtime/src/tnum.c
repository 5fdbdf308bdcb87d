/* Known-bits arithmetic for the verifier (see tnum.h). */
#include "tnum.h"

struct tnum tnum_range(uint64_t min, uint64_t max)
{
    uint64_t diff = min ^ max;
    if (!diff)
        return tnum_const(min);
    /* Every bit at or below the highest differing bit may vary. */
    unsigned bits = 64 - (unsigned)__builtin_clzll(diff);
    uint64_t mask = bits >= 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    return (struct tnum){min & ~mask, mask};
}

struct tnum tnum_add(struct tnum a, struct tnum b)
{
    uint64_t sm = a.mask + b.mask;
    uint64_t sv = a.value + b.value;
    uint64_t sigma = sm + sv;
    /* Bits where a carry may or may not propagate are unknown. */
    uint64_t chi = sigma ^ sv;
    uint64_t mu = chi | a.mask | b.mask;
    return (struct tnum){sv & ~mu, mu};
}

struct tnum tnum_sub(struct tnum a, struct tnum b)
{
    uint64_t dv = a.value - b.value;
    uint64_t alpha = dv + a.mask;
    uint64_t beta = dv - b.mask;
    uint64_t chi = alpha ^ beta;
    uint64_t mu = chi | a.mask | b.mask;
    return (struct tnum){dv & ~mu, mu};
}

struct tnum tnum_and(struct tnum a, struct tnum b)
{
    uint64_t alpha = a.value | a.mask, beta = b.value | b.mask;
    uint64_t v = a.value & b.value;
    return (struct tnum){v, alpha & beta & ~v};
}

struct tnum tnum_or(struct tnum a, struct tnum b)
{
    uint64_t v = a.value | b.value;
    uint64_t mu = a.mask | b.mask;
    return (struct tnum){v, mu & ~v};
}

struct tnum tnum_xor(struct tnum a, struct tnum b)
{
    uint64_t v = a.value ^ b.value;
    uint64_t mu = a.mask | b.mask;
    return (struct tnum){v & ~mu, mu};
}

/* Shift-and-add multiplication over the bits of a: each set or unknown bit
 * of a contributes b (known or unknown) shifted into place. */
struct tnum tnum_mul(struct tnum a, struct tnum b)
{
    /* Common with loaded values: nothing known but low zero bits, which the
     * product keeps (their counts add). */
    if (a.mask == UINT64_MAX || b.mask == UINT64_MAX) {
        uint64_t az = a.value | a.mask, bz = b.value | b.mask;
        if (!az || !bz)
            return tnum_const(0);
        unsigned zeros = (unsigned)__builtin_ctzll(az) + (unsigned)__builtin_ctzll(bz);
        return zeros >= 64 ? tnum_const(0) : (struct tnum){0, UINT64_MAX << zeros};
    }
    struct tnum acc_v = tnum_const(a.value * b.value);
    struct tnum acc_m = tnum_const(0);
    while (a.value || a.mask) {
        if (a.value & 1)
            acc_m = tnum_add(acc_m, (struct tnum){0, b.mask});
        else if (a.mask & 1)
            acc_m = tnum_add(acc_m, (struct tnum){0, b.value | b.mask});
        a = tnum_rshift(a, 1);
        b = tnum_lshift(b, 1);
    }
    return tnum_add(acc_v, acc_m);
}

struct tnum tnum_lshift(struct tnum a, unsigned shift)
{
    if (shift >= 64)
        return tnum_const(0);
    return (struct tnum){a.value << shift, a.mask << shift};
}

struct tnum tnum_rshift(struct tnum a, unsigned shift)
{
    if (shift >= 64)
        return tnum_const(0);
    return (struct tnum){a.value >> shift, a.mask >> shift};
}

struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned width)
{
    if (width == 32)
        return (struct tnum){(uint32_t)((int32_t)(uint32_t)a.value >> shift),
                             (uint32_t)((int32_t)(uint32_t)a.mask >> shift)};
    return (struct tnum){(uint64_t)((int64_t)a.value >> shift), (uint64_t)((int64_t)a.mask >> shift)};
}

struct tnum tnum_intersect(struct tnum a, struct tnum b)
{
    uint64_t v = a.value | b.value;
    uint64_t mu = a.mask & b.mask;
    return (struct tnum){v & ~mu, mu};
}

struct tnum tnum_union(struct tnum a, struct tnum b)
{
    uint64_t mu = a.mask | b.mask | (a.value ^ b.value);
    return (struct tnum){a.value & ~mu, mu};
}

struct tnum tnum_cast(struct tnum a, unsigned bytes)
{
    if (bytes >= 8)
        return a;
    uint64_t keep = ((uint64_t)1 << (bytes * 8)) - 1;
    return (struct tnum){a.value & keep, a.mask & keep};
}

bool tnum_contains(struct tnum a, struct tnum b)
{
    /* Every bit unknown in b is unknown in a, and the bits a knows agree. */
    return !(b.mask & ~a.mask) && !((a.value ^ b.value) & ~a.mask);
}

bool tnum_is_aligned(struct tnum a, uint64_t size)
{
    if (!size)
        return true;
    return ((a.value | a.mask) & (size - 1)) == 0;
}
