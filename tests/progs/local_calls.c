/* bpf-to-bpf calls: static noinline functions two levels deep, a global
 * function in .text, and a helper call from inside a subprogram. */
#include <pliant_bpf.h>

static __noinline u64 square(u64 x)
{
    return x * x;
}

static __noinline u64 sum_squares(u64 a, u64 b)
{
    return square(a) + square(b);
}

__noinline u64 add3(u64 a, u64 b, u64 c)
{
    return a + b + c;
}

static __noinline u64 random_bit(void)
{
    return bpf_get_prandom_u32() & 0;
}

SEC("test/calls")
u64 calls(void *ctx)
{
    /* 3^2 + 4^2 = 25; 25 + 5 + 6 = 36 */
    return add3(sum_squares(3, 4), 5, 6) + random_bit();
}

SEC("test/calls_again")
u64 calls_again(void *ctx)
{
    return square(9);
}
