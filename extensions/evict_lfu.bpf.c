/* page_evict: least frequently used among the LRU tail ("tail-LFU").
 * Of the WINDOW least recently released pages, evicts the one fetched
 * fewest times since it was loaded; ties go to the least recently
 * released. A page read once by a scan (count 1) is evicted before an
 * older hot page (count > 1), so a scan no longer flushes the hot set the
 * way it does under LRU, while a page that stays cold long enough still
 * leaves: only the WINDOW oldest are ever considered, so no page lingers
 * on an old count forever. Needs no other hook: the pool's own list and
 * access counts are all it reads.
 *
 * Behaviour, exactly (tests/test_pcache_policies.c replays it against a
 * model): victim = argmin over the WINDOW oldest of (access_count,
 * last_access). */
#define WINDOW 16
#include "pcache_policy.h"

SEC("hook/page_evict")
long evict_lfu(struct pl_page_evict_ctx *ctx)
{
    struct window *w;
    long n = scan_window(PL_LIST_POOL, &w);
    u64 best = 0, oldest = ~0ull;
    u32 fewest = ~0u;
    (void)ctx;
    for (int i = 0; i < WINDOW && i < n && w; i++) {
        const struct pl_page_info *f = &w->f[i];
        if (f->access_count < fewest || (f->access_count == fewest && f->last_access < oldest)) {
            fewest = f->access_count;
            oldest = f->last_access;
            best = f->frame;
        }
    }
    if (best)
        pl_page_evict_mark(best);
    return 0;
}
