/* Default admit: accept every statement, as the built-in. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/admit")
long admit_default(struct pl_admit_ctx *ctx)
{
    (void)ctx;
    return PL_ADMIT_ACCEPT;
}
