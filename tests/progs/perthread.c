/* A per-thread array: each thread increments its own slot. */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} hits SEC(".maps");

SEC("test/perthread")
int perthread(void *ctx)
{
    u32 k = 0;
    u64 *v = bpf_map_lookup_elem(&hits, &k);
    if (!v)
        return -1;
    *v += 1;
    return (int)*v;
}
