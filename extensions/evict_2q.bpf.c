/* 2Q, full version (Johnson and Shasha, VLDB '94). A page seen once waits
 * in A1in, a FIFO of at most Kin = 25% of the frames; when A1in is over
 * its share, its tail is evicted and the page's identity remembered in
 * A1out, a FIFO ghost list of Kout = 50% of the frames. A page that comes
 * back while remembered in A1out has shown it is reused at a distance, and
 * enters Am, an LRU list, which otherwise loses its tail. Re-references
 * while in A1in are taken as correlated (one scan touching a page twice)
 * and change nothing. A scan therefore flows through A1in without
 * displacing Am.
 *
 * Events: a miss asks A1out before the pool reclaims a frame for it (the
 * paper's order: reclaiming may push out the oldest A1out entry) and
 * notes the answer for the page's first release, which places it (Am if
 * A1out remembered it, else A1in); later releases move an Am page to Am's
 * head. As in the paper, a page keeps its A1out entry when it enters Am.
 *
 * Behaviour, exactly (tests/test_pcache_policies.c replays it against a
 * model): reclaim takes the tail of A1in when |A1in| > Kin, else the tail
 * of Am; pinned frames are passed over, and the other list is used when
 * the chosen one has no unpinned frame. */
#include "pcache_ghost.h"
#include "pcache_policy.h"

#define A1IN 0
#define AM 1

/* page key -> 1 if A1out remembered the page when it missed, else 0 */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, u64);
    __type(value, u8);
    __uint(max_entries, 1024); /* pages between their miss and first release */
} returning SEC(".maps");

SEC("hook/page_fetch")
long twoq_fetch(struct pl_page_fetch_ctx *ctx)
{
    if (!ctx->hit) {
        u64 key = page_key(ctx->cache_id, ctx->pgno);
        u8 back = ghost_contains(key);
        bpf_map_update_elem(&returning, &key, &back, BPF_ANY);
    }
    return PL_FETCH_ADMIT;
}

SEC("hook/page_unpin")
long twoq_unpin(struct pl_page_unpin_ctx *ctx)
{
    if (ctx->list == AM) {
        pl_page_list_add_head(ctx->frame, AM);
    } else if (ctx->list != A1IN) {
        u64 key = page_key(ctx->cache_id, ctx->pgno);
        u8 *back = bpf_map_lookup_elem(&returning, &key);
        pl_page_list_add_head(ctx->frame, back && *back ? AM : A1IN);
    }
    return PL_UNPIN_KEEP;
}

SEC("hook/page_evict")
long twoq_evict(struct pl_page_evict_ctx *ctx)
{
    u32 kin = ctx->frames / 4, kout = ctx->frames / 2;
    u32 first = ctx->list_len[A1IN] > kin ? A1IN : AM;
    struct pl_page_info t;
    if (!list_tail(first, &t) && !list_tail(first = first == A1IN ? AM : A1IN, &t))
        return 0; /* neither list has an unpinned frame: the pool's own LRU decides */
    if (pl_page_evict_mark(t.frame) == 0 && first == A1IN)
        ghost_push(page_key(t.cache_id, t.pgno), kout);
    return 0;
}
