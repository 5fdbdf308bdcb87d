/* CLOCK (second chance). The frames form a ring, kept as one list whose
 * tail is under the clock hand; each frame has a reference bit (its policy
 * word). A released page that is new to the ring enters at the head, just
 * behind the hand, with its bit clear; a page released again sets its bit.
 * To evict, the hand looks at the tail: a set bit is cleared and the frame
 * goes round again (to the head), a clear bit makes the victim. Pinned
 * frames are passed over and keep their place.
 *
 * Behaviour, exactly (tests/test_pcache_policies.c replays it against a
 * model): the above, examining at most MAX_STEPS frames per eviction,
 * after which the frame under the hand goes whatever its bit (so in a
 * ring where more than MAX_STEPS frames in a row are referenced, the hand
 * gives fewer than one full second chance). */
#include "pcache_policy.h"

#define RING 0

SEC("hook/page_unpin")
long clock_unpin(struct pl_page_unpin_ctx *ctx)
{
    return place_or_reference(ctx, RING);
}

SEC("hook/page_evict")
long clock_evict(struct pl_page_evict_ctx *ctx)
{
    struct pl_page_info t;
    (void)ctx;
    for (int step = 0; step < MAX_STEPS; step++) {
        if (!list_tail(RING, &t))
            return 0; /* nothing unpinned on the ring: the pool's own LRU decides */
        if (!t.data) {
            pl_page_evict_mark(t.frame);
            return 0;
        }
        pl_page_set_data(t.frame, 0);
        pl_page_list_add_head(t.frame, RING);
    }
    if (list_tail(RING, &t))
        pl_page_evict_mark(t.frame);
    return 0;
}
