/* Demo policy: evict the least frequently used unpinned candidate (ties:
 * least recently used). Scan-resistant where LRU is not. Shares map
 * "decisions" with demo_evict_lru so a reload keeps the count. */
#include <pliant_bpf.h>
#include <pliant_demo.h>

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} decisions SEC(".maps");

SEC("hook/demo_evict")
long evict_lfu(struct demo_evict_ctx *ctx)
{
    u32 n = ctx->ncand, best = 0, zero = 0;
    u32 fewest = ~0u;
    u64 oldest = ~0ull;
    for (u32 i = 0; i < DEMO_CANDIDATES; i++) {
        if (i >= n)
            break;
        struct demo_candidate *c = &ctx->cand[i];
        if (c->pinned)
            continue;
        if (c->hits < fewest || (c->hits == fewest && c->last_access < oldest)) {
            fewest = c->hits;
            oldest = c->last_access;
            best = i;
        }
    }
    u64 *count = bpf_map_lookup_elem(&decisions, &zero);
    if (count)
        *count += 1;
    return best;
}
