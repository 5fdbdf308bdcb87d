/* Demo of an unsafe policy: it steps one candidate past the end of the
 * array the host provides, reading memory beyond the context. The verifier
 * rejects it at load time, naming the source line; it never runs. */
#include <pliant_bpf.h>
#include <pliant_demo.h>

SEC("hook/demo_evict")
long evict_past_the_end(struct demo_evict_ctx *ctx)
{
    const struct demo_candidate *extra = &ctx->cand[DEMO_CANDIDATES - 1] + 1;
    return extra->hits == 0 ? 0 : 1;
}
