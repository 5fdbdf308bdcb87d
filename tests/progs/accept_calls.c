/* Accept corpus: local calls two levels deep, stack pointers passed to
 * callees, callees returning scalars. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

/* Fills out[0..3] from the context (writes through a caller's pointer);
 * returns how many of them to use. (A constant or void return would let
 * clang drop r0 altogether: see accept_void_call.c.) */
static __noinline int gather(const struct accept_ctx *ctx, u64 *out)
{
    for (int i = 0; i < 4; i++)
        out[i] = ctx->vals[i];
    return ctx->n < 4 ? (int)ctx->n : 4;
}

static __noinline u64 weigh(u64 x, u64 w)
{
    return x * w + 1;
}

/* Reads the caller's buffer and calls a second level. */
static __noinline u64 score(const u64 *buf, int n)
{
    u64 s = 0;
    for (int i = 0; i < 4; i++)
        if (i < n)
            s += weigh(buf[i], (u64)i + 1);
    return s;
}

SEC("accept/calls")
u64 calls(struct accept_ctx *ctx)
{
    u64 buf[4];
    int n = gather(ctx, buf);
    return score(buf, n);
}
