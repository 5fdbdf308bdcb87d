/* Accept corpus: map lookups with NULL checks (hash, array, per-thread
 * array), lookup-then-update, and updates with stack keys and values. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, u64);
    __type(value, u64);
    __uint(max_entries, 64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 8);
} slots SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} runs SEC(".maps");

struct pair {
    u64 a, b;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct pair);
    __type(value, struct pair);
    __uint(max_entries, 16);
} pairs SEC(".maps");

/* Counts runs per seed: lookup, then update when absent. Returns the count. */
SEC("accept/hash_count")
u64 hash_count(struct accept_ctx *ctx)
{
    u64 key = ctx->seed, one = 1;
    u64 *v = bpf_map_lookup_elem(&counts, &key);
    if (!v) {
        bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
        return 1;
    }
    *v += 1;
    return *v;
}

/* Adds 5 to slot sel when sel is in range; returns the slot's value. */
SEC("accept/array_slot")
u64 array_slot(struct accept_ctx *ctx)
{
    u32 idx = ctx->sel;
    if (idx >= 8)
        return 0;
    u64 *v = bpf_map_lookup_elem(&slots, &idx);
    if (!v)
        return 0;
    __sync_fetch_and_add(v, 5);
    return *v;
}

/* Counts this thread's runs. */
SEC("accept/perthread")
u64 perthread(struct accept_ctx *ctx)
{
    u32 zero = 0;
    u64 *v = bpf_map_lookup_elem(&runs, &zero);
    if (!v)
        return 0;
    *v += 1;
    return *v;
}

/* A struct key and value built on the stack: update, then read back. */
SEC("accept/pair_update")
u64 pair_update(struct accept_ctx *ctx)
{
    struct pair k = {ctx->seed, 7}, val = {ctx->vals[0], ctx->vals[1]};
    if (bpf_map_update_elem(&pairs, &k, &val, BPF_ANY))
        return 0;
    struct pair *got = bpf_map_lookup_elem(&pairs, &k);
    if (!got)
        return 0;
    u64 r = got->a + got->b;
    bpf_map_delete_elem(&pairs, &k);
    return r;
}
