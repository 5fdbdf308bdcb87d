/* page_fetch admission for tests/test_pcache_hooks.c: pages from 1000 up
 * (the reference trace's scans) are used once and not cached, pages 900 to
 * 999 are declined; every call is tallied in `seen`. */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

enum { HITS, MISSES, PINNED_HITS, LAST_COUNT, LAST_CREATE, SEEN_N };

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, SEEN_N);
} seen SEC(".maps");

static __always_inline void tally(u32 k, u64 v, bool add)
{
    u64 *p = bpf_map_lookup_elem(&seen, &k);
    if (p)
        *p = add ? *p + v : v;
}

SEC("hook/page_fetch")
long admission(struct pl_page_fetch_ctx *ctx)
{
    tally(LAST_CREATE, ctx->create, false);
    if (ctx->hit) {
        tally(HITS, 1, true);
        tally(PINNED_HITS, ctx->pinned, true);
        tally(LAST_COUNT, ctx->access_count, false);
        return PL_FETCH_ADMIT;
    }
    tally(MISSES, 1, true);
    if (ctx->pgno >= 1000)
        return PL_FETCH_BYPASS;
    return ctx->pgno >= 900 ? PL_FETCH_DECLINE : PL_FETCH_ADMIT;
}
