/* SIEVE (Zhang et al., NSDI '24). One FIFO list, new pages at the head, a
 * visited bit per frame (its policy word) and a hand that remembers where
 * the last eviction stopped. A released page new to the list enters at the
 * head unvisited; a page released again is marked visited and does not
 * move. To evict, the hand walks from where it stopped towards the head
 * (from the tail the first time and after reaching the head): a visited
 * frame is cleared and passed, an unvisited one is the victim, and the hand
 * stays on the frame after it. Unlike CLOCK nothing moves on a hit or a
 * pass, so new pages that are never reused leave quickly while the pages
 * behind the hand keep their place. Pinned frames are passed over.
 *
 * The hand is a frame handle in a global. When its frame has gone (evicted
 * by the pool's fallback, discarded by SQLite) the handle is stale, the
 * scan says so and the hand starts again at the tail.
 *
 * Behaviour, exactly (tests/test_pcache_policies.c replays it against a
 * model): the above, examining at most MAX_STEPS frames per eviction,
 * after which the frame under the hand goes whatever its bit (a bound
 * reached only when more than MAX_STEPS frames in a row are visited). */
#include "pcache_policy.h"

#define QUEUE 0

static u64 hand; /* next frame to examine; 0: the tail */

SEC("hook/page_unpin")
long sieve_unpin(struct pl_page_unpin_ctx *ctx)
{
    return place_or_reference(ctx, QUEUE);
}

/* Names frame as the victim and leaves the hand on the frame after it
 * (towards the head), or at the tail if it was the head. */
static __always_inline void evict_at(u64 frame)
{
    struct pl_page_info next;
    pl_page_evict_mark(frame);
    hand = pl_page_list_scan(QUEUE, PL_SCAN_SKIP_PINNED | PL_SCAN_AFTER, frame, &next, sizeof(next)) == 1
               ? next.frame
               : 0;
}

/* The frame at (or, with PL_SCAN_AFTER, after) at, wrapping to the tail
 * past the head or when at's frame has gone. */
static __always_inline bool at_hand(u64 at, u32 flags, struct pl_page_info *t)
{
    return pl_page_list_scan(QUEUE, flags, at, t, sizeof(*t)) == 1 || (at && list_tail(QUEUE, t));
}

SEC("hook/page_evict")
long sieve_evict(struct pl_page_evict_ctx *ctx)
{
    struct pl_page_info t;
    u64 at = hand;
    u32 flags = PL_SCAN_SKIP_PINNED; /* at the hand, then after each frame passed */
    (void)ctx;
    for (int step = 0; step < MAX_STEPS; step++) {
        if (!at_hand(at, flags, &t))
            return 0; /* nothing unpinned on the list: the pool's own LRU decides */
        if (!t.data) {
            evict_at(t.frame);
            return 0;
        }
        pl_page_set_data(t.frame, 0);
        at = t.frame;
        flags = PL_SCAN_SKIP_PINNED | PL_SCAN_AFTER;
    }
    if (at_hand(at, flags, &t))
        evict_at(t.frame);
    return 0;
}
