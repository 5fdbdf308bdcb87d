/* Default authorize: allow whatever the server's built-in rules allowed. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/authorize")
long authorize_default(struct pl_authorize_ctx *ctx)
{
    (void)ctx;
    return PL_AUTH_ALLOW;
}
