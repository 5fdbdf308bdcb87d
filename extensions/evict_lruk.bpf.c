/* LRU-K with K = 2 (O'Neil, O'Neil and Weikum, SIGMOD '93): evict the page
 * whose second most recent reference is oldest. A page referenced only
 * once has an infinitely old one and goes first, least recently used
 * first; so a scan (each page touched once) cannot push out pages used
 * twice. History outlives residence: the last reference of an evicted page
 * is kept (map `history`), so a page that returns is judged by its
 * earlier reference, not as new.
 *
 * Lists: ONCE holds pages referenced once, MULTI pages referenced twice or
 * more, both in release order (head newest). A frame's policy word holds
 * its second most recent reference (pool clock of the release before the
 * last). Exact LRU-2 needs a priority queue over MULTI; this policy looks
 * at its WINDOW least recently released frames and takes the oldest
 * second reference among them: exact for pages referenced once, and for
 * the rest whenever the oldest second reference is in that window.
 * No correlated-reference period.
 *
 * Behaviour, exactly (tests/test_pcache_policies.c replays it against a
 * model): victim = tail of ONCE if it has an unpinned frame, else argmin
 * of (second reference, last reference) over the WINDOW first unpinned
 * frames of MULTI from its tail. */
#define WINDOW 16
#include "pcache_policy.h"

#define ONCE 0
#define MULTI 1
#define HISTORY_MAX 16384 /* evicted pages remembered (least recently set forgotten first) */

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, u64); /* cache_id << 32 | pgno */
    __type(value, u64); /* pool clock of the page's last reference before eviction */
    __uint(max_entries, HISTORY_MAX);
} history SEC(".maps");

SEC("hook/page_unpin")
long lruk_unpin(struct pl_page_unpin_ctx *ctx)
{
    if (ctx->list == ONCE || ctx->list == MULTI) {
        pl_page_set_data(ctx->frame, ctx->last_access);
        pl_page_list_add_head(ctx->frame, MULTI);
        return PL_UNPIN_KEEP;
    }
    u64 key = (u64)ctx->cache_id << 32 | ctx->pgno;
    u64 *before = bpf_map_lookup_elem(&history, &key);
    if (before) {
        pl_page_set_data(ctx->frame, *before);
        bpf_map_delete_elem(&history, &key);
        pl_page_list_add_head(ctx->frame, MULTI);
    } else {
        pl_page_set_data(ctx->frame, 0);
        pl_page_list_add_head(ctx->frame, ONCE);
    }
    return PL_UNPIN_KEEP;
}

SEC("hook/page_evict")
long lruk_evict(struct pl_page_evict_ctx *ctx)
{
    struct pl_page_info best;
    (void)ctx;
    if (!list_tail(ONCE, &best)) {
        struct window *w;
        long n = scan_window(MULTI, &w);
        if (n <= 0 || !w)
            return 0; /* nothing unpinned: the pool's own LRU decides */
        best = w->f[0];
        for (int i = 1; i < WINDOW && i < n; i++)
            if (w->f[i].data < best.data)
                best = w->f[i];
    }
    if (pl_page_evict_mark(best.frame) == 0) {
        u64 key = (u64)best.cache_id << 32 | best.pgno;
        bpf_map_update_elem(&history, &key, &best.last_access, BPF_ANY);
    }
    return 0;
}
