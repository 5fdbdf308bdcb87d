/* Version 1 of a stateful policy: counts runs in map "state". */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} state SEC(".maps");

u64 version = 1;

SEC("test/state")
long step(void *ctx)
{
    u32 k = 0;
    u64 *v = bpf_map_lookup_elem(&state, &k);
    if (!v)
        return -1;
    *v += 1;
    return (long)(*v + version * 1000);
}
