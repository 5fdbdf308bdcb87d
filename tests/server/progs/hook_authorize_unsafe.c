/* Unsafe for hook authorize: reads 8 bytes past the end of its context.
 * pliantd --attach must refuse to start with the verifier's message. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/authorize")
long authorize_past_the_end(struct pl_authorize_ctx *ctx)
{
    const u64 *after = (const u64 *)(ctx + 1);
    return *after == 0 ? 0 : 1;
}
