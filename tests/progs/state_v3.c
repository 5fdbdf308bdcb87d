/* Redefines "state" incompatibly (two entries): it must start empty even
 * when inheriting from a program that has a "state" map. */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 2);
} state SEC(".maps");

SEC("test/state")
long step(void *ctx)
{
    u32 k = 0;
    u64 *v = bpf_map_lookup_elem(&state, &k);
    if (!v)
        return -1;
    *v += 1;
    return (long)*v;
}
