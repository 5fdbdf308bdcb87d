/* Demo of an unsafe policy: it trusts ncand and reads past the 16
 * candidates of the context when ncand is larger. The verifier rejects it
 * at load time, naming the source line; it never runs. */
#include <pliant_bpf.h>
#include <pliant_demo.h>

SEC("hook/demo_evict")
long evict_unchecked(struct demo_evict_ctx *ctx)
{
    u32 n = ctx->ncand;
    return ctx->cand[n].hits == 0 ? 0 : 1;
}
