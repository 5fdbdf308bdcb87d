/* page_evict default: least recently used. Evicts the tail of the pool's
 * own list (released longest ago), which is exactly the built-in choice:
 * attached or not, the same trace gives the same hits, misses and victims
 * (tests/test_pcache_hooks.c checks it). */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

SEC("hook/page_evict")
long evict_lru(struct pl_page_evict_ctx *ctx)
{
    struct pl_page_info oldest[1];
    (void)ctx;
    if (pl_page_list_scan(PL_LIST_POOL, 0, 0, oldest, sizeof(oldest)) == 1)
        pl_page_evict_mark(oldest[0].frame);
    return 0;
}
