/* page_evict for tests/test_pcache_hooks.c: names the handles the test
 * put in `targets` (until one is ~0) and records what each helper answered
 * for each, in `rcs` (RC_PER per target): mark, move to list 0, set the
 * word, scan from it. Then the helpers' argument checks, in `rcs` after the
 * targets. Runs once per arming (`armed` = 1). */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

#define TARGETS 12
#define RC_PER 4
#define CHECKS 4

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, TARGETS);
} targets SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, s64);
    __uint(max_entries, TARGETS * RC_PER + CHECKS);
} rcs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} armed SEC(".maps");

static __always_inline void record(u32 slot, s64 rc)
{
    s64 *p = bpf_map_lookup_elem(&rcs, &slot);
    if (p)
        *p = rc;
}

SEC("hook/page_evict")
long victims(struct pl_page_evict_ctx *ctx)
{
    u32 zero = 0;
    u64 *on = bpf_map_lookup_elem(&armed, &zero);
    if (!on || !*on)
        return 0;
    *on = 0;
    struct pl_page_info info[1];
    for (u32 i = 0; i < TARGETS; i++) {
        u64 *t = bpf_map_lookup_elem(&targets, &i);
        if (!t || *t == ~0ull)
            break;
        u64 frame = *t;
        record(i * RC_PER + 0, pl_page_evict_mark(frame));
        record(i * RC_PER + 1, pl_page_list_move(frame, 0, PL_LIST_TAIL));
        record(i * RC_PER + 2, pl_page_set_data(frame, 7));
        record(i * RC_PER + 3, pl_page_list_scan(0, 0, frame, info, sizeof(info)));
    }
    u64 first = 0;
    u32 k = 0;
    u64 *t = bpf_map_lookup_elem(&targets, &k);
    if (t)
        first = *t;
    record(TARGETS * RC_PER + 0, pl_page_list_move(first, PL_LIST_POOL, PL_LIST_HEAD));
    record(TARGETS * RC_PER + 1, pl_page_list_move(first, PL_PAGE_LISTS + 1, PL_LIST_HEAD));
    record(TARGETS * RC_PER + 2, pl_page_list_scan(0, 64, 0, info, sizeof(info)));
    record(TARGETS * RC_PER + 3, pl_page_list_scan(PL_LIST_POOL, PL_SCAN_FROM_HEAD, 0, info, sizeof(info)));
    return 0;
}
