/* Demo of a buggy policy that is still safe: it evicts the most recently
 * used candidate and ignores pins. The verifier accepts it (it stays in
 * bounds and returns an index in range), but the host's validator refuses
 * every pinned victim, falls back to its default, and after repeated
 * faults the circuit breaker detaches it. */
#include <pliant_bpf.h>
#include <pliant_demo.h>

SEC("hook/demo_evict")
long evict_mru_ignoring_pins(struct demo_evict_ctx *ctx)
{
    u32 n = ctx->ncand, best = 0;
    u64 newest = 0;
    for (u32 i = 0; i < DEMO_CANDIDATES; i++) {
        if (i >= n)
            break;
        if (ctx->cand[i].last_access >= newest) {
            newest = ctx->cand[i].last_access;
            best = i;
        }
    }
    return best;
}
