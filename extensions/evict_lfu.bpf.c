/* page_evict: least frequently used among the LRU tail ("tail-LFU").
 * Of the PL_EVICT_CANDIDATES least recently released pages, evicts the one
 * fetched fewest times since it was loaded; ties go to the least recently
 * released. A page read once by a scan (count 1) is evicted before an
 * older hot page (count > 1), so a scan no longer flushes the hot set the
 * way it does under LRU, while a page that stays cold long enough still
 * leaves: only the 16 oldest are ever considered, so no page lingers on
 * an old count forever.
 *
 * Behaviour, exactly (tests/test_pcache.c replays it against a model):
 * victim = argmin over cand[0..ncand) of (access_count, last_access). */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

SEC("hook/page_evict")
long evict_lfu(struct pl_page_evict_ctx *ctx)
{
    u32 n = ctx->ncand, best = 0;
    u32 fewest = ~0u;
    u64 oldest = ~0ull;
    for (u32 i = 0; i < PL_EVICT_CANDIDATES; i++) {
        if (i >= n)
            break;
        u32 count = ctx->cand[i].access_count;
        u64 last = ctx->cand[i].last_access;
        if (count < fewest || (count == fewest && last < oldest)) {
            fewest = count;
            oldest = last;
            best = i;
        }
    }
    return best;
}
