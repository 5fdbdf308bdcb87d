/* Latency histogram: each successful statement's server-measured run time
 * lands in a log2 bucket (bucket b counts times in [2^b, 2^(b+1)) ns) of a
 * per-thread array; a reader sums the threads' slots. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

#define BUCKETS 64

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, BUCKETS);
} latency_log2_ns SEC(".maps");

SEC("hook/query_end")
long query_end_latency_hist(struct pl_query_end_ctx *ctx)
{
    if (ctx->status != PL_QUERY_OK)
        return 0;
    u64 ns = ctx->elapsed_ns;
    u32 b = 0;
    /* Binary search for the top set bit: 6 steps, no loop. */
    if (ns >> 32) { b += 32; ns >>= 32; }
    if (ns >> 16) { b += 16; ns >>= 16; }
    if (ns >> 8) { b += 8; ns >>= 8; }
    if (ns >> 4) { b += 4; ns >>= 4; }
    if (ns >> 2) { b += 2; ns >>= 2; }
    if (ns >> 1) { b += 1; }
    u64 *n = bpf_map_lookup_elem(&latency_log2_ns, &b);
    if (n)
        *n += 1;
    return 0;
}
