/* page_evict default: least recently used. Evicts the candidate released
 * longest ago, which is exactly the pool's built-in choice (the tail of its
 * LRU list): attached or not, the same trace gives the same hits, misses
 * and victims (tests/test_pcache.c checks it). */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

SEC("hook/page_evict")
long evict_lru(struct pl_page_evict_ctx *ctx)
{
    u32 n = ctx->ncand, best = 0;
    u64 oldest = ~0ull;
    for (u32 i = 0; i < PL_EVICT_CANDIDATES; i++) {
        if (i >= n)
            break;
        if (ctx->cand[i].last_access < oldest) {
            oldest = ctx->cand[i].last_access;
            best = i;
        }
    }
    return best;
}
