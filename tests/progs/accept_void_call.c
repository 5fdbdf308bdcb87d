/* Accept corpus: a void local function. clang leaves r0 unset at its exit;
 * the caller never reads it, so the verifier must accept it. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

static __noinline void gather(const struct accept_ctx *ctx, u64 *out)
{
    for (int i = 0; i < 4; i++)
        out[i] = ctx->vals[i];
}

SEC("accept/void_call")
u64 void_call(struct accept_ctx *ctx)
{
    u64 buf[4];
    gather(ctx, buf);
    return buf[0] + buf[1] + buf[2] + buf[3];
}
