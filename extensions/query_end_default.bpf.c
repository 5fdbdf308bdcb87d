/* Default query_end: the built-in does nothing; this counts finished
 * statements by status (enum pl_query_status) in a per-thread array, the
 * cheapest observation that still touches a map. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 4);
} query_count SEC(".maps");

SEC("hook/query_end")
long query_end_default(struct pl_query_end_ctx *ctx)
{
    u32 k = ctx->status;
    u64 *n = bpf_map_lookup_elem(&query_count, &k);
    if (n)
        *n += 1;
    return 0;
}
