/* S3-FIFO (Yang et al., SOSP '23): three FIFO queues. New pages enter S, a
 * small queue of 10% of the frames; M holds the rest; G remembers the
 * identities of pages evicted from S (as many as M holds). Each frame
 * counts its re-references, up to 3 (its policy word).
 *
 *   release of a page new to S and M: into M if G remembers it, else S
 *   release of a page in S or M:      count + 1, at most 3
 *   evict, S holding >= 10%:          S's tail moves to M's head (count
 *                                     reset) if it was re-referenced more
 *                                     than once, else it is the victim and
 *                                     goes to G; repeat until a victim or
 *                                     S is empty, then go on in M
 *   evict in M:                       a tail with count > 0 goes back to
 *                                     M's head with count - 1, else it is
 *                                     the victim
 *
 * Most pages are used once: they leave from S, early, and only their
 * identity stays (in G) to spot the ones that come back.
 *
 * Behaviour, exactly (tests/test_pcache_policies.c replays it against a
 * model): the above, with pinned frames passed over, and at most MAX_STEPS
 * frames examined per queue and eviction, after which the queue's tail goes
 * (a bound reached only when over MAX_STEPS frames in a row have counts to
 * spend). */
#include "pcache_ghost.h"
#include "pcache_policy.h"

#define S 0
#define M 1
#define MAX_COUNT 3

SEC("hook/page_unpin")
long s3fifo_unpin(struct pl_page_unpin_ctx *ctx)
{
    if (ctx->list == S || ctx->list == M) {
        if (ctx->data < MAX_COUNT)
            pl_page_set_data(ctx->frame, ctx->data + 1);
        return PL_UNPIN_KEEP;
    }
    pl_page_list_add_head(ctx->frame, ghost_contains(page_key(ctx->cache_id, ctx->pgno)) ? M : S);
    pl_page_set_data(ctx->frame, 0);
    return PL_UNPIN_KEEP;
}

/* Evicts from queue's tail. From S a frame counted more than once is
 * promoted to M; from M one with a count to spend goes round again. The
 * first frame with neither is the victim (true, and *v describes it);
 * false when the queue has no unpinned frame left. */
static __always_inline bool phase(u32 queue, struct pl_page_info *v)
{
    for (int step = 0; step < MAX_STEPS; step++) {
        if (!list_tail(queue, v))
            return false;
        if (queue == S ? v->data <= 1 : v->data == 0)
            return pl_page_evict_mark(v->frame) == 0;
        pl_page_set_data(v->frame, queue == S ? 0 : v->data - 1);
        pl_page_list_add_head(v->frame, M);
    }
    return list_tail(queue, v) && pl_page_evict_mark(v->frame) == 0;
}

SEC("hook/page_evict")
long s3fifo_evict(struct pl_page_evict_ctx *ctx)
{
    struct pl_page_info v;
    u32 small = ctx->frames / 10;
    /* When M has nothing unpinned either (a pool full of pinned pages)
     * no victim is named and the pool's own LRU decides. */
    if (ctx->list_len[S] >= small && phase(S, &v))
        ghost_push(page_key(v.cache_id, v.pgno), ctx->frames - small);
    else
        phase(M, &v);
    return 0;
}
