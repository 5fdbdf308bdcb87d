/* Version 2: same "state" map (inherited on reload), new logic, a new map
 * and an incompatible redefinition of "scratch" (which must start fresh). */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} state SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, u32);
    __type(value, u32);
    __uint(max_entries, 8);
} added SEC(".maps");

u64 version = 2;

SEC("test/state")
long step(void *ctx)
{
    u32 k = 0, one = 1;
    u64 *v = bpf_map_lookup_elem(&state, &k);
    if (!v)
        return -1;
    *v += 10;
    bpf_map_update_elem(&added, &k, &one, BPF_ANY);
    return (long)(*v + version * 1000);
}
