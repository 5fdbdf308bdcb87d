/* Demo policy: evict the least recently used unpinned candidate. Counts
 * its decisions in map "decisions" (kept across policy reloads). */
#include <pliant_bpf.h>
#include <pliant_demo.h>

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} decisions SEC(".maps");

SEC("hook/demo_evict")
long evict_lru(struct demo_evict_ctx *ctx)
{
    u32 n = ctx->ncand, best = 0, zero = 0;
    u64 oldest = ~0ull;
    for (u32 i = 0; i < DEMO_CANDIDATES; i++) {
        if (i >= n)
            break;
        if (!ctx->cand[i].pinned && ctx->cand[i].last_access < oldest) {
            oldest = ctx->cand[i].last_access;
            best = i;
        }
    }
    u64 *count = bpf_map_lookup_elem(&decisions, &zero);
    if (count)
        *count += 1;
    return best;
}
